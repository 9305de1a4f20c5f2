"""The app as `edge up` serves it: components, regions, and Spin's HTTP trigger.

`EdgeHost.handle` takes a request already read off the wire, finds the
component whose trigger route matches (Spin's rules), adds the headers Spin
adds, and runs it in a fresh instance in the chosen region. It is synchronous
and must run on the process's wasm thread; the server and the test emulator
both drive it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from framework.routing import Router

from ..app.model import ComponentSpec, Manifest
from ..app.outbound import component_hosts
from ..app.variables import VariableResolver
from ..errors import EdgeError
from ..outbound import ConnectionLimit, RedisConnector, RedisOptions
from ..outbound.chain_server import ChainedRequest, ChainServer
from ..outbound.http_policy import HttpPolicy
from ..regions.clock import Clock, RealClock
from ..regions.network import Network
from ..regions.sql_routing import DEFAULT_WRITE_TIMEOUT, RoutedConnection, SqlRouter
from ..stores import KVStore, ReplicaSync, SqlConnection, StateLayout, StoreRegistry
from ..stores.events import NO_EVENTS, EventSink
from ..wasm.bindings import Grants, HostServices
from ..wasm.engine import WasmEngine
from ..wasm.instances import (
    MAX_RESPONSE_BODY_BYTES,
    TRIGGER_EXPORTS,
    ComponentRunner,
    DeadlineExceeded,
    GuestFailure,
    HttpRequest,
    HttpResponse,
    Overloaded,
    ReadyPool,
    ResponseTooLarge,
    missing_trigger_export,
)
from ..wasm.reuse import FRESH, ReusePolicy

if TYPE_CHECKING:  # libsql-client (and aiohttp) load only when a runtime config needs them
    from wasmtime.component import Component

    from ..stores.remote import RemoteDatabase

log = logging.getLogger("edge.host")

# The authority of a self or chained request's URL as its handler sees it.
CHAINED_AUTHORITY = "self.alt"

# (region, label, store) -> what the guest's key-value calls go to (the emulator
# wraps stores to record their history).
KVWrapper = Callable[[str, str, KVStore], object]
# (region, label, connection) -> what the guest's SQL calls go to (likewise).
SqlWrapper = Callable[[str, str, SqlConnection | RoutedConnection], object]


@dataclass(frozen=True)
class HostLimits:
    deadline_ms: int = 5000  # wall-clock time for the whole request, host calls included
    memory_limit_bytes: int = 256 * 1024 * 1024
    pool_size: int = 2
    max_response_body_bytes: int = MAX_RESPONSE_BODY_BYTES
    reuse: ReusePolicy = FRESH  # one request per instance unless asked


def json_error(status: int, message: str) -> HttpResponse:
    """An answer of the host's own: `{"error": message}`."""
    body = json.dumps({"error": message}).encode()
    return HttpResponse(status, [("content-type", "application/json")], body)


class Region:
    """One emulated edge region: its own stores and its own instances."""

    def __init__(
        self,
        name: str,
        host: EdgeHost,
        layout: StateLayout,
    ) -> None:
        self.name = name
        self.stores = StoreRegistry(layout, name, clock=host.clock.now)
        self._kv_wrapper = host.kv_wrapper
        self._host = host
        self.runners: dict[str, ComponentRunner] = {}
        for cid in host.manifest.components:
            self.runners[cid] = self.make_runner(cid, host.components[cid])

    def make_runner(self, cid: str, component: Component) -> ComponentRunner:
        host, name = self._host, self.name
        services = HostServices(
            grants=Grants(
                cid,
                frozenset(host.spec(cid).key_value_stores),
                frozenset(host.spec(cid).sqlite_databases),
            ),
            open_kv=self._open_kv,
            connect_sql=lambda label: host.connect_sql(name, label),
            resolve_variable=functools.partial(host.variables.resolve, cid),
            open_redis=host.redis[cid].open,
            http_policy=host.http_policy(cid, name),
            chain=host.chain,
            region=name,
            sleep=host.clock.sleep,
            events=host.events,
        )
        return ComponentRunner(
            host.engine,
            component,
            services,
            deadline_ms=host.limits.deadline_ms,
            memory_limit_bytes=host.limits.memory_limit_bytes,
            pool_size=host.limits.pool_size,
            max_response_body_bytes=host.limits.max_response_body_bytes,
            reuse=host.limits.reuse,
            clock=host.clock.now,
            ready_pool=host.ready_pools[cid],
        )

    def _open_kv(self, label: str) -> object:
        store = self.stores.kv(label)
        return store if self._kv_wrapper is None else self._kv_wrapper(self.name, label, store)

    def expire_idle(self) -> None:
        for runner in self.runners.values():
            runner.expire_idle()

    def close(self) -> None:
        self.stores.close_all()
        self.runners.clear()  # their instances and components


