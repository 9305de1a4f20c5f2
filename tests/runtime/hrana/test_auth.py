"""The token: Bearer over HTTP, hello's jwt over WebSocket; compared in constant time."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import aiohttp
import httpx
import libsql_client
import pytest
from libsql_client import LibsqlError

from runtime.hrana import create_hrana_app
from runtime.hrana import server as hrana_server
from runtime.hrana import websocket as hrana_websocket
from runtime.stores import SqlDatabase

from .helpers import RawWs, run, running, stmt

TOKEN = "s3cret-token-\u00e9"


@pytest.fixture
def secured(db: SqlDatabase) -> Iterator[str]:
    with running(create_hrana_app(db.connect, token=TOKEN)) as address:
        yield address


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer None"],
)
def test_http_needs_the_token(secured: str, authorization: str | None) -> None:
    headers = {} if authorization is None else {b"authorization": authorization.encode()}
    body = {"stmt": stmt("SELECT 1")}
    response = httpx.post(f"http://{secured}/v1/execute", json=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"
    assert response.headers["www-authenticate"] == "Bearer"
    assert TOKEN not in response.text
    pipeline = httpx.post(f"http://{secured}/v2/pipeline", json={"baton": None, "requests": []})
    assert pipeline.status_code == 401


def test_http_with_the_token(secured: str) -> None:
    headers = {b"authorization": f"bearer {TOKEN}".encode()}
    response = httpx.post(
        f"http://{secured}/v1/execute", json={"stmt": stmt("SELECT 1")}, headers=headers
    )
    assert response.status_code == 200
    assert httpx.get(f"http://{secured}/v2").status_code == 200  # probes need no token


@pytest.mark.parametrize("scheme", ["http", "ws"])
def test_libsql_client_with_and_without_the_token(secured: str, scheme: str) -> None:
    with libsql_client.create_client_sync(f"{scheme}://{secured}", auth_token=TOKEN) as client:
        assert client.execute("SELECT 41 + 1").rows[0][0] == 42
    # libsql-client queues its requests right behind hello; the server must let it
    # read hello_error before the socket goes, or it reports a reset instead (this
    # failed about one time in six before the server waited for the client).
    for _ in range(20):
        with libsql_client.create_client_sync(f"{scheme}://{secured}", auth_token="no") as client:
            with pytest.raises(LibsqlError) as failed:
                client.execute("SELECT 1")
            assert failed.value.code == "UNAUTHORIZED"


@pytest.fixture
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hrana_websocket, "HELLO_ERROR_GRACE", 0.05)


@pytest.mark.parametrize("jwt", [None, "wrong", 42, ""])
def test_websocket_hello_needs_the_token(secured: str, short_grace: None, jwt: object) -> None:
    async def scenario() -> None:
        ws = await RawWs.connect(secured, hello=False)
        await ws.send({"type": "hello", "jwt": jwt})
        await ws.send(
            {"type": "request", "request_id": 1, "request": {"type": "open_stream", "stream_id": 1}}
        )
        reply = await ws.receive()
        assert reply["type"] == "hello_error"
        assert reply["error"]["code"] == "UNAUTHORIZED"
        closing = await ws.receive()  # and nothing else: the request is ignored
        assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1008)
        await ws.close()

    run(scenario)


def test_after_hello_error_the_server_waits_for_the_client_to_leave(secured: str) -> None:
    async def scenario() -> float:
        ws = await RawWs.connect(secured, hello=False)
        await ws.send({"type": "hello", "jwt": "wrong"})
        assert (await ws.receive())["type"] == "hello_error"
        started = time.monotonic()
        closing = await ws.receive()  # nothing from the client: the server closes after the grace
        assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1008)
        await ws.close()
        return time.monotonic() - started

    waited = run(scenario)
    assert waited >= hrana_websocket.HELLO_ERROR_GRACE * 0.9


def test_websocket_rehello_with_a_wrong_token_closes(secured: str, short_grace: None) -> None:
    async def scenario() -> None:
        ws = await RawWs.connect(secured, jwt=TOKEN)
        await ws.ok({"type": "open_stream", "stream_id": 1})
        await ws.send({"type": "hello", "jwt": "expired"})
        assert (await ws.receive())["type"] == "hello_error"
        closing = await ws.receive()
        assert closing.type == aiohttp.WSMsgType.CLOSE
        await ws.close()

    run(scenario)


def test_tokens_are_compared_in_constant_time(
    secured: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hrana_server.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hrana_server.hmac, "compare_digest", spy)
    httpx.post(f"http://{secured}/v1/execute", json={}, headers={"authorization": "Bearer guess"})

    async def scenario() -> None:
        ws = await RawWs.connect(secured, jwt=TOKEN)
        await ws.close()

    run(scenario)
    assert compared == [(b"guess", TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]


def test_the_token_is_never_logged(secured: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for token in (TOKEN, "wrong"):
        headers = {b"authorization": f"Bearer {token}".encode()}
        httpx.post(f"http://{secured}/v2/pipeline", content=b"{bad", headers=headers)
    with libsql_client.create_client_sync(f"ws://{secured}", auth_token=TOKEN) as client:
        client.execute("SELECT 1")
    assert TOKEN not in caplog.text
