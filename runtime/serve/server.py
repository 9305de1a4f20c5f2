"""The HTTP side of `edge up`: an ASGI app served by hypercorn.

The app's requests take a short path of their own (`app_requests.py`): read
(bounded in size and time, see `incoming.py`), given a region and handed to
the wasm thread; the server never touches wasm itself. Inspection endpoints
under `/_edge/` are starlette routes that answer loopback clients only, and
only this server's pages (`guard.py`). Connections are accepted by
`listener.py`, at most `max_connections` at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass

from hypercorn.config import Config as HypercornConfig
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp

from ..regions.control import ControlFile
from ..stores.events import NO_EVENTS, EventSink
from ..wasm.thread import WasmThread
from .admin import ADMIN_PREFIX, HEALTH_PATH, admin_routes
from .app_requests import AppRequests
from .event_stream import EventStreams
from .explorer_api import explorer_routes, page_paths
from .guard import Guard, SameOrigin
from .host import EdgeHost
from .incoming import IncomingGuard
from .listener import connection_limit, serve_connections
from .triggers import Triggers


@dataclass
class ServerOptions:
    max_body_bytes: int
    public_url: str
    body_timeout: float  # seconds for a whole request body, from its head
    same_origin: SameOrigin  # who may use the admin API under /_edge/
    admin_token: str | None = None
    log_requests: bool = True  # one info line per request (else the terminal's live status)


def create_app(
    host: EdgeHost,
    wasm: WasmThread,
    control: ControlFile,
    options: ServerOptions,
    triggers: Triggers | None = None,
    events: EventSink = NO_EVENTS,
    streams: EventStreams | None = None,
) -> AppRequests:
    """The server's ASGI app: the app's requests, and starlette's routes under /_edge/."""
    guard = Middleware(
        Guard,
        policy=options.same_origin,
        prefix=ADMIN_PREFIX,
        token=options.admin_token,
        # The explorer's files hold no state: they load without the token, and
        # the page sends it with every call of its own.
        open_paths={HEALTH_PATH, *page_paths()},
    )
    admin = Starlette(
        routes=[
            *admin_routes(host, wasm, control, options.public_url, triggers, events),
            *(streams.routes() if streams is not None else []),
            *explorer_routes(host, wasm, control),
        ],
        middleware=[Middleware(IncomingGuard, body_timeout=options.body_timeout), guard],
    )
    return AppRequests(
        host,
        wasm,
        admin,
        max_body_bytes=options.max_body_bytes,
        body_timeout=options.body_timeout,
        log_requests=options.log_requests,
        events=events,
    )


def hypercorn_config(bind: str | None = None) -> HypercornConfig:
    """hypercorn's settings; `bind` only where hypercorn opens the socket itself."""
    config = HypercornConfig()
    if bind is not None:
        config.bind = [bind]
    config.accesslog = None  # the app logs each request itself, with its region
    config.errorlog = logging.getLogger("edge.hypercorn")
    config.graceful_timeout = 2.0
    config.keep_alive_timeout = 5.0
    return config


async def serve_forever(
    app: ASGIApp,
    sock: socket.socket,
    max_connections: int,
    stopping: Callable[[], None] | None = None,
) -> None:
    """Serve on the listening `sock` until SIGINT or SIGTERM; closes `sock`.

    `stopping` is called at the signal, before the graceful wait: it ends the
    responses that would never end by themselves (event streams)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    limit = connection_limit(max_connections)

    async def shutdown() -> None:
        await stop.wait()
        if stopping is not None:
            stopping()

    await serve_connections(app, hypercorn_config(), sock, limit, shutdown)


def bound_socket(host: str, port: int, *, listen: bool) -> socket.socket:
    """A socket on HOST:PORT with SO_REUSEPORT.

    Each worker process listens on its own socket of the same port, and the
    kernel spreads new connections across them; one shared socket let a single
    worker win every connection of a burst while the others idled. The
    supervisor binds one that does not listen, to claim the port and report a
    clash before any worker starts.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(1024)
    return sock