class EdgeHost:
    def __init__(
        self,
        manifest: Manifest,
        *,
        state_dir: Path,
        regions: list[str],
        default_region: str | None = None,
        limits: HostLimits | None = None,
        engine: WasmEngine | None = None,
        env: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        kv_wrapper: KVWrapper | None = None,
        sql_wrapper: SqlWrapper | None = None,
        primary_region: str | None = None,
        network: Callable[[], Network] | None = None,
        sql_write_timeout: float = DEFAULT_WRITE_TIMEOUT,
        remote_sql: Mapping[str, RemoteDatabase] | None = None,
        redis: RedisOptions | None = None,
        variable_fallbacks: Mapping[str, str] | None = None,
        origins: Mapping[str, str] | None = None,
        events: EventSink = NO_EVENTS,
    ) -> None:
        if not regions:
            raise EdgeError("at least one region is needed")
        self.manifest = manifest
        self.clock: Clock = clock or RealClock()
        self.events = events
        self.kv_wrapper = kv_wrapper
        self.sql_wrapper = sql_wrapper
        # Labels on a remote libSQL server (runtime config): outside every region.
        # The host closes them.
        self.remote_sql = dict(remote_sql or {})
        self.limits = limits or HostLimits()
        self.engine = engine or WasmEngine()
        self.engine.start_ticker()
        # Explicit `env` (tests) means exactly that environment, no `.env` file.
        self.variables = VariableResolver(
            manifest,
            os.environ if env is None else env,
            dotenv_path=Path(".env") if env is None else None,
            fallbacks=variable_fallbacks,
        )
        self.variables.check_required(list(manifest.components))
        fixed = Network(list(regions))
        self.redis = self._redis_connectors(redis or RedisOptions())
        # Outbound HTTP: host names placed in a region (--origin), and the
        # in-process endpoint of self and chained requests (listening on first use).
        self.origins = dict(origins or {})
        unknown = sorted(set(self.origins.values()) - set(regions))
        if unknown:
            raise EdgeError(
                f"origin region {', '.join(unknown)} is not one of the regions "
                f"({', '.join(regions)})"
            )
        self.network: Callable[[], Network] = network or (lambda: fixed)
        self.chain = ChainServer(self._serve_chained, self.limits.max_response_body_bytes)
        self.components = {
            cid: self.engine.load(spec.source) for cid, spec in manifest.components.items()
        }
        self._check_trigger_exports()
        self.router: Router = Router()
        for route, cid in manifest.routes():
            self.router.add(route, cid)
        layout = StateLayout(state_dir)
        self.ready_pools = {cid: ReadyPool(self.limits.pool_size) for cid in self.components}
        self.regions = {name: Region(name, self, layout) for name in regions}
        self.default_region = default_region or regions[0]
        self.primary_region = primary_region or self.default_region
        if self.primary_region not in self.regions:
            raise EdgeError(
                f"primary region {self.primary_region!r} is not one of the regions "
                f"({', '.join(regions)})"
            )
        self.replica_sync = ReplicaSync(layout, self.primary_region, self.clock.now)
        self.sql = SqlRouter(
            {name: region.stores for name, region in self.regions.items()},
            self.primary_region,
            network=self.network,
            clock=self.clock,
            sync=self.replica_sync,
            write_timeout=sql_write_timeout,
            events=events,
        )

    def _redis_connectors(self, options: RedisOptions) -> dict[str, RedisConnector]:
        # One limit for the app (Spin's connection semaphore); regions share the
        # connectors, since they all reach the same Redis server.
        limit = ConnectionLimit(options.max_connections)
        ids = list(self.manifest.components)
        return {
            cid: RedisConnector.for_component(
                component_hosts(spec.allowed_outbound_hosts, spec.allowed_http_hosts),
                self.variables.app_value,
                ids,
                limit,
                options,
            )
            for cid, spec in self.manifest.components.items()
        }

    def http_policy(self, component_id: str, region: str) -> HttpPolicy:
        spec = self.manifest.components[component_id]

        def round_trip(origin_region: str) -> float:
            return 2 * self.network().latency(region, origin_region)

        return HttpPolicy.for_component(
            component_id,
            component_hosts(spec.allowed_outbound_hosts, spec.allowed_http_hosts),
            self.variables.app_value,
            list(self.manifest.components),
            self.origins,
            round_trip,
        )

    def kv_labels(self) -> list[str]:
        """Every key-value store some component of the app may open."""
        return app_labels(self.manifest)[0]

    def sql_labels(self) -> list[str]:
        """Every emulated SQL database some component of the app may open."""
        return app_labels(self.manifest, self.remote_sql)[1]

    def connect_sql(self, region: str, label: str) -> object:
        """The connection a guest's `open` gets: remote, or in the region (maybe wrapped)."""
        remote = self.remote_sql.get(label)
        if remote is not None:
            return remote.connect()
        conn = self.sql.connect(region, label)
        return conn if self.sql_wrapper is None else self.sql_wrapper(region, label, conn)

    def spec(self, component_id: str) -> ComponentSpec:
        return self.manifest.components[component_id]

    def refill_one(self) -> bool:
        """One step of background work (the wasm thread's idle hook): reused instances
        past their idle timeout dropped, one instance made for the emptiest pool.
        True while some pool is still short."""
        for region in self.regions.values():
            region.expire_idle()
        short = [cid for cid, pool in self.ready_pools.items() if pool.short()]
        if not short:
            return False
        cid = min(short, key=lambda c: len(self.ready_pools[c]))
        # Any region's runner makes it: the one that takes it binds it to its region.
        next(iter(self.regions.values())).runners[cid].refill_one()
        return len(short) > 1 or self.ready_pools[cid].short()

    def prefill(self) -> None:
        while self.refill_one():
            pass

    def component_for(self, method: str, path: str) -> str | None:
        """The component that `handle` runs for a request to `path` (None: no route matches)."""
        match = self.router.match(method, path or "/")
        return None if match is None else match.handler

    def handle(
        self,
        region: str,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        client_addr: str = "127.0.0.1:0",
    ) -> HttpResponse:
        parts = urlsplit(url)
        path = parts.path or "/"
        match = self.router.match(method, path)
        if match is None:
            return json_error(404, "not found")
        spin_headers = spin_request_headers(
            url, match.route, match.params, match.path_info, client_addr
        )
        return self._run(region, match.handler, method, url, headers, spin_headers, body)

    def _serve_chained(self, call: ChainedRequest) -> tuple[int, list[tuple[str, str]], bytes]:
        """A self request (routed by path) or a chained one (to its component), in-process."""
        if call.region not in self.regions:
            return 404, [], b"unknown region"
        url = f"http://{CHAINED_AUTHORITY}{call.path}"
        if call.component is None:
            match = self.router.match(call.method, urlsplit(url).path or "/")
            if match is None:
                response = json_error(404, "not found")
                return response.status, response.headers, response.body
            cid, route, params = match.handler, match.route, match.params
            path_info = match.path_info
        else:
            # Spin routes a chained request to the component whatever its path.
            cid, route, params, path_info = call.component, "/...", {}, urlsplit(url).path
        spin_headers = spin_request_headers(url, route, params, path_info, "0.0.0.0:0")
        response = self._run(
            call.region, cid, call.method, url, call.headers, spin_headers, call.body, call.depth
        )
        return response.status, response.headers, response.body

    def _run(
        self,
        region: str,
        cid: str,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        spin_headers: list[tuple[str, str]],
        body: bytes,
        chain_depth: int = 0,
    ) -> HttpResponse:
        merged = [(k, v) for k, v in headers if not k.lower().startswith("spin-")]
        request = HttpRequest(method, url, merged + spin_headers, body)
        runner = self.regions[region].runners[cid]
        try:
            return runner.handle(request, chain_depth)
        except DeadlineExceeded as exc:
            log.error("%s%s", exc, _indent(exc.guest_output))
            limit = self.limits.deadline_ms
            return json_error(504, f"the request ran past its deadline of {limit} ms {exc.where}")
        except Overloaded as exc:
            log.error("%s", exc)
            return json_error(503, exc.public)
        except ResponseTooLarge as exc:
            log.error("%s%s", exc, _indent(exc.guest_output))
            limit = self.limits.max_response_body_bytes
            return json_error(500, f"the response body is larger than the limit of {limit} bytes")
        except GuestFailure as exc:
            log.error("%s%s%s", exc, _indent(exc.details), _indent(exc.guest_output))
            return json_error(500, "internal server error")

    def _check_trigger_exports(self, components: Mapping[str, Component] | None = None) -> None:
        """Refuse to start when a trigger's component cannot be called by it."""
        components = self.components if components is None else components
        wanted = [("redis", t.component) for t in self.manifest.redis_triggers]
        wanted += [("cron", t.component) for t in self.manifest.cron_triggers]
        for kind, cid in dict.fromkeys(wanted):
            if cid not in components:
                continue
            interface, name = TRIGGER_EXPORTS[kind]
            exports = set(components[cid].type.exports(self.engine.engine))
            if (interface or name) not in exports:
                raise EdgeError(f"component {cid!r} {missing_trigger_export(kind)}")

    def swap_component(self, cid: str, source: Path) -> None:
        """Serve `cid` from `source` from the next request on (on the wasm thread).

        A request already running keeps the runner it took, so it finishes on
        the old instance; the stores are the regions' own and stay as they are.
        """
        component = self.engine.load(source)  # from the compile cache, filled by the watcher
        self._check_trigger_exports({cid: component})
        self.components[cid] = component
        self.ready_pools[cid] = ReadyPool(self.limits.pool_size)  # the old one's go with it
        for region in self.regions.values():
            old = region.runners[cid]
            region.runners[cid] = region.make_runner(cid, component)
            old.release()

    def run_trigger(self, kind: str, region: str, component_id: str, argument: Any) -> TriggerRun:
        """One Redis message (`argument` the payload) or cron event (the timestamp) for
        `component_id` in `region`, in a fresh instance with the request's limits."""
        runner = self.regions[region].runners[component_id]
        started = time.monotonic()
        try:
            error = runner.run_trigger(kind, argument)
        except GuestFailure as exc:
            log.error(
                "%s (%s trigger, %s)%s%s",
                exc,
                kind,
                region,
                _indent(exc.details),
                _indent(exc.guest_output),
            )
            error = str(exc)
        else:
            if error is not None:
                log.error(
                    "component %r: its %s handler failed in %s: %s",
                    component_id,
                    kind,
                    region,
                    error,
                )
        return TriggerRun(error is None, error, time.monotonic() - started)

    def close(self) -> None:
        self.chain.close()
        for region in self.regions.values():
            region.close()
        self.replica_sync.close()
        for remote in self.remote_sql.values():
            remote.close()
        self.engine.close()
        # A compiled component keeps its cache file open (mapped) while it lives:
        # let it go now, not whenever the host object is collected.
        self.components.clear()


