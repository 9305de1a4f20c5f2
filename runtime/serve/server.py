"""The HTTP side of `edge up`: a starlette app served by hypercorn.

The server reads requests (bounded in size and time, see `incoming.py`), picks
the region, and hands the request to the wasm thread; it never touches wasm
itself. Inspection endpoints under `/_edge/` answer loopback clients only, and
only this server's pages (`guard.py`). Connections are accepted by
`listener.py`, at most `max_connections` at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from hypercorn.config import Config as HypercornConfig
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..regions.control import ControlFile
from ..stores.events import NO_EVENTS, EventSink, clip
from ..wasm.instances import HttpResponse
from ..wasm.thread import WasmThread
from .admin import ADMIN_PREFIX, HEALTH_PATH, REGION_HEADER, admin_routes
from .event_stream import EventStreams
from .explorer_api import explorer_routes, page_paths
from .guard import Guard, SameOrigin
from .host import EdgeHost
from .incoming import IncomingGuard, read_body
from .listener import connection_limit, serve_connections
from .triggers import Triggers

log = logging.getLogger("edge.http")


@dataclass
class ServerOptions:
    max_body_bytes: int
    public_url: str
    body_timeout: float  # seconds for a whole request body, from its head
    same_origin: SameOrigin  # who may use the admin API under /_edge/
    admin_token: str | None = None
    log_requests: bool = True  # one info line per request (else the terminal's live status)


class UnknownRegion(Exception):
    pass


def pick_region(request: Request, host: EdgeHost) -> str:
    """Region by `x-edge-region`, then by host name (`eu-west.localhost`), else default.

    UnknownRegion if the header names no region, or a name under `localhost`
    (where the first label can only mean a region) does not start with one.
    Other host names (`localhost`, an IP address, the machine's name) that do
    not start with a region get the default region.
    """
    named = request.headers.get(REGION_HEADER)
    if named is not None:
        if named in host.regions:
            return named
        raise UnknownRegion(f"unknown region {named!r} in {REGION_HEADER}")
    hostname = (request.url.hostname or "").lower().rstrip(".")
    label, dot, _ = hostname.partition(".")
    if dot and label in host.regions:
        return label
    if hostname.endswith(".localhost"):
        raise UnknownRegion(f"unknown region {label!r} in the host name {hostname}")
    return host.default_region


def _to_starlette(resp: HttpResponse, region: str) -> Response:
    status = resp.status if 100 <= resp.status <= 599 else 500
    out = Response(content=resp.body, status_code=status)
    headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1", "replace"))
        for k, v in resp.headers
        if k.lower() not in ("content-length", "transfer-encoding", "connection")
    ]
    headers.append((b"content-length", str(len(resp.body)).encode()))
    headers.append((REGION_HEADER.encode(), region.encode()))
    out.raw_headers = headers
    return out


def create_app(
    host: EdgeHost,
    wasm: WasmThread,
    control: ControlFile,
    options: ServerOptions,
    triggers: Triggers | None = None,
    events: EventSink = NO_EVENTS,
    streams: EventStreams | None = None,
) -> Starlette:
    async def edge_request(request: Request) -> Response:
        started = time.perf_counter()
        region: str | None = None
        try:
            region = pick_region(request, host)
        except UnknownRegion as exc:
            known = ", ".join(host.regions)
            response: Response = JSONResponse(
                {"error": f"{exc}; regions are: {known}"}, status_code=400
            )
        else:
            response = await _dispatch(request, region)
        elapsed = (time.perf_counter() - started) * 1000
        if options.log_requests:
            log.info(
                "%s %s %d %.1fms %s",
                request.method,
                request.url.path,
                response.status_code,
                elapsed,
                region or "-",
            )
        if region is not None:
            events.emit(
                "request",
                {
                    "region": region,
                    "method": request.method,
                    "path": clip(request.url.path),
                    "status": response.status_code,
                    "ms": round(elapsed, 3),
                    "component": host.component_for(request.method, str(request.url)),
                },
            )
        return response

    async def _dispatch(request: Request, region: str) -> Response:
        body = await read_body(request, options.max_body_bytes)  # BodyError: IncomingGuard
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]]
        client = f"{request.client.host}:{request.client.port}" if request.client else "0.0.0.0:0"
        future = wasm.submit(
            host.handle, region, request.method, str(request.url), headers, body, client
        )
        result = await asyncio.wrap_future(future)
        return _to_starlette(result, region)

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    guard = Middleware(
        Guard,
        policy=options.same_origin,
        prefix=ADMIN_PREFIX,
        token=options.admin_token,
        # The explorer's files hold no state: they load without the token, and
        # the page sends it with every call of its own.
        open_paths={HEALTH_PATH, *page_paths()},
    )
    return Starlette(
        routes=[
            *admin_routes(host, wasm, control, options.public_url, triggers, events),
            *(streams.routes() if streams is not None else []),
            *explorer_routes(host, wasm, control),
            Route("/{path:path}", edge_request, methods=methods),
        ],
        middleware=[Middleware(IncomingGuard, body_timeout=options.body_timeout), guard],
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
    app: Starlette,
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
