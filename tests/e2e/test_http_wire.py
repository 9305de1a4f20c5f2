"""Clients that misbehave on the wire, against a real `edge up` of the demo app.

Slow and cut-off bodies, HTTP versions Spin refuses, what is accepted as Spin
accepts it, and a crowd of slow clients that must not stop the server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from .edgeup import EdgeUp, wait_for
from .wire import (
    SlowClient,
    descriptor_targets,
    exchange,
    open_descriptors,
    settled_descriptors,
    status_of,
)

pytestmark = pytest.mark.e2e

HEAD = b"POST /todos HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"


@pytest.fixture(scope="module")
def server(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeUp]:
    state = tmp_path_factory.mktemp("wire") / "state"
    up = EdgeUp(built["demo"], state, "--workers", "1", "--body-timeout", "1s")
    yield up
    up.stop()


def titles(up: EdgeUp) -> list[str]:
    return [todo["title"] for todo in httpx.get(f"{up.url}/todos", timeout=30).json()]


def test_body_shorter_than_its_content_length_is_a_400_and_one_info_line(
    server: EdgeUp,
) -> None:
    answer = exchange(server.port, HEAD + b'content-length: 100\r\n\r\n{"ti')
    assert status_of(answer) == 400, answer
    assert b"the request body ended after 4 of its 100 bytes" in answer
    line = "POST /todos 400 the request body ended after 4 of its 100 bytes"
    wait_for(lambda: line in server.output(), what="the info line")
    assert "Traceback" not in server.output()
    assert "ClientDisconnect" not in server.output()
    created = httpx.post(f"{server.url}/todos", json={"title": "after the short body"}, timeout=30)
    assert created.status_code == 201
    assert "after the short body" in titles(server)


def test_client_leaving_mid_body_is_one_info_line(server: EdgeUp) -> None:
    before = server.output().count("the request body ended after 7 of its 500 bytes")
    exchange(server.port, HEAD + b'content-length: 500\r\n\r\n{"title', timeout=0.5)  # then closes
    wait_for(
        lambda: server.output().count("the request body ended after 7 of its 500 bytes") > before,
        what="the info line",
    )
    assert "Error in ASGI Framework" not in server.output()
    assert "Traceback" not in server.output()


def test_chunked_body_cut_before_its_last_chunk_is_a_400(server: EdgeUp) -> None:
    answer = exchange(server.port, HEAD + b'transfer-encoding: chunked\r\n\r\n4\r\n{"ti\r\n')
    assert status_of(answer) == 400
    assert b"ended after 4 bytes, before its last chunk" in answer


def test_trickled_body_is_cut_by_the_body_timeout(server: EdgeUp) -> None:
    slow = SlowClient(server.port, in_head=False)
    started = time.monotonic()
    while slow.answer is None and time.monotonic() - started < 60:
        slow.step()
        time.sleep(0.1)
    assert slow.answer is not None, "still open after 60 s"
    assert status_of(slow.answer) == 408
    assert b"did not arrive within 1s" in slow.answer
    assert "POST /todos 408 the request body did not arrive within 1s" in server.output()
    assert httpx.get(f"{server.url}/todos", timeout=30).status_code == 200


@pytest.mark.parametrize("version", [b"9.9", b"1.2", b"0.9", b"3.0"])
def test_http_versions_spin_refuses_get_505(server: EdgeUp, version: bytes) -> None:
    request = b"GET /todos HTTP/" + version + b"\r\nHost: 127.0.0.1\r\n\r\n"
    answer = exchange(server.port, request)
    assert status_of(answer) == 505, answer
    assert b"HTTP/" + version + b" is not supported" in answer


def test_http_1_0_is_served(server: EdgeUp) -> None:
    answer = exchange(server.port, b"GET /todos HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
    assert status_of(answer) == 200


def test_bare_lf_and_lowercase_methods_are_served_as_on_spin(server: EdgeUp) -> None:
    """Accepted on purpose (README, "Limits and faults"): Spin's parser takes bare LF
    line ends too, and the framework upper-cases the method Spin hands it."""
    bare_lf = exchange(server.port, b"GET /todos HTTP/1.1\nHost: 127.0.0.1\n\n")
    assert status_of(bare_lf) == 200
    body = b'{"title": "lower"}'
    head = b"post /todos HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-length: %d\r\n\r\n" % len(body)
    lower = exchange(server.port, head + body)
    assert status_of(lower) == 201
    assert "lower" in titles(server)


def test_a_crowd_of_slow_clients_is_bounded_cut_and_others_are_served(
    built: dict[str, Path], tmp_path: Path
) -> None:
    """The tester's ~2,100 trickling connections, scaled down: 24 against a bound of 8."""
    bound = 8
    up = EdgeUp(
        built["demo"],
        tmp_path / "state",
        *("--workers", "1", "--body-timeout", "1s", "--max-connections", str(bound)),
    )
    try:
        with httpx.Client(base_url=up.url, timeout=60) as http:
            assert http.post("/todos", json={"title": "before"}).status_code == 201
            idle = settled_descriptors(up.process.pid)  # stores open, instance pools filled
            before = descriptor_targets(up.process.pid)
            crowd = [SlowClient(up.port, in_head=i % 2 == 1) for i in range(24)]
            peak = 0

            at_peak: list[str] = []

            def trickle() -> bool:
                nonlocal peak, at_peak
                count = open_descriptors(up.process.pid)
                if count > peak:
                    peak, at_peak = count, descriptor_targets(up.process.pid)
                for client in crowd:
                    client.step()
                return all(client.answer is not None for client in crowd)

            for _ in range(5):  # the server fills its slots
                trickle()
                time.sleep(0.1)
            # A new connection, made while the crowd holds every slot.
            with httpx.Client(base_url=up.url, timeout=60) as other:
                pending = other.build_request("POST", "/todos", json={"title": "served"})
                response = _send_while(other, pending, trickle)
            assert response.status_code == 201
            wait_for(trickle, timeout=60, what="every slow client cut", poll=0.1)

        grown = [t for t in at_peak if t not in before]
        grown_by = peak - idle
        assert grown_by <= bound + 3, f"{grown_by} descriptors for {bound} connections: {grown}"
        bodies = [c.answer for c in crowd[0::2]]
        assert all(a is not None and status_of(a) == 408 for a in bodies), bodies
        heads = [c.answer for c in crowd[1::2]]
        assert all(a is not None and status_of(a) in (0, 408) for a in heads), heads
        assert httpx.get(f"{up.url}/todos", timeout=30).json()[-1]["title"] == "served"
        assert "out of system resource" not in up.output()
    finally:
        up.stop()


def _send_while(
    client: httpx.Client, request: httpx.Request, work: Callable[[], object]
) -> httpx.Response:
    """Send `request` on a thread, calling `work()` every 0.1 s until it is answered."""
    result: dict[str, httpx.Response | BaseException] = {}

    def send() -> None:
        try:
            result["response"] = client.send(request)
        except BaseException as exc:  # reported below, on the test's thread
            result["response"] = exc

    thread = threading.Thread(target=send)
    thread.start()
    while thread.is_alive():
        work()
        thread.join(0.1)
    answer = result["response"]
    if isinstance(answer, BaseException):
        raise answer
    return answer
