"""Outbound Redis end to end: real components (tests/apps/redisprobe) and a real server.

The Emulator and `edge up` start the server themselves, because the app's
`redis_address` is required and nothing sets it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from runtime.testing import Emulator

from ..runtime.outbound.conftest import needs_redis_server
from .edgeup import EdgeUp

pytestmark = pytest.mark.e2e


@pytest.fixture
def probe(emulate: Callable[..., Emulator]) -> Callable[..., Emulator]:
    needs_redis_server()

    def make(**options: Any) -> Emulator:
        return emulate("redisprobe", regions=["us-east"], **options)

    return make


def run(edge: Emulator, *ops: list[Any], path: str = "/run") -> dict[str, Any]:
    response = edge.client("us-east").post(path, json={"ops": [list(op) for op in ops]})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def admin(edge: Emulator) -> redis.Redis:
    assert edge.redis is not None
    return redis.Redis.from_url(edge.redis.address, protocol=2)


def stats(client: redis.Redis) -> tuple[int, int]:
    """(connections ever accepted, clients connected now) as the server counts them."""
    info = client.info()
    return int(info["total_connections_received"]), int(info["connected_clients"])


def test_each_operation(probe: Callable[..., Emulator]) -> None:
    edge = probe()
    client = admin(edge)
    pubsub = client.pubsub()
    pubsub.subscribe("news")
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    body = run(
        edge,
        ["open"],
        ["set", "k", "héllo"],
        ["get", "k"],
        ["get", "missing"],
        ["incr", "n"],
        ["incr", "n"],
        ["sadd", "s", ["a", "b", "a"]],
        ["smembers", "s"],
        ["srem", "s", ["a", "zz"]],
        ["del", ["k", "n", "zz"]],
        ["publish", "news", "hi"],
        ["execute", "HSET", ["h", "f", 1]],
        ["execute", "HGETALL", ["h"]],
        ["execute", "SET", ["x", "1"]],
        ["execute", "INCRBY", ["x", -5]],
        ["execute", "MGET", ["x", "none"]],
    )
    assert "error" not in body
    body["results"][7].sort()  # a set: in no particular order
    assert body["results"] == [
        None,
        None,
        {"bytes": "héllo"},
        None,
        1,
        2,
        2,
        ["a", "b"],
        1,
        2,
        None,
        [1],
        [{"bytes": "f"}, {"bytes": "1"}],
        ["OK"],  # a status reply
        [-4],
        [{"bytes": "-4"}, None],
    ]
    assert pubsub.get_message(timeout=2)["data"] == b"hi"  # published through the real server
    assert client.smembers("s") == {b"b"}
    pubsub.close()
    client.close()


def test_each_operation_is_in_the_event_log(probe: Callable[..., Emulator]) -> None:
    edge = probe()
    assert edge.redis is not None
    port = edge.redis.port
    run(
        edge,
        ["open"],
        ["set", "k", "v"],
        ["publish", "news", "hi"],
        ["execute", "HSET", ["h", "f", 1]],
    )
    run(edge, ["open"], ["sadd", "s", ["a"]], ["incr", "s"])
    run(edge, ["open", f"redis://user:hunter2@localhost:{port}"])
    seen = [
        (e["region"], e["component"], e["op"], e["key"], e["ok"], e.get("error", ""))
        for e in edge.events("outbound.redis")
    ]
    assert seen[:5] == [
        ("us-east", "probe", "set", "k", True, ""),
        ("us-east", "probe", "publish", "news", True, ""),
        ("us-east", "probe", "hset", "h", True, ""),
        ("us-east", "probe", "sadd", "s", True, ""),
        ("us-east", "probe", "incr", "s", False, seen[4][5]),
    ]
    assert seen[4][5].startswith("WRONGTYPE")
    assert seen[5][2:5] == ("open", "", False)
    events = edge.events("outbound.redis")
    assert {e["address"] for e in events[:5]} == {f"127.0.0.1:{port}"}
    assert events[5]["address"] == f"redis://***@localhost:{port}"  # never the password
    assert all(e["ms"] >= 0 for e in events)
    run(edge, ["open"], ["execute", "AUTH", ["hunter2"]])
    auth = edge.events("outbound.redis")[-1]
    assert (auth["op"], auth["key"], auth["ok"]) == ("auth", "", False)
    assert "hunter2" not in json.dumps(edge.events())


def test_a_request_reports_at_most_a_hundred_calls(probe: Callable[..., Emulator]) -> None:
    edge = probe()
    run(edge, ["open"], *(["incr", "n"] for _ in range(130)))
    assert len(edge.events("outbound.redis")) == 100
    assert [e["calls"] for e in edge.events("outbound.skipped")] == [30]


def test_error_replies_are_typed(probe: Callable[..., Emulator]) -> None:
    edge = probe()
    body = run(edge, ["open"], ["sadd", "s", ["a"]], ["incr", "s"])
    assert body["error"]["type"] == "RedisOtherError"
    assert body["error"]["message"].startswith("WRONGTYPE")


def test_denied_addresses_make_no_connection(probe: Callable[..., Emulator]) -> None:
    edge = probe()
    assert edge.redis is not None
    client = admin(edge)
    client.ping()
    before = stats(client)
    port = edge.redis.port
    # The allow-list is "{{ redis_address }}" = redis://127.0.0.1:<port>.
    for address in (f"redis://localhost:{port}", f"redis://127.0.0.1:{port + 1}", "redis://[::1]"):
        body = run(edge, ["open", address])
        assert body["error"]["type"] == "RedisInvalidAddress", address
    # A component with no allowed_outbound_hosts reaches nothing, its own address included.
    body = run(edge, ["open"], path="/locked/run")
    assert body["error"]["type"] == "RedisInvalidAddress"
    assert stats(client) == before  # no connection reached the server
    client.close()


def test_connections_are_closed_with_the_request(probe: Callable[..., Emulator]) -> None:
    edge = probe()
    client = admin(edge)
    client.ping()
    _, connected = stats(client)
    for _ in range(3):
        assert "error" not in run(edge, ["open"], ["open"], ["get", "k"])
    accepted_after, connected_after = stats(client)
    assert connected_after == connected
    client.close()


def test_too_many_connections(probe: Callable[..., Emulator]) -> None:
    edge = probe(redis_max_connections=2)
    body = run(edge, ["open"], ["open"], ["open"])
    assert body["results"] == [None, None]
    assert body["error"]["type"] == "RedisTooManyConnections"
    assert run(edge, ["open"], ["open"], ["incr", "n"])["results"] == [None, None, 1]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_redis_down_is_a_clear_error_and_the_next_request_is_served(
    probe: Callable[..., Emulator],
) -> None:
    address = f"redis://127.0.0.1:{_closed_port()}"
    edge = probe(env={"SPIN_VARIABLE_REDIS_ADDRESS": address})
    assert edge.redis is None  # the app's address is set: no server of edge's own
    body = run(edge, ["open"])
    assert body["error"]["type"] == "RedisOtherError"
    assert "cannot connect to Redis at 127.0.0.1:" in body["error"]["message"]
    assert "Connection refused" in body["error"]["message"]
    assert edge.client("us-east").get("/address").text == address  # still serving


def test_a_hung_redis_times_out_and_frees_the_worker(probe: Callable[..., Emulator]) -> None:
    edge = probe(redis_timeout="500ms")
    assert edge.redis is not None and edge.redis.pid is not None
    run(edge, ["open"], ["set", "k", "v"])
    os.kill(edge.redis.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        body = run(edge, ["open"], ["get", "k"])
        elapsed = time.monotonic() - started
    finally:
        os.kill(edge.redis.pid, signal.SIGCONT)
    assert body["error"]["type"] == "RedisOtherError"  # get's error, not a trap
    assert "did not answer within 0.5 s" in body["error"]["message"]
    assert elapsed < 3
    assert run(edge, ["open"], ["get", "k"])["results"] == [None, {"bytes": "v"}]


def test_redis_going_away_mid_connection(probe: Callable[..., Emulator]) -> None:
    edge = probe()
    assert edge.redis is not None
    run(edge, ["open"], ["set", "k", "v"])
    edge.redis.stop()
    body = run(edge, ["open"])
    assert body["error"]["type"] == "RedisOtherError"
    assert edge.client("us-east").get("/address").status_code == 200


def test_edge_up_starts_and_stops_its_redis(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp]
) -> None:
    needs_redis_server()
    server = EdgeUp(built["redisprobe"], tmp_path / "state", "--workers", "2")
    launched.append(server)
    address = httpx.get(f"{server.url}/address").text
    assert address.startswith("redis://127.0.0.1:")
    ops = {"ops": [["open"], ["incr", "hits"]]}
    counts = [httpx.post(f"{server.url}/run", json=ops).json()["results"][1] for _ in range(4)]
    assert counts == [1, 2, 3, 4]  # both workers reach the same server
    port = int(address.rsplit(":", 1)[1])
    server.stop()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # stopped with edge up
    assert (tmp_path / "state" / "redis" / "dump.rdb").is_file()
