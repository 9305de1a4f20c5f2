"""The same-origin policy of the admin API and Hrana endpoints (runtime.serve.guard)."""

from __future__ import annotations

import hmac
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from runtime.serve import guard as guard_module
from runtime.serve.guard import Guard, SameOrigin, is_loopback_name, same_origin, split_host
from runtime.settings import Settings

POLICY = SameOrigin(frozenset({"dev.example.com"}), lambda: {3000, 3001})


@pytest.mark.parametrize(
    "name",
    ["localhost", "LOCALHOST.", "eu-west.localhost", "127.0.0.1", "127.8.9.1", "::1", "[::1]"],
)
def test_loopback_names(name: str) -> None:
    assert is_loopback_name(name)


@pytest.mark.parametrize("name", ["localhost.evil.example", "10.0.0.1", "evil.example", "", "::"])
def test_other_names_are_not_loopback(name: str) -> None:
    assert not is_loopback_name(name)


def test_split_host() -> None:
    assert split_host("localhost:3000") == ("localhost", 3000)
    assert split_host("[::1]:8080") == ("::1", 8080)
    assert split_host("Example.COM") == ("example.com", None)
    for bad in ("a/b", "user@host", "host:port", ""):
        with pytest.raises(ValueError):
            split_host(bad)


@pytest.mark.parametrize(
    "headers",
    [
        {"host": "localhost:3000"},
        {"host": "127.0.0.1:3001", "origin": "http://localhost:3000"},
        {"host": "us-east.localhost:3000", "origin": "http://us-east.localhost:3000"},
        {"host": "[::1]:3001", "origin": "http://[::1]:3001"},
        {"host": "10.1.2.3:3000"},  # an address is never a rebound name
        {"host": "dev.example.com:3000", "origin": "https://dev.example.com:3000"},
        {"host": "localhost", "sec-fetch-site": "same-origin"},
    ],
)
def test_this_servers_requests_pass(headers: dict[str, str]) -> None:
    assert POLICY.refusal(Headers(headers)) is None


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "Host header is required"),
        ({"host": "evil.example:3000"}, "'evil.example' is not this server's"),
        ({"host": "localhost:x"}, "malformed"),
        ({"host": "localhost", "origin": "http://evil.example"}, "http://evil.example"),
        ({"host": "localhost", "origin": "http://localhost:5173"}, "localhost:5173"),
        ({"host": "localhost", "origin": "http://localhost"}, "refused"),  # port 80
        ({"host": "localhost", "origin": "null"}, "'null'"),
        ({"host": "localhost", "origin": "file://"}, "refused"),
        ({"host": "localhost", "origin": "http://10.1.2.3:3000"}, "refused"),
        ({"host": "localhost", "sec-fetch-site": "cross-site"}, "cross-site"),
    ],
)
def test_other_pages_are_refused(headers: dict[str, str], why: str) -> None:
    reason = POLICY.refusal(Headers(headers))
    assert reason is not None and why in reason


def test_the_policy_of_edge_up_has_its_names_and_ports(tmp_path: Path) -> None:
    settings = Settings(
        listen="192.168.1.5:4000",
        allowed_hosts="dev.example.com, Other.Example",
        state_dir=tmp_path,
    )
    policy = same_origin(settings)
    assert policy.names == {"dev.example.com", "other.example", "192.168.1.5"}
    assert set(policy.ports()) == {4000}  # no Hrana endpoints listed yet
    assert "0.0.0.0" not in same_origin(Settings(listen="0.0.0.0:3000")).names


def _app(token: str | None = None) -> TestClient:
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse((await request.body()).decode() or "ok")

    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    app = Starlette(
        routes=[
            Route("/_edge/{name}", echo, methods=["GET", "POST"]),
            Route("/app", echo, methods=["POST"]),
            WebSocketRoute("/_edge/ws", socket),
        ]
    )
    guarded = Guard(app, POLICY, prefix="/_edge/", token=token, open_paths={"/_edge/health"})
    return TestClient(guarded, base_url="http://localhost:3000")


def test_bodies_must_be_json_and_app_routes_are_not_guarded() -> None:
    client = _app()
    assert client.post("/_edge/x", json={"a": 1}).text == '{"a":1}'
    plain = client.post("/_edge/x", content="{}", headers={"content-type": "text/plain"})
    assert plain.status_code == 415 and "application/json" in plain.json()["error"]
    form = client.post("/_edge/x", data={"a": "1"})
    assert form.status_code == 415
    evil = {"origin": "http://evil.example", "content-type": "text/plain"}
    assert client.post("/app", content="mine", headers=evil).text == "mine"


def test_websocket_handshakes_from_other_pages_are_refused() -> None:
    client = _app()
    own = {"origin": "http://localhost:3000", "host": "localhost:3000"}
    with client.websocket_connect("/_edge/ws", headers=own) as ws:
        assert ws.receive_text() == "hello"
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/_edge/ws", headers={**own, "origin": "http://evil.example"}),
    ):
        pass
    assert refused.value.code == 1008 and "evil.example" in refused.value.reason


def test_the_token_is_required_and_compared_in_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(guard_module.hmac, "compare_digest", spy)
    client = _app(token="t0ken")
    assert client.get("/_edge/health").status_code == 200
    missing = client.get("/_edge/x")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert client.get("/_edge/x", headers={"authorization": "Bearer nope"}).status_code == 401
    assert client.get("/_edge/x", headers={"authorization": "Basic t0ken"}).status_code == 401
    assert client.get("/_edge/x", headers={"authorization": "Bearer t0ken"}).text == "ok"
    assert (b"t0ken", b"t0ken") in compared and (b"nope", b"t0ken") in compared
