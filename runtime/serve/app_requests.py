"""The app's own requests (every path outside `/_edge/`), served on plain ASGI.

These are what a load test measures, so they skip starlette's request objects,
its router (the app's catch-all route came after every `/_edge/` route) and
its two exception middlewares: the head is read from the ASGI scope, the body
through `receive` (the `IncomingGuard` outside bounds its time and answers
its errors), and the response goes out as two ASGI messages. The wasm thread
runs the request; this module picks the region, reads, answers and reports.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import URL
from starlette.types import ASGIApp, Receive, Scope, Send

from ..stores.events import NO_EVENTS, EventSink, clip
from ..wasm.instances import HttpResponse
from ..wasm.thread import WasmThread
from .admin import ADMIN_PREFIX, REGION_HEADER
from .host import EdgeHost, json_error
from .incoming import BodyError, IncomingGuard, read_body

log = logging.getLogger("edge.http")

Message = dict[str, Any]
Answer = Callable[[HttpResponse, str | None], Awaitable[int]]  # the status sent

# Headers the server writes itself (the body is whole, so its length is known).
_OWN_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})
_REGION_HEADER = REGION_HEADER.encode()


class UnknownRegion(Exception):
    pass


def pick_region(headers: list[tuple[bytes, bytes]], host: EdgeHost) -> str:
    """Region by `x-edge-region`, then by host name (`eu-west.localhost`), else default.

    UnknownRegion if the header names no region, or a name under `localhost`
    (where the first label can only mean a region) does not start with one.
    Other host names (`localhost`, an IP address, the machine's name) that do
    not start with a region get the default region.
    """
    named = _header(headers, _REGION_HEADER)
    if named is not None:
        if named in host.regions:
            return named
        raise UnknownRegion(f"unknown region {named!r} in {REGION_HEADER}")
    try:
        hostname = urlsplit("//" + (_header(headers, b"host") or "")).hostname or ""
    except ValueError:  # a malformed Host (an unclosed "[")
        hostname = ""
    hostname = hostname.rstrip(".")
    label, dot, _ = hostname.partition(".")
    if dot and label in host.regions:
        return label
    if hostname.endswith(".localhost"):
        raise UnknownRegion(f"unknown region {label!r} in the host name {hostname}")
    return host.default_region


def response_start(resp: HttpResponse, region: str | None) -> Message:
    """The `http.response.start` message of a response, served in `region` (if any)."""
    headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1", "replace"))
        for k, v in resp.headers
        if k.lower() not in _OWN_HEADERS
    ]
    headers.append((b"content-length", b"%d" % len(resp.body)))
    if region is not None:
        headers.append((_REGION_HEADER, region.encode()))
    status = resp.status if 100 <= resp.status <= 599 else 500
    return {"type": "http.response.start", "status": status, "headers": headers}


class AppRequests:
    """ASGI app: the app's requests go to the wasm thread, `/_edge/` ones to `admin`.

    `admin` is a starlette app of its own, with its own `IncomingGuard`."""

    def __init__(
        self,
        host: EdgeHost,
        wasm: WasmThread,
        admin: ASGIApp,
        *,
        max_body_bytes: int,
        body_timeout: float,
        log_requests: bool = True,
        events: EventSink = NO_EVENTS,
    ) -> None:
        self.host = host
        self.wasm = wasm
        self.admin = admin
        self.max_body_bytes = max_body_bytes
        self.log_requests = log_requests
        self.events = events
        self._guarded = IncomingGuard(self._request, body_timeout)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.admin(scope, receive, send)
        else:
            await self._guarded(scope, receive, send)

    async def _request(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        answered = False

        async def answer(response: HttpResponse, region: str | None) -> int:
            nonlocal answered
            answered = True
            start = response_start(response, region)
            await send(start)
            await send({"type": "http.response.body", "body": response.body})
            return int(start["status"])

        try:
            region, status = await self._serve(scope, receive, answer)
        except BodyError:
            raise  # answered by IncomingGuard, outside
        except Exception:
            if answered:
                raise
            log.exception("the server failed on %s %s", scope["method"], scope["path"])
            region, status = None, await answer(json_error(500, "internal server error"), None)
        self._report(scope, region, status, (time.perf_counter() - started) * 1000)

    async def _serve(
        self, scope: Scope, receive: Receive, answer: Answer
    ) -> tuple[str | None, int]:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        try:
            region = pick_region(headers, self.host)
        except UnknownRegion as exc:
            known = ", ".join(self.host.regions)
            return None, await answer(json_error(400, f"{exc}; regions are: {known}"), None)
        body = await read_body(scope, receive, self.max_body_bytes)
        client = scope.get("client")
        future = self.wasm.submit(
            self.host.handle,
            region,
            scope["method"],
            str(URL(scope=scope)),
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
            body,
            f"{client[0]}:{client[1]}" if client else "0.0.0.0:0",
        )
        response = await asyncio.wrap_future(future)
        return region, await answer(response, region)

    def _report(self, scope: Scope, region: str | None, status: int, elapsed: float) -> None:
        method, path = scope["method"], scope["path"]
        if self.log_requests:
            log.info("%s %s %d %.1fms %s", method, path, status, elapsed, region or "-")
        if region is not None:
            component = self.host.component_for(method, path)
            fields = {"region": region, "method": method, "path": clip(path), "status": status}
            self.events.emit("request", {**fields, "ms": round(elapsed, 3), "component": component})


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None
