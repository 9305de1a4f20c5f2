"""Streams, and the batons that carry an HTTP stream from one request to the next.

A stream owns one database connection. Its operations run one at a time, in
the order they were submitted, in worker threads of the app's pool (never on
the event loop): an asyncio.Lock serializes them (its waiters are served
first come, first served), and the lock is held until the thread is really
done. A request cancelled mid-statement (its client went away) still waits
for the statement to finish before it lets go, so no two threads ever use
one connection, and closing a stream (which rolls back its open transaction)
always comes after the statement in flight. Once begun, a close always
finishes, even if whoever asked for it is cancelled.

Over HTTP a stream lives between requests in a BatonTable under a random,
single-use baton. Each response hands out a fresh baton, so a stale, reused or
forged one is refused; a stream left idle for `idle_timeout` is closed, which
rolls back its open transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..stores import SqlError
from .errors import (
    BATON_INVALID,
    INTERNAL_ERROR,
    STREAM_CLOSED,
    STREAM_EXPIRED,
    STREAM_LIMIT,
    HranaError,
)
from .ops import Op
from .statements import Conn, SqlTexts

log = logging.getLogger("edge.hrana")

T = TypeVar("T")

_REMEMBERED_EXPIRIES = 1024  # expired batons kept to tell "expired" from "unknown"

# Closes under way: a task nobody awaits any more must not be garbage-collected.
_closing: set[asyncio.Task[None]] = set()


async def in_thread(pool: Executor, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a thread of `pool`. If the caller is cancelled meanwhile, it
    still waits for the thread to finish (a statement cannot be abandoned
    halfway) and only then raises CancelledError."""
    future = asyncio.wrap_future(pool.submit(fn, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        while not future.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([future])
        if not future.cancelled():
            future.exception()  # nobody is left to take it; not "never retrieved"
        raise


class Stream:
    def __init__(self, connect: Callable[[], Conn], pool: Executor) -> None:
        self._connect = connect
        self._pool = pool
        self._conn: Conn | None = None
        self._failure: HranaError | None = None
        self._lock = asyncio.Lock()
        self._closed: asyncio.Task[None] | None = None
        self._shut = False  # the connection has been given back

    @property
    def closed(self) -> bool:
        return self._closed is not None

    async def open(self) -> None:
        """Connect now, so that a failure answers `open_stream` itself."""
        await self.run(lambda conn: None)

    async def run(self, op: Op) -> Any:
        if self.closed:  # asked for after close(); what was asked before still runs
            raise HranaError("the stream is closed", STREAM_CLOSED)
        async with self._lock:
            if self._shut:
                raise HranaError("the stream is closed", STREAM_CLOSED)
            failure = self._failure
            if failure is not None:
                raise HranaError(failure.message, failure.code, failure.status)
            return await in_thread(self._pool, self._call, op)

    def _call(self, op: Op) -> Any:
        if self._conn is None:
            try:
                self._conn = self._connect()
            except SqlError as exc:
                self._failure = HranaError(
                    f"the stream could not connect to the database: {exc.message}",
                    exc.code or INTERNAL_ERROR,
                    500,
                )
                raise self._failure from None
        return op(self._conn)

    async def close(self) -> None:
        """Close the connection after the operation in flight; an open transaction rolls back.

        Operations asked for before it still run first, none asked for after it;
        once asked for, the close finishes even if this call is cancelled."""
        if self._closed is None:
            self._closed = asyncio.get_running_loop().create_task(self._close())
            _closing.add(self._closed)
            self._closed.add_done_callback(_closing.discard)
        await asyncio.shield(self._closed)

    async def _close(self) -> None:
        async with self._lock:
            self._shut = True
            conn, self._conn = self._conn, None
            if conn is not None:
                await in_thread(self._pool, _close_quietly, conn)


def _close_quietly(conn: Conn) -> None:
    try:
        conn.close()
    except Exception:
        log.exception("closing a Hrana stream's connection failed")


@dataclass(eq=False)
class HttpStream:
    stream: Stream
    sqls: SqlTexts = field(default_factory=SqlTexts)  # store_sql is per stream over HTTP
    timer: asyncio.TimerHandle | None = None


class BatonTable:
    def __init__(
        self, new_stream: Callable[[], Stream], *, idle_timeout: float, max_streams: int
    ) -> None:
        self._new_stream = new_stream
        self.idle_timeout = idle_timeout
        self.max_streams = max_streams
        self._parked: dict[str, HttpStream] = {}
        self._live: set[HttpStream] = set()  # parked or serving a request
        self._expired: OrderedDict[str, None] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._live)

    def open(self) -> HttpStream:
        if len(self._live) >= self.max_streams:
            raise HranaError(
                f"too many open streams (at most {self.max_streams}); close some, or wait "
                f"{self.idle_timeout:g}s for idle ones to expire",
                STREAM_LIMIT,
                503,
            )
        entry = HttpStream(self._new_stream())
        self._live.add(entry)
        return entry

    def take(self, baton: str) -> HttpStream:
        """The stream of a baton, which is used up by this."""
        entry = self._parked.pop(baton, None)
        if entry is None:
            if baton in self._expired:
                raise HranaError(
                    f"the stream of this baton was idle for over {self.idle_timeout:g}s and "
                    "was closed; any open transaction was rolled back",
                    STREAM_EXPIRED,
                )
            raise HranaError("unknown or already used baton", BATON_INVALID)
        if entry.timer is not None:
            entry.timer.cancel()
        return entry

    def park(self, entry: HttpStream) -> str | None:
        """Keep the stream for the next request: its new baton, or None once it is closed."""
        if entry.stream.closed:
            self._live.discard(entry)
            return None
        baton = secrets.token_urlsafe(24)
        loop = asyncio.get_running_loop()
        entry.timer = loop.call_later(self.idle_timeout, self._expire, baton)
        self._parked[baton] = entry
        return baton

    def drop(self, entry: HttpStream) -> None:
        """Forget a stream, closing it in the background (its request failed or it expired)."""
        self._live.discard(entry)
        task = asyncio.get_running_loop().create_task(entry.stream.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _expire(self, baton: str) -> None:
        entry = self._parked.pop(baton, None)
        if entry is None:
            return
        self._expired[baton] = None
        while len(self._expired) > _REMEMBERED_EXPIRIES:
            self._expired.popitem(last=False)
        self.drop(entry)

    async def close_all(self) -> None:
        entries, self._live = list(self._live), set()
        for entry in self._parked.values():
            if entry.timer is not None:
                entry.timer.cancel()
        self._parked.clear()
        closing = [entry.stream.close() for entry in entries]
        await asyncio.gather(*closing, *self._closing, return_exceptions=True)
