"""The ASGI app: one database, HTTP and WebSocket routes, auth, shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from .http import http_routes
from .server import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_STREAMS,
    DEFAULT_MAX_THREADS,
    Connect,
    HranaServer,
)
from .websocket import websocket_routes


def create_hrana_app(
    connect: Connect,
    *,
    token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    max_streams: int = DEFAULT_MAX_STREAMS,
    max_threads: int = DEFAULT_MAX_THREADS,
) -> Starlette:
    """A Hrana server (HTTP v1/v2/v3 JSON and WebSocket hrana1/2/3 JSON) at `/`.

    Each Hrana stream owns one connection from `connect()`. With `token`, HTTP requests need
    `Authorization: Bearer <token>` and WebSocket clients the token as hello's `jwt`.
    """
    server = HranaServer(
        connect,
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

    return Starlette(routes=[*websocket_routes(server), *http_routes(server)], lifespan=lifespan)
