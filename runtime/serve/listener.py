"""Accepting connections, at most `max_connections` open at once, each served by hypercorn.

hypercorn accepts every connection the kernel offers. A crowd of clients that
never finish their requests then takes every file descriptor of the process,
after which it can accept no one, and asyncio logs "socket.accept() out of
system resource" on every try. Here a worker stops accepting while it holds
`max_connections`; the next ones wait in the kernel's listen queue, using no
descriptor, until an open one closes (a slow head is cut by hypercorn's
keep-alive timeout, a slow body by the body timeout of `incoming.py`). This
is what nginx's `worker_connections` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import socket
from collections.abc import Awaitable, Callable

from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config
from hypercorn.utils import wrap_app
from starlette.types import ASGIApp

log = logging.getLogger("edge.http")

# Descriptors kept free for the rest of the process (stores, instances, pipes).
RESERVED_DESCRIPTORS = 64
ACCEPT_RETRY_SECONDS = 0.5


def connection_limit(wanted: int) -> int:
    """`wanted`, or as many as the open-files limit leaves room for (with a warning)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    try:
        used = len(os.listdir("/dev/fd"))
    except OSError:  # no descriptor left even to list them
        used = soft
    room = max(1, soft - used - RESERVED_DESCRIPTORS)
    if wanted > room:
        log.warning(
            "max_connections %d is more than the open-files limit (%d) leaves room for: "
            "using %d (raise it with `ulimit -n`)",
            wanted,
            soft,
            room,
        )
        return room
    return wanted


def no_delay(conn: socket.socket) -> None:
    """Send each write at once. asyncio sets TCP_NODELAY only on sockets whose proto
    is IPPROTO_TCP, and an accepted one has proto 0: without it, a response written
    as headers then body waits for the client's delayed ACK (40 ms on Linux)."""
    if conn.family in (socket.AF_INET, socket.AF_INET6):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def serve_connections(
    app: ASGIApp,
    config: Config,
    listener: socket.socket,
    max_connections: int,
    shutdown: Callable[[], Awaitable[object]],
) -> None:
    """Serve `app` on the listening socket until `shutdown` returns, then close it.

    As hypercorn's own `serve` does on shutdown: no new connections, idle ones
    closed, requests under way given `config.graceful_timeout` to finish.
    """
    loop = asyncio.get_running_loop()
    wrapped = wrap_app(app, config.wsgi_max_body_size, "asgi")  # type: ignore[arg-type]
    context = WorkerContext(None)
    slots = asyncio.Semaphore(max_connections)
    open_connections: set[asyncio.Task[None]] = set()
    listener.setblocking(False)

    async def serve_one(conn: socket.socket) -> None:
        try:
            no_delay(conn)
            reader, writer = await asyncio.open_connection(sock=conn)
        except OSError:
            conn.close()
            return
        await TCPServer(wrapped, loop, config, context, {}, reader, writer)

    def closed(task: asyncio.Task[None]) -> None:
        open_connections.discard(task)
        slots.release()

    async def accept_forever() -> None:
        while True:
            await slots.acquire()
            try:
                conn, _ = await loop.sock_accept(listener)
            except (ConnectionAbortedError, InterruptedError):
                slots.release()  # the client gave up before we accepted
                continue
            except OSError as exc:  # out of descriptors or memory: wait for some to free up
                slots.release()
                log.warning("cannot accept a connection: %s", exc)
                await asyncio.sleep(ACCEPT_RETRY_SECONDS)
                continue
            task = loop.create_task(serve_one(conn))
            open_connections.add(task)
            task.add_done_callback(closed)

    accepting = loop.create_task(accept_forever())
    try:
        await shutdown()
    finally:
        accepting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await accepting
        listener.close()
        await context.terminated.set()
        if open_connections:
            _, late = await asyncio.wait(open_connections, timeout=config.graceful_timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
