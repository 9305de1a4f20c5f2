"""What the routes of one Hrana app share: the database, its token, limits, streams."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .libsql import Database, LibsqlConnection
from .streams import BatonTable, Stream

Connect = Callable[[], Database]

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024  # as the edge server's request bodies
DEFAULT_IDLE_TIMEOUT = 10.0  # seconds an HTTP stream waits for its next request
DEFAULT_MAX_STREAMS = 1024  # open HTTP streams per database
DEFAULT_MAX_THREADS = 32  # statements running at once in worker threads, per app


class HranaServer:
    """What the routes of one app share: its database, the token, limits, the thread pool."""

    def __init__(
        self,
        connect: Connect,
        *,
        token: str | None,
        max_body_bytes: int,
        idle_timeout: float,
        max_streams: int,
        max_threads: int,
    ) -> None:
        if max_body_bytes <= 0 or idle_timeout <= 0 or max_streams <= 0 or max_threads <= 0:
            raise ValueError("limits must be positive")
        self.connect = connect
        self.batons = BatonTable(
            self.new_stream, idle_timeout=idle_timeout, max_streams=max_streams
        )
        self._token = token.encode("utf-8") if token else None  # "" means no token
        self.max_body_bytes = max_body_bytes
        # Every statement of the app's streams runs here (see streams.py).
        self.pool = ThreadPoolExecutor(max_threads, thread_name_prefix="edge-hrana-sql")

    def new_stream(self) -> Stream:
        return Stream(lambda: LibsqlConnection(self.connect()), self.pool)

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

    async def close(self) -> None:
        await self.batons.close_all()
        self.pool.shutdown(wait=False)  # idle threads end; nothing is left queued
