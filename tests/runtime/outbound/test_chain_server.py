"""The in-process endpoint of self and chained requests, over a real loopback socket."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from runtime.outbound.chain_server import ChainedRequest, ChainServer, Reply


@pytest.fixture
def server() -> Iterator[tuple[ChainServer, list[ChainedRequest]]]:
    calls: list[ChainedRequest] = []

    def dispatch(call: ChainedRequest) -> Reply:
        calls.append(call)
        return 201, [("x-answer", "yes"), ("transfer-encoding", "chunked")], b"done"

    chain = ChainServer(dispatch, max_body_bytes=1024)
    yield chain, calls
    chain.close()


def test_a_chained_request_reaches_dispatch(server: tuple[ChainServer, list]) -> None:
    chain, calls = server
    url = f"http://{chain.address()}{chain.path('eu-west', 'users', 2, '/a/b?c=1')}"
    answer = httpx.post(url, content=b"body", headers={"x-in": "1"})
    assert (answer.status_code, answer.text, answer.headers["x-answer"]) == (201, "done", "yes")
    (call,) = calls
    assert (call.region, call.component, call.depth) == ("eu-west", "users", 2)
    assert (call.method, call.path, call.body) == ("POST", "/a/b?c=1", b"body")
    assert ("x-in", "1") in call.headers


def test_a_self_request_has_no_component(server: tuple[ChainServer, list]) -> None:
    chain, calls = server
    httpx.get(f"http://{chain.address()}{chain.path('us-east', None, 1, '/')}")
    assert (calls[0].component, calls[0].path) == (None, "/")


def test_chunked_bodies_are_read(server: tuple[ChainServer, list]) -> None:
    chain, calls = server
    url = f"http://{chain.address()}{chain.path('us-east', None, 1, '/')}"
    httpx.post(url, content=iter([b"ab", b"cd"]))  # an iterator: sent chunked
    assert calls[0].body == b"abcd"


def test_requests_without_the_token_are_not_found(server: tuple[ChainServer, list]) -> None:
    chain, calls = server
    good = chain.path("us-east", None, 1, "/x")
    forged = good.replace(good.split("/")[2], "not-the-token")
    for path in [forged, "/x", "/.edge-chain/", "/.edge-chain/a/b"]:
        assert httpx.get(f"http://{chain.address()}{path}").status_code == 404, path
    assert calls == []


def test_oversized_bodies_are_refused(server: tuple[ChainServer, list]) -> None:
    chain, calls = server
    url = f"http://{chain.address()}{chain.path('us-east', None, 1, '/')}"
    assert httpx.post(url, content=b"x" * 2048).status_code == 413
    assert calls == []


def test_listens_on_loopback_only_and_stops() -> None:
    chain = ChainServer(lambda call: (200, [], b""), max_body_bytes=10)
    host, port = chain.address().split(":")
    assert host == "127.0.0.1"
    chain.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/")
    with pytest.raises(RuntimeError):
        chain.address()
