"""Hrana over WebSocket (subprotocols hrana3, hrana2, hrana1; JSON text frames).

The reader handles messages in order. Stream-independent requests
(`store_sql`, `close_sql`, `close_cursor`) are answered at once; the others
become tasks that queue on their stream, so requests on one stream run in
order while streams run side by side, and responses go out as they finish.

A request that fails (bad SQL, unknown stream, a malformed request with a
usable `request_id`) gets a `response_error`; the connection and its other
streams carry on. What cannot be answered closes the WebSocket, as the spec
asks: a frame that is not JSON (1007), a binary frame (1003), an unknown
message type or a request before `hello` (1002), a message over the size
limit (1009), a failed `hello` (after `hello_error`, 1008). When the
connection ends, every stream on it is closed and open transactions roll back.

After a `hello_error` the server waits a moment (ignoring what arrives) for
the client to hang up before it closes: clients pipeline requests after
`hello`, and a socket torn down under their writer would show the user a
connection reset instead of the authentication error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .errors import (
    CURSOR_EXISTS,
    CURSOR_NOT_FOUND,
    STREAM_EXISTS,
    STREAM_LIMIT,
    STREAM_NOT_FOUND,
    UNAUTHORIZED,
    HranaError,
    internal_error,
    proto_error,
)
from .ops import CONN_REQUESTS, conn_op, cursor_op, sql_text_request
from .server import HranaServer
from .statements import SqlTexts
from .streams import Stream
from .wire import UINT32_MAX, dumps_text, int32, integer, loads, obj, type_of

log = logging.getLogger("edge.hrana")

SUBPROTOCOLS = ("hrana3", "hrana2", "hrana1")  # best first
MAX_STREAMS = 128  # per connection
MAX_CURSORS = 128
MAX_IN_FLIGHT = 128  # unanswered requests before the reader stops reading
MAX_FETCH = 1024  # cursor entries per fetch_cursor response
POLICY_VIOLATION = 1008  # the close code after a failed hello
HELLO_ERROR_GRACE = 1.0  # seconds the client gets to leave after hello_error
QUEUED_GRACE = 0.05  # seconds to wait for each request a client queued behind its hello

# A parsed request: called when its task starts, it gives the response (or raises).
Job = Callable[[], Awaitable[Any]]


def websocket_routes(server: HranaServer) -> list[WebSocketRoute]:
    async def endpoint(websocket: WebSocket) -> None:
        offered = websocket.scope.get("subprotocols") or []
        chosen = next((p for p in SUBPROTOCOLS if p in offered), None)
        if offered and chosen is None:
            await websocket.close(code=1002)  # only hrana3-protobuf or unknown protocols
            return
        await websocket.accept(subprotocol=chosen)
        # No subprotocol at all: treated as hrana1, the first version.
        version = int(chosen[-1]) if chosen else 1
        await Connection(server, websocket, version).serve()

    # The path means nothing here; clients connect to the database's URL as given.
    return [WebSocketRoute("/{path:path}", endpoint)]


@dataclass(eq=False)
class _Cursor:
    stream_id: int
    entries: asyncio.Future[deque[dict[str, Any]]]


class Connection:
    def __init__(self, server: HranaServer, websocket: WebSocket, version: int) -> None:
        self.server = server
        self.websocket = websocket
        self.version = version
        self.hello = False
        self.streams: dict[int, Stream] = {}
        self.owned: set[Stream] = set()  # every stream not yet closed, by id or not
        self.sqls = SqlTexts()
        self.cursors: dict[int, _Cursor] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.send_lock = asyncio.Lock()
        self.slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def serve(self) -> None:
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                problem = await self._on_message(message)
                if problem is not None:
                    code, reason = problem
                    log.info("closing a Hrana WebSocket (%d): %s", code, reason)
                    if code == POLICY_VIOLATION and await self._client_hangs_up():
                        return
                    await self._close(code, reason)
                    return
        except WebSocketDisconnect:
            return
        finally:
            await asyncio.shield(self._cleanup())

    async def _on_message(self, message: Mapping[str, Any]) -> tuple[int, str] | None:
        text = message.get("text")
        if text is None:
            return 1003, "only text frames are accepted (JSON encoding)"
        if len(text) > self.server.max_body_bytes:
            return 1009, f"message larger than {self.server.max_body_bytes} bytes"
        try:
            msg = loads(text)
        except HranaError as exc:
            return 1007, exc.message[:120]
        try:
            kind = type_of(msg, "a message")
        except HranaError as exc:
            return 1002, exc.message
        if kind == "hello":
            return await self._hello(msg)
        if kind != "request":
            return 1002, f"unknown message type {kind[:40]!r}"
        if not self.hello:
            return 1002, "a request came before hello"
        try:
            request_id = int32(msg, "request_id")
        except HranaError as exc:
            return 1002, exc.message
        await self.slots.acquire()  # back-pressure: stop reading while too many are open
        self._spawn(request_id, self._request(msg.get("request")))
        return None

    async def _client_hangs_up(self) -> bool:
        """Let the client read `hello_error` and leave first; True if it did."""
        try:
            async with asyncio.timeout(HELLO_ERROR_GRACE):
                while (await self.websocket.receive())["type"] != "websocket.disconnect":
                    pass
        except TimeoutError:
            return False
        except WebSocketDisconnect:
            pass
        return True

    async def _take_queued(self) -> None:
        """Read (and drop) what the client sent right behind its refused hello.

        Clients such as libsql-client write their first requests behind hello
        without waiting; one that reads hello_error while still writing them
        closes under its own writer and reports a reset, not UNAUTHORIZED.
        """
        for _ in range(MAX_IN_FLIGHT):  # a client that never pauses gets no longer than this
            try:
                async with asyncio.timeout(QUEUED_GRACE):
                    message = await self.websocket.receive()
            except TimeoutError:
                return
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))

    async def _hello(self, msg: dict[str, Any]) -> tuple[int, str] | None:
        if self.hello and self.version < 2:
            return 1002, "hello may be sent only once in hrana1"
        if self.server.jwt_matches(msg.get("jwt")):
            self.hello = True
            await self._send({"type": "hello_ok"})
            return None
        error = {"message": "authentication failed: missing or wrong token", "code": UNAUTHORIZED}
        await self._take_queued()
        await self._send({"type": "hello_error", "error": error})
        return POLICY_VIOLATION, "authentication failed"

    def _request(self, raw: object) -> Job:
        """Parse now, in message order; the job runs later, in the request's task."""
        try:
            kind = type_of(raw, "the request")
            msg = obj(raw, "the request")
            if kind in CONN_REQUESTS:
                stream, op = self._stream(msg), conn_op(kind, msg, self.sqls)
                return lambda: stream.run(op)
            if kind == "open_stream":
                return self._open_stream(int32(msg, "stream_id"))
            if kind == "close_stream":
                return self._close_stream(int32(msg, "stream_id"))
            if kind in ("store_sql", "close_sql"):
                response = sql_text_request(kind, msg, self.sqls)
                return lambda: _done(response)
            if kind == "open_cursor":
                return self._open_cursor(msg)
            if kind == "fetch_cursor":
                return self._fetch_cursor(msg)
            if kind == "close_cursor":
                self.cursors.pop(int32(msg, "cursor_id"), None)
                return lambda: _done({"type": "close_cursor"})
            raise proto_error(f"unknown request type {kind!r}")
        except HranaError as exc:
            error = exc
            return lambda: _failed(error)

    def _stream(self, msg: dict[str, Any]) -> Stream:
        stream_id = int32(msg, "stream_id")
        stream = self.streams.get(stream_id)
        if stream is None:
            raise HranaError(f"no stream {stream_id} is open", STREAM_NOT_FOUND)
        return stream

    def _open_stream(self, stream_id: int) -> Job:
        if stream_id in self.streams:
            raise HranaError(f"stream {stream_id} is already open", STREAM_EXISTS)
        if len(self.streams) >= MAX_STREAMS:
            raise HranaError(f"at most {MAX_STREAMS} streams per connection", STREAM_LIMIT)
        stream = self.server.new_stream()
        self.streams[stream_id] = stream
        self.owned.add(stream)

        async def open_() -> dict[str, Any]:
            await stream.open()
            return {"type": "open_stream"}

        return open_

    def _close_stream(self, stream_id: int) -> Job:
        stream = self.streams.pop(stream_id, None)
        for cursor_id in [i for i, c in self.cursors.items() if c.stream_id == stream_id]:
            del self.cursors[cursor_id]

        async def close() -> dict[str, Any]:
            if stream is not None:
                await stream.close()
                self.owned.discard(stream)
            return {"type": "close_stream"}

        return close

    def _open_cursor(self, msg: dict[str, Any]) -> Job:
        stream, cursor_id = self._stream(msg), int32(msg, "cursor_id")
        if cursor_id in self.cursors:
            raise HranaError(f"cursor {cursor_id} is already open", CURSOR_EXISTS)
        if len(self.cursors) >= MAX_CURSORS:
            raise HranaError(f"at most {MAX_CURSORS} cursors per connection", STREAM_LIMIT)
        op = cursor_op(msg, self.sqls)
        entries: asyncio.Future[deque[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        entries.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved, not logged
        self.cursors[cursor_id] = _Cursor(int32(msg, "stream_id"), entries)

        async def open_() -> dict[str, Any]:
            try:
                entries.set_result(deque(await stream.run(op)))
            except HranaError as exc:
                entries.set_exception(exc)
                raise
            except BaseException:
                entries.set_exception(internal_error())
                raise
            return {"type": "open_cursor"}

        return open_

    def _fetch_cursor(self, msg: dict[str, Any]) -> Job:
        cursor_id = int32(msg, "cursor_id")
        max_count = integer(msg.get("max_count"), "'max_count'", 0, UINT32_MAX)
        cursor = self.cursors.get(cursor_id)
        if cursor is None:
            raise HranaError(f"no cursor {cursor_id} is open", CURSOR_NOT_FOUND)

        async def fetch() -> dict[str, Any]:
            # Shielded: the future is shared by every fetch of this cursor.
            pending = await asyncio.shield(cursor.entries)
            count = min(max_count, MAX_FETCH, len(pending))
            taken = [pending.popleft() for _ in range(count)]
            return {"type": "fetch_cursor", "entries": taken, "done": not pending}

        return fetch

    def _spawn(self, request_id: int, job: Job) -> None:
        task = asyncio.get_running_loop().create_task(self._answer(request_id, job))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _answer(self, request_id: int, job: Job) -> None:
        try:
            try:
                response = await job()
                reply = {"type": "response_ok", "request_id": request_id, "response": response}
            except HranaError as exc:
                reply = {"type": "response_error", "request_id": request_id, "error": exc.to_json()}
            except Exception:
                log.exception("a Hrana WebSocket request failed")
                error = internal_error().to_json()
                reply = {"type": "response_error", "request_id": request_id, "error": error}
            await self._send(reply)
        finally:
            self.slots.release()

    async def _send(self, message: dict[str, Any]) -> None:
        text = dumps_text(message)
        async with self.send_lock:  # one frame at a time
            # A peer that is gone raises here; the reader sees the disconnect.
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await self.websocket.send_text(text)

    async def _close(self, code: int, reason: str) -> None:
        reason = reason.encode("utf-8")[:120].decode("utf-8", "ignore")  # 123 bytes at most
        async with self.send_lock:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await self.websocket.close(code=code, reason=reason)

    async def _cleanup(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        owned, self.owned = list(self.owned), set()
        self.streams.clear()
        self.cursors.clear()
        await asyncio.gather(*(s.close() for s in owned), return_exceptions=True)


async def _done(response: dict[str, Any]) -> dict[str, Any]:
    return response


async def _failed(exc: HranaError) -> Any:
    raise exc
