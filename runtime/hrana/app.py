"""The ASGI app: one database per URL, HTTP and WebSocket routes, auth, shutdown."""

from __future__ import annotations

import asyncio
import functools
import hmac
import ipaddress
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from .errors import NOT_FOUND, HranaError
from .statements import Conn
from .streams import BatonTable, Stream

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024  # as the edge server's request bodies
DEFAULT_IDLE_TIMEOUT = 10.0  # seconds an HTTP stream waits for its next request
DEFAULT_MAX_STREAMS = 1024  # open HTTP streams per database
DEFAULT_MAX_THREADS = 32  # statements running at once in worker threads, per app
DATABASE_HEADER = "x-edge-database"

Connect = Callable[[], Conn]


@dataclass(eq=False)
class Database:
    name: str
    connect: Connect
    batons: BatonTable


class HranaServer:
    """What the routes of one app share: its databases, the token, limits, the thread limiter."""

    def __init__(
        self,
        databases: Mapping[str, Connect] | Connect,
        *,
        token: str | None,
        max_body_bytes: int,
        idle_timeout: float,
        max_streams: int,
        max_threads: int,
    ) -> None:
        if max_body_bytes <= 0 or idle_timeout <= 0 or max_streams <= 0 or max_threads <= 0:
            raise ValueError("limits must be positive")
        connects = {"default": databases} if callable(databases) else dict(databases)
        if not connects:
            raise ValueError("no database to serve")
        self.databases = {
            name: Database(
                name,
                connect,
                BatonTable(
                    functools.partial(self.new_stream, connect),
                    idle_timeout=idle_timeout,
                    max_streams=max_streams,
                ),
            )
            for name, connect in connects.items()
        }
        self._token = token.encode("utf-8") if token else None  # "" means no token
        self.max_body_bytes = max_body_bytes
        self._max_threads = max_threads
        self._limiter: anyio.CapacityLimiter | None = None
        self._limiter_loop: asyncio.AbstractEventLoop | None = None

    @property
    def needs_token(self) -> bool:
        return self._token is not None

    def new_stream(self, connect: Connect) -> Stream:
        # A limiter belongs to one event loop: made in the loop that serves the app.
        loop = asyncio.get_running_loop()
        if self._limiter is None or self._limiter_loop is not loop:
            self._limiter = anyio.CapacityLimiter(self._max_threads)
            self._limiter_loop = loop
        return Stream(connect, self._limiter)

    def _matches(self, candidate: bytes) -> bool:
        return self._token is not None and hmac.compare_digest(candidate, self._token)

    def jwt_matches(self, jwt: object) -> bool:
        """hello's `jwt` against the token; without a configured token anything passes."""
        if self._token is None:
            return True
        return isinstance(jwt, str) and self._matches(jwt.encode("utf-8", "surrogatepass"))

    def bearer_matches(self, authorization: str | None) -> bool:
        """`Authorization: Bearer <token>`, compared in constant time."""
        if self._token is None:
            return True  # libsql-client sends "Bearer None" when it has no token
        scheme, _, credentials = (authorization or "").partition(" ")
        # Starlette decodes header bytes as latin-1: encoding back gives the bytes
        # sent, so a UTF-8 token compares equal to itself.
        raw = credentials.strip().encode("latin-1", "replace")
        return scheme.lower() == "bearer" and self._matches(raw)

    def pick(self, conn: HTTPConnection) -> Database:
        """The database of a request: the `x-edge-database` header, else the host's first label.

        `http://notes.localhost:8080` serves database `notes`, as sqld serves a
        namespace per subdomain. An app with one database serves it for any host.
        """
        named = conn.headers.get(DATABASE_HEADER)
        if named is None:
            host = conn.url.hostname or ""
            named = host.split(".")[0] if "." in host and not _is_ip(host) else ""
            if named not in self.databases and len(self.databases) == 1:
                return next(iter(self.databases.values()))
        database = self.databases.get(named)
        if database is None:
            known = ", ".join(sorted(self.databases))
            raise HranaError(f"no database {named!r} here; databases: {known}", NOT_FOUND, 404)
        return database

    async def close(self) -> None:
        for database in self.databases.values():
            await database.batons.close_all()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def create_hrana_app(
    databases: Mapping[str, Connect] | Connect,
    *,
    token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    max_streams: int = DEFAULT_MAX_STREAMS,
    max_threads: int = DEFAULT_MAX_THREADS,
) -> Starlette:
    """A Hrana server (HTTP v1/v2/v3 JSON and WebSocket hrana1/2/3 JSON) at `/`.

    `databases` is one `connect()` (served for every host name), or several by
    name, chosen per request as `HranaServer.pick` says. Each Hrana stream owns
    one connection from `connect()`. With `token`, HTTP requests need
    `Authorization: Bearer <token>` and WebSocket clients the token as hello's `jwt`.
    """
    from .http import http_routes
    from .websocket import websocket_routes

    server = HranaServer(
        databases,
        token=token,
        max_body_bytes=max_body_bytes,
        idle_timeout=idle_timeout,
        max_streams=max_streams,
        max_threads=max_threads,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await server.close()  # open HTTP streams roll back

    app = Starlette(routes=[*websocket_routes(server), *http_routes(server)], lifespan=lifespan)
    app.state.hrana = server
    return app