@dataclass(frozen=True)
class TriggerRun:
    """How one trigger run went: `error` says why it failed."""

    ok: bool
    error: str | None
    seconds: float


def app_labels(manifest: Manifest, remote: Collection[str] = ()) -> tuple[list[str], list[str]]:
    """The key-value store and SQL database labels that the app's components use.

    SQL databases in `remote` (on a libSQL server, from the runtime config) are
    left out: they are not emulated, so not replicated nor served over Hrana.
    """
    components = manifest.components.values()
    kv = {label for c in components for label in c.key_value_stores}
    sql = {label for c in components for label in c.sqlite_databases} - set(remote)
    return sorted(kv), sorted(sql)


def _indent(text: str) -> str:
    if not text.strip():
        return ""
    return "\n" + "\n".join("    " + line for line in text.rstrip().splitlines())


def spin_request_headers(
    url: str,
    route: str,
    params: Mapping[str, str],
    path_info: str,
    client_addr: str,
) -> list[tuple[str, str]]:
    """The headers Spin's HTTP trigger adds to every request it routes."""
    component_route = route[: -len("/...")] if route.endswith("/...") else route
    headers = [
        ("spin-full-url", url),
        ("spin-path-info", path_info),
        ("spin-matched-route", route),
        ("spin-raw-component-route", route),
        ("spin-component-route", component_route),
        ("spin-base-path", "/"),
        ("spin-client-addr", client_addr),
    ]
    headers += [(f"spin-path-match-{name}", value) for name, value in params.items()]
    return headers
