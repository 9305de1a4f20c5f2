"""Serving a Hrana app on a real port, and raw clients for protocol-level tests."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp  # libsql-client's own HTTP/WebSocket library, so always installed with it
import httpx
from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.applications import Starlette

JSON_BODY = {"content-type": "application/json"}


@contextmanager
def running(app: Starlette) -> Iterator[str]:
    """Serve `app` with hypercorn on a free loopback port in a thread; yields "host:port"."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    port = sock.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]  # hypercorn owns (and closes) the socket
    config.accesslog = None
    config.errorlog = logging.getLogger("tests.hypercorn")
    config.graceful_timeout = 1.0
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    started = threading.Event()

    async def main() -> None:
        started.set()
        await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait(5)
    address = f"127.0.0.1:{port}"
    try:
        _wait_until_serving(address)
        yield address
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def _wait_until_serving(address: str) -> None:
    for _ in range(100):
        try:
            httpx.get(f"http://{address}/health", timeout=1)
            return
        except httpx.TransportError:
            threading.Event().wait(0.05)
    raise RuntimeError(f"the Hrana server on {address} did not come up")


def stmt(sql: str, *args: Any, **named: Any) -> dict[str, Any]:
    """A Hrana Stmt; Python values become Hrana values."""
    return {
        "sql": sql,
        "args": [value(a) for a in args],
        "named_args": [{"name": k, "value": value(v)} for k, v in named.items()],
    }


def value(v: Any) -> dict[str, Any]:
    import base64

    if v is None:
        return {"type": "null"}
    if isinstance(v, int):
        return {"type": "integer", "value": str(v)}
    if isinstance(v, float):
        return {"type": "float", "value": v}
    if isinstance(v, str):
        return {"type": "text", "value": v}
    return {"type": "blob", "base64": base64.b64encode(v).decode()}


def rows(result: dict[str, Any]) -> list[list[Any]]:
    """The rows of a StmtResult as Python values."""
    import base64

    def py(v: dict[str, Any]) -> Any:
        kind = v["type"]
        if kind == "integer":
            return int(v["value"])
        if kind == "blob":
            return base64.b64decode(v["base64"])
        return v.get("value")

    return [[py(v) for v in row] for row in result["rows"]]


class Pipeline:
    """A v2 pipeline stream over httpx: keeps the baton between requests."""

    def __init__(self, client: httpx.Client, path: str = "/v2/pipeline") -> None:
        self.client = client
        self.path = path
        self.baton: str | None = None

    def send(self, *requests: dict[str, Any]) -> list[dict[str, Any]]:
        # ASCII JSON: a lone surrogate goes out as the escape \ud800, as a client may send it.
        body = json.dumps({"baton": self.baton, "requests": requests})
        # As real clients send it (edge up refuses other content types).
        response = self.client.post(self.path, content=body, headers=JSON_BODY)
        assert response.status_code == 200, response.text
        body = response.json()
        self.baton = body["baton"]
        assert body["base_url"] is None
        return list(body["results"])

    def execute(self, sql: str, *args: Any, **named: Any) -> dict[str, Any]:
        (result,) = self.send({"type": "execute", "stmt": stmt(sql, *args, **named)})
        assert result["type"] == "ok", result
        return dict(result["response"]["result"])


class RawWs:
    """A Hrana WebSocket client that sends exactly what a test says (aiohttp)."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session = session
        self.ws = ws
        self.next_id = 1

    @classmethod
    async def connect(
        cls,
        address: str,
        protocols: tuple[str, ...] = ("hrana2",),
        *,
        hello: bool = True,
        jwt: str | None = None,
    ) -> RawWs:
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(f"ws://{address}", protocols=protocols, autoclose=False)
        except BaseException:
            await session.close()
            raise
        raw = cls(session, ws)
        if hello:
            await raw.send({"type": "hello", "jwt": jwt})
            reply = await raw.receive()
            assert reply == {"type": "hello_ok"}, reply
        return raw

    async def send(self, message: Any) -> None:
        await self.ws.send_json(message)

    async def receive(self, timeout: float = 10) -> Any:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            return msg
        return json.loads(msg.data)

    def submit(self, request: dict[str, Any]) -> int:
        """Queue a request without waiting; returns its request id (send with flush())."""
        rid = self.next_id
        self.next_id += 1
        self._pending = getattr(self, "_pending", [])
        self._pending.append({"type": "request", "request_id": rid, "request": request})
        return rid

    async def send_queued(self) -> int:
        """Send the queued requests back to back, waiting for nothing; how many."""
        pending, self._pending = getattr(self, "_pending", []), []
        for message in pending:
            await self.send(message)
        return len(pending)

    async def flush(self) -> dict[int, dict[str, Any]]:
        """Send the queued requests back to back; the replies by request id."""
        sent = await self.send_queued()
        replies: dict[int, dict[str, Any]] = {}
        while len(replies) < sent:
            reply = await self.receive()
            assert isinstance(reply, dict), f"the connection ended instead: {reply}"
            replies[reply["request_id"]] = reply
        return replies

    async def request(self, request: dict[str, Any]) -> dict[str, Any]:
        rid = self.submit(request)
        return (await self.flush())[rid]

    async def ok(self, request: dict[str, Any]) -> dict[str, Any]:
        reply = await self.request(request)
        assert reply["type"] == "response_ok", reply
        assert reply["response"]["type"] == request["type"]
        return dict(reply["response"])

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()


def run(scenario: Callable[[], Awaitable[Any]], timeout: float = 60) -> Any:
    """Run an async scenario to its end (its result), failing after `timeout` s, not hanging."""

    async def guarded() -> Any:
        return await asyncio.wait_for(scenario(), timeout)

    return asyncio.run(guarded())


def wait_until_writable(db: Any, timeout: float = 10) -> None:
    """Wait until nothing holds the database's write lock (a dropped stream must let go)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with db.connect() as conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
            return
        except Exception:
            assert time.monotonic() < deadline, "the write lock was not released in time"
            time.sleep(0.05)
