"""The explorer's live feed: `/_edge/events` (Server-Sent Events) and `/_edge/events/recent`.

Every worker reads the one event log of `edge up` (runtime.stores.events), so a
page gets every process's events whichever worker the kernel hands it to. One
watcher per worker looks at the log's newest id every POLL_SECONDS while a
stream is open, and wakes the streams when it moved; each stream then reads
the events after its own cursor. A stream ends when its client goes away or
when the worker stops (`close`), so a stop never waits for open pages. At most
MAX_STREAMS are open per worker: the next one gets a 503.

    GET /_edge/events            text/event-stream: `id: N` and `data: {json}` per event,
                                 `: ping` every PING_SECONDS; from `Last-Event-ID: N`
                                 or `?after=N` (0: what is kept), else from now
    GET /_edge/events/recent     {"events": [...], "last": N}: the newest `limit` (200)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..stores.events import KEEP, Event, EventLog
from .admin import loopback_only

MAX_STREAMS = 16
POLL_SECONDS = 0.1
PING_SECONDS = 15.0
READ_BATCH = 500
DEFAULT_RECENT = 200


class EventStreams:
    """The feed's endpoints of one worker, over its own connection to the log."""

    def __init__(
        self,
        log: EventLog,
        *,
        max_streams: int = MAX_STREAMS,
        poll_seconds: float = POLL_SECONDS,
        ping_seconds: float = PING_SECONDS,
    ) -> None:
        self.log = log
        self.max_streams = max_streams
        self.poll_seconds = poll_seconds
        self.ping_seconds = ping_seconds
        self.open = 0
        self._newest = 0
        self._moved = asyncio.Event()
        self._closing = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None

    def close(self) -> None:
        """End every stream now (the worker is stopping); new ones end at once."""
        self._closing.set()

    def routes(self) -> list[Route]:
        return [
            Route("/_edge/events", loopback_only(self.stream), methods=["GET"]),
            Route("/_edge/events/recent", loopback_only(self.recent), methods=["GET"]),
        ]

    async def recent(self, request: Request) -> Response:
        limit = _int_param(request, "limit", DEFAULT_RECENT)
        if not 1 <= limit <= KEEP:
            raise ValueError(f"limit must be between 1 and {KEEP}, not {limit}")
        events, last = await asyncio.to_thread(self._recent, limit)
        return JSONResponse({"events": [e.to_json() for e in events], "last": last})

    def _recent(self, limit: int) -> tuple[list[Event], int]:
        events = self.log.recent(limit)
        return events, events[-1].id if events else self.log.last_id()

    async def stream(self, request: Request) -> Response:
        cursor = _cursor(request)
        if self.open >= self.max_streams:
            return JSONResponse(
                {
                    "error": f"too many event streams open on this worker ({self.max_streams}); "
                    "close one (another tab of the explorer?) and try again"
                },
                status_code=503,
                headers={"retry-after": "5"},
            )
        newest = await asyncio.to_thread(self.log.last_id)
        if cursor is None:
            cursor = newest  # from now on
        elif cursor > newest:
            cursor = 0  # an id from a log since emptied (a new state directory): all is new
        self.open += 1  # given back by the response, however it ends
        self._start_watching(newest)
        return _EventStreamResponse(self._events(cursor), self._stream_closed)

    def _stream_closed(self) -> None:
        self.open -= 1

    def _start_watching(self, newest: int) -> None:
        if self._watcher is None or self._watcher.done():
            self._newest = max(self._newest, newest)
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        """While streams are open: wake them when the log's newest id moves."""
        while self.open > 0 and not self._closing.is_set():
            try:
                newest = await asyncio.to_thread(self.log.last_id)
            except Exception:  # a locked or broken file: look again at the next tick
                newest = self._newest
            if newest != self._newest:
                self._newest = newest
                moved, self._moved = self._moved, asyncio.Event()
                moved.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.poll_seconds)

    async def _events(self, cursor: int) -> AsyncIterator[bytes]:
        yield b": ping\n\n"  # the stream is open: headers and a first line go out now
        pinged = time.monotonic()
        while not self._closing.is_set():
            if self._newest > cursor:
                events = await asyncio.to_thread(self.log.after, cursor, READ_BATCH)
                if events:
                    cursor = events[-1].id
                    yield b"".join(_message(e) for e in events)
                    continue
                # Those ids were emptied away (`edge up` started again on this state dir).
                cursor = self._newest
            wait = self.ping_seconds - (time.monotonic() - pinged)
            if wait <= 0:
                yield b": ping\n\n"
                pinged = time.monotonic()
                continue
            await _first(self._moved.wait(), self._closing.wait(), timeout=wait)


class _EventStreamResponse(StreamingResponse):
    """A text/event-stream response that gives its stream's slot back when it ends."""

    def __init__(self, content: AsyncIterator[bytes], ended: Callable[[], None]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )
        self._ended = ended

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._ended()


def _message(event: Event) -> bytes:
    data = json.dumps(event.to_json(), separators=(",", ":"))
    return f"id: {event.id}\ndata: {data}\n\n".encode()


async def _first(*waits: Coroutine[Any, Any, object], timeout: float) -> None:
    """Wait until the first of `waits` is done, or `timeout` passes."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, not {raw!r}") from None


def _cursor(request: Request) -> int | None:
    """Where a stream starts: Last-Event-ID (a reconnect), else ?after=, else None (now)."""
    raw = request.headers.get("last-event-id")
    where = "Last-Event-ID"
    if raw is None or not raw.strip():
        raw, where = request.query_params.get("after"), "after"
    if raw is None:
        return None
    try:
        cursor = int(raw)
    except ValueError:
        raise ValueError(f"{where} must be an event id (an integer), not {raw!r}") from None
    if cursor < 0:
        raise ValueError(f"{where} must not be negative, not {cursor}")
    return cursor
