"""Every region's copy of every SQL database over Hrana, for `edge up`.

Each (region, database) gets its own loopback port, as each Turso database has
its own URL: `http://127.0.0.1:<port>` (and `ws://` for Hrana over WebSocket).
Statements go through the same Turso-model router as the handlers' do: reads
from the region's replica, writes forwarded to the primary with the round trip,
then replicated. The endpoints run in a thread of their own (one asyncio loop,
one hypercorn server per port) in the process that runs the replicator.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hypercorn.asyncio import serve
from starlette.types import ASGIApp

from ..errors import EdgeError
from ..hrana import create_hrana_app
from ..hrana.server import DEFAULT_MAX_BODY_BYTES
from ..regions.clock import RealClock
from ..regions.control import ControlFile, write_json
from ..regions.sql_routing import DEFAULT_WRITE_TIMEOUT, SqlRouter
from ..stores import ReplicaSync, StateLayout, StoreRegistry
from .endpoints import endpoints_path
from .guard import Guard, SameOrigin
from .server import bound_socket, hypercorn_config

log = logging.getLogger("edge.hrana")


@dataclass(frozen=True)
class Endpoint:
    region: str
    database: str
    url: str


class HranaService:
    def __init__(
        self,
        state_dir: Path,
        regions: Sequence[str],
        databases: Sequence[str],
        primary: str,
        control: ControlFile,
        guard: SameOrigin,
        *,
        host: str = "127.0.0.1",
        first_port: int = 0,
        token: str | None = None,
        write_timeout: float = DEFAULT_WRITE_TIMEOUT,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        clock = RealClock()
        layout = StateLayout(state_dir)
        self._state_dir = state_dir
        self._registries = {name: StoreRegistry(layout, name, clock=clock.now) for name in regions}
        self._sync = ReplicaSync(layout, primary, clock.now)
        self.router = SqlRouter(
            self._registries,
            primary,
            network=control.load,
            clock=clock,
            sync=self._sync,
            write_timeout=write_timeout,
        )
        self._token = token
        self._guard = guard
        self._max_body_bytes = max_body_bytes
        self._sockets: list[tuple[Endpoint, socket.socket]] = []
        pairs = [(region, db) for region in regions for db in databases]
        try:
            for i, (region, db) in enumerate(pairs):
                port = first_port + i if first_port else 0
                try:
                    sock = bound_socket(host, port, listen=True)
                except OSError as exc:
                    raise EdgeError(
                        f"cannot listen for the Hrana endpoint of {db!r} in {region} on "
                        f"{host}:{port}: {exc.strerror} (set --hrana-port)"
                    ) from exc
                shown = host if ":" not in host else f"[{host}]"
                url = f"http://{shown}:{sock.getsockname()[1]}"
                self._sockets.append((Endpoint(region, db, url), sock))
        except BaseException:
            self.close()
            raise
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="edge-hrana", daemon=True)
        self._started = threading.Event()

    @property
    def endpoints(self) -> list[Endpoint]:
        return [endpoint for endpoint, _ in self._sockets]

    def start(self) -> None:
        self._write_endpoints()
        self._thread.start()
        self._started.wait(timeout=10)

    def _write_endpoints(self) -> None:
        listing: dict[str, dict[str, str]] = {}
        for e in self.endpoints:
            listing.setdefault(e.region, {})[e.database] = e.url
        write_json(endpoints_path(self._state_dir), listing)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        servers = []
        for endpoint, sock in self._sockets:
            app: ASGIApp = create_hrana_app(
                functools.partial(self.router.connect, endpoint.region, endpoint.database),
                token=self._token,
                max_body_bytes=self._max_body_bytes,
            )
            app = Guard(app, self._guard, error_key="message")  # sqld's errors say "message"
            # hypercorn takes the descriptor over and closes it when it stops.
            config = hypercorn_config(f"fd://{sock.detach()}")
            servers.append(serve(app, config, shutdown_trigger=self._stop.wait))  # type: ignore[arg-type]
        self._started.set()
        await asyncio.gather(*servers)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.close()

    def close(self) -> None:
        for _, sock in self._sockets:
            sock.close()
        endpoints_path(self._state_dir).unlink(missing_ok=True)
        self._sync.close()
        for registry in self._registries.values():
            registry.close_all()
