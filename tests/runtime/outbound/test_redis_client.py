"""The host's Redis client against a real server: the allow-list first, then the operations."""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis

from runtime.app.outbound import AllowedHosts
from runtime.outbound import (
    ConnectionLimit,
    EmbeddedRedis,
    RedisConnector,
    RedisInvalidAddress,
    RedisOptions,
    RedisOther,
    RedisTooManyConnections,
    redis_replies,
)


def connector(
    rules: list[str], *, limit: int = 8, timeout: float = 2.0
) -> tuple[RedisConnector, ConnectionLimit]:
    hosts = ConnectionLimit(limit)
    allowed = AllowedHosts.resolve(rules, lambda name: "")
    return RedisConnector(lambda: allowed, hosts, RedisOptions(timeout, limit)), hosts


def connections_received(admin: redis.Redis) -> int:
    return int(admin.info("stats")["total_connections_received"])


def test_each_operation(server: EmbeddedRedis, admin: redis.Redis) -> None:
    conn = connector([server.address])[0].open(server.address)
    conn.set("k", "é".encode())
    assert conn.get("k") == "é".encode()
    assert conn.get("missing") is None
    assert [conn.incr("n"), conn.incr("n")] == [1, 2]
    assert conn.sadd("s", ["a", "b", "a"]) == 2
    assert sorted(conn.smembers("s")) == ["a", "b"]
    assert conn.srem("s", ["a", "zz"]) == 1
    assert conn.delete(["k", "n", "zz"]) == 2
    pubsub = admin.pubsub()
    pubsub.subscribe("news")
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    conn.publish("news", b"hello")
    assert pubsub.get_message(timeout=2)["data"] == b"hello"
    pubsub.close()
    conn.close()


def test_execute_keeps_the_kinds_of_reply(server: EmbeddedRedis) -> None:
    conn = connector([server.address])[0].open(server.address)
    assert conn.execute("SET", [b"x", b"1"]) == ["OK"]  # a status, as str
    assert conn.execute("INCRBY", [b"x", 41]) == [42]
    assert conn.execute("GET", [b"x"]) == [b"42"]  # a bulk string, as bytes
    assert conn.execute("ECHO", [b"OK"]) == [b"OK"]  # bulk, though it reads "OK"
    assert conn.execute("MGET", [b"x", b"none"]) == [b"42", None]
    conn.execute("RPUSH", [b"l", b"a", b"b"])
    assert conn.execute("LRANGE", [b"l", 0, -1]) == [b"a", b"b"]
    assert conn.execute("PING", []) == ["PONG"]
    conn.close()


def test_error_replies_are_other(server: EmbeddedRedis) -> None:
    conn = connector([server.address])[0].open(server.address)
    conn.sadd("s", ["a"])
    with pytest.raises(RedisOther, match="WRONGTYPE"):
        conn.incr("s")
    with pytest.raises(RedisOther, match="unknown command"):
        conn.execute("NOSUCH", [])
    assert conn.execute("PING", []) == ["PONG"]  # an error reply leaves the connection usable
    conn.close()


@pytest.mark.parametrize(
    "form",
    [
        "redis://localhost:{port}",  # the same server, but no rule names localhost
        "redis://127.0.0.1:{other}",
        "rediss://127.0.0.1:{port}",
        "127.0.0.1:{port}",  # allowed by the rule, but not a Redis URL
        "redis://u:p#w@127.0.0.1:{port}",  # allowed by the rule, unreadable for a client
    ],
)
def test_denied_and_invalid_addresses_make_no_connection(
    server: EmbeddedRedis, admin: redis.Redis, form: str
) -> None:
    before = connections_received(admin)
    redis_connector, limit = connector([server.address])
    with pytest.raises(RedisInvalidAddress):
        redis_connector.open(form.format(port=server.port, other=(server.port or 0) + 1))
    assert connections_received(admin) == before
    assert limit.open == 0


def test_an_empty_allow_list_denies_everything(server: EmbeddedRedis, admin: redis.Redis) -> None:
    before = connections_received(admin)
    with pytest.raises(RedisInvalidAddress):
        connector([])[0].open(server.address)
    assert connections_received(admin) == before


def test_the_limit_counts_open_connections(server: EmbeddedRedis) -> None:
    redis_connector, limit = connector([server.address], limit=2)
    first = redis_connector.open(server.address)
    second = redis_connector.open(server.address)
    with pytest.raises(RedisTooManyConnections):
        redis_connector.open(server.address)
    first.close()
    first.close()  # closing twice frees one slot only
    third = redis_connector.open(server.address)
    assert limit.open == 2
    second.close()
    third.close()
    assert limit.open == 0


def test_a_server_that_is_down() -> None:
    redis_connector, limit = connector(["redis://127.0.0.1:*"])
    with pytest.raises(RedisOther, match="cannot connect to Redis at 127.0.0.1:1"):
        redis_connector.open("redis://127.0.0.1:1")
    assert limit.open == 0


def test_a_hung_server_times_out_and_the_connection_stays_broken(server: EmbeddedRedis) -> None:
    conn = connector([server.address], timeout=0.5)[0].open(server.address)
    assert server.pid is not None
    os.kill(server.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(RedisOther, match="did not answer within 0.5 s"):
            conn.get("k")
        assert time.monotonic() - started < 3
    finally:
        os.kill(server.pid, signal.SIGCONT)
    with pytest.raises(RedisOther, match="did not answer"):
        conn.execute("PING", [])  # no silent reconnect: a late reply must not answer this
    conn.close()


def test_a_server_that_goes_away(server: EmbeddedRedis) -> None:
    conn = connector([server.address])[0].open(server.address)
    server.stop()
    with pytest.raises(RedisOther, match="lost|closed|Connection"):
        conn.get("k")
    conn.close()


def test_resp3_is_refused_clearly(server: EmbeddedRedis) -> None:
    with pytest.raises(RedisOther, match="RESP3"):
        connector([server.address])[0].open(server.address + "?protocol=3")


def test_an_unresolvable_allow_list_is_other() -> None:
    def broken() -> AllowedHosts:
        raise LookupError("no variable 'host'")

    redis_connector = RedisConnector(broken, ConnectionLimit(1))
    with pytest.raises(RedisOther, match="allowed_outbound_hosts"):
        redis_connector.open("redis://127.0.0.1")


def test_replies_over_spins_limit_are_refused(
    server: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_replies, "MAX_REPLY_BYTES", 10)
    conn = connector([server.address])[0].open(server.address)
    conn.set("big", b"x" * 11)
    with pytest.raises(RedisOther, match="larger than"):
        conn.execute("GET", [b"big"])
    with pytest.raises(RedisOther, match="larger than"):
        conn.get("big")
    conn.close()
