"""A request as it comes off the wire: its HTTP version, its body's deadline and end.

hypercorn hands the app a request once its head is in (its keep-alive timeout
bounds how long the head may take) and then waits for the body as long as
the client likes: a client that trickles a byte at a time holds its
connection for ever. `IncomingGuard` gives the whole body a deadline from the
head, answers a body that ends before its `content-length` (or its last
chunk) with a 400 and one info line instead of a traceback, and refuses HTTP
versions that Spin refuses. `read_body` bounds its size.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import bodies

log = logging.getLogger("edge.http")

# h11 takes any `HTTP/d.d`; Spin's parser (hyper's httparse) only 1.0 and 1.1.
# "2" is hypercorn's HTTP/2 (h2c).
HTTP_VERSIONS = frozenset({"1.0", "1.1", "2"})


class BodyError(Exception):
    """The body could not be read; `status` and the message are the answer."""

    status = 400
    drained = False  # the whole body was read: the connection can carry another request


class BodyTooLarge(BodyError):
    status = 413

    def __init__(self, limit: int, *, drained: bool) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.drained = drained


class BodyTimeout(BodyError):
    status = 408

    def __init__(self, timeout: float, received: int, declared: int | None) -> None:
        of = f" of {declared}" if declared is not None else ""
        super().__init__(
            f"the request body did not arrive within {timeout:g}s ({received}{of} bytes received)"
        )


class BodyIncomplete(BodyError):
    def __init__(self, received: int, declared: int | None) -> None:
        if declared is not None:
            text = f"the request body ended after {received} of its {declared} bytes"
        else:
            text = f"the request body ended after {received} bytes, before its last chunk"
        super().__init__(text)


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The body, up to `limit` bytes; a larger one is BodyTooLarge (413)."""
    try:
        return await bodies.read_limited(_chunks(receive), _content_length(scope), limit)
    except bodies.BodyTooLarge as exc:
        raise BodyTooLarge(limit, drained=exc.drained) from None


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return  # a disconnect (under IncomingGuard, TimedBody raised already)
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


class IncomingGuard:
    """ASGI middleware (outside the routes) for every HTTP request of the app."""

    def __init__(self, app: ASGIApp, body_timeout: float) -> None:
        self.app = app
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        version = scope.get("http_version", "1.1")
        if version not in HTTP_VERSIONS:
            log.info("%s %s 505 HTTP/%s", scope["method"], scope["path"], version)
            message = f"HTTP/{version} is not supported; use HTTP/1.1 (or 1.0, 2)"
            await _answer(505, message, scope, receive, send, close=True)
            return
        body = TimedBody(receive, self.body_timeout, _content_length(scope))
        started = False

        async def watch_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, body, watch_send)
        except BodyError as exc:
            log.info("%s %s %d %s", scope["method"], scope["path"], exc.status, exc)
            if not started:
                await _answer(exc.status, str(exc), scope, receive, send, close=not exc.drained)


class TimedBody:
    """`receive` with a deadline on the whole body, and a disconnect before its end an error."""

    def __init__(self, receive: Receive, timeout: float, declared: int | None) -> None:
        self._receive = receive
        self._timeout = timeout
        self._deadline = asyncio.get_running_loop().time() + timeout
        self._declared = declared
        self.received = 0
        self.complete = False

    async def __call__(self) -> Message:
        if self.complete:
            return await self._receive()  # after the body: only the disconnect is left
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            raise BodyTimeout(self._timeout, self.received, self._declared) from None
        if message["type"] == "http.disconnect":
            raise BodyIncomplete(self.received, self._declared)
        self.received += len(message.get("body", b""))
        self.complete = not message.get("more_body", False)
        return message


def _content_length(scope: Scope) -> int | None:
    return bodies.declared_length(Headers(scope=scope).get("content-length"))


async def _answer(
    status: int, message: str, scope: Scope, receive: Receive, send: Send, *, close: bool
) -> None:
    # With the body left unread the connection cannot carry another request: say so,
    # or a client would reuse it and fail (HTTP/2 has no such header, nor the problem).
    headers = {"connection": "close"} if close and scope.get("http_version") != "2" else None
    response = JSONResponse({"error": message}, status_code=status, headers=headers)
    await response(scope, receive, send)
