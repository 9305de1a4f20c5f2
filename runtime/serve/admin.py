"""The loopback-only admin and inspection API of `edge up`, under `/_edge/`.

Only loopback clients, and of web pages only this server's own (serve.guard,
applied by the server), reach it; with an admin token, only its holders.

    GET  /_edge/regions       regions, their URLs, their databases' roles and Hrana URLs
    GET  /_edge/replication   per link: latency, lag, partitioned; per KV store: backlog,
                              agreement; per database: primary, which replicas are current
    POST /_edge/partition     {"region": "eu-west"} or {"region": "a", "other": "b"}
    POST /_edge/heal          {} (everything), {"region": ...} or {"region": ..., "other": ...}
    POST /_edge/lag           {"lag": "2s", "region"?: ..., "other"?: ..., "jitter"?: "100ms"}
    GET  /_edge/triggers      per Redis and cron trigger and region: runs, failures, last
                              run and error, next run (cron); the Redis servers and whether
                              the subscription stands
    POST /_edge/cron/<component>  {} or {"region": ...}: run its cron job now, what each
                              region's run did
    GET  /_edge/builds        watch mode: per component the generation served and its last
                              build (building, ok or failed, start, end, error)

Faults and lag go to the shared control file, so the replicator (another
process) acts on them at once.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..durations import parse_duration
from ..regions.control import ControlFile
from ..regions.kv_replication import KVReplicator
from ..regions.network import Network
from ..regions.sql_replication import sql_status
from ..stores.events import NO_EVENTS, EventSink
from ..wasm.thread import WasmThread
from .builds import read_state
from .endpoints import read_endpoints
from .host import EdgeHost
from .triggers import Triggers, UnknownJob

Endpoint = Callable[[Request], Awaitable[Response]]
REGION_HEADER = "x-edge-region"
ADMIN_PREFIX = "/_edge/"
HEALTH_PATH = ADMIN_PREFIX + "health"


def is_loopback(request: Request) -> bool:
    if request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def loopback_only(endpoint: Endpoint) -> Endpoint:
    async def guarded(request: Request) -> Response:
        if not is_loopback(request):
            return JSONResponse({"error": "the admin API is loopback-only"}, status_code=403)
        try:
            return await endpoint(request)
        except (KeyError, ValueError, TypeError) as exc:
            message = exc.args[0] if exc.args else str(exc)
            return JSONResponse({"error": str(message)}, status_code=400)

    return guarded


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the body is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _opt(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name!r} must be a region name")
    return value


def admin_routes(
    host: EdgeHost,
    wasm: WasmThread,
    control: ControlFile,
    public_url: str,
    triggers: Triggers | None = None,
    events: EventSink = NO_EVENTS,
) -> list[Route]:
    def region_url(name: str) -> str:
        scheme, _, hostport = public_url.rstrip("/").partition("://")
        return f"{scheme}://{name}.{hostport}" if hostport.startswith("localhost") else public_url

    async def regions(request: Request) -> Response:
        network = control.load()
        urls = read_endpoints(control.path.parent)
        labels = host.sql_labels()
        listing = [
            {
                "name": name,
                "url": region_url(name),
                "header": {REGION_HEADER: name},
                "default": name == host.default_region,
                "partitioned": network.partitioned(name),
                # As DESIGN.md has it: label -> this region's Hrana URL.
                "databases": {label: urls.get(name, {}).get(label) for label in labels},
                "sql": {
                    label: {
                        "role": "primary" if name == host.primary_region else "replica",
                        "primary": host.primary_region,
                        "reaches_primary": network.is_up(name, host.primary_region),
                    }
                    for label in labels
                },
            }
            for name in host.regions
        ]
        return JSONResponse({"regions": listing})

    async def replication(request: Request) -> Response:
        network = control.load()
        registries = {name: region.stores for name, region in host.regions.items()}
        replicator = KVReplicator(registries, host.kv_labels(), network, host.clock)

        def status() -> dict[str, Any]:
            sql = sql_status(registries, host.sql_labels(), host.primary_region, network)
            return {**replicator.status(), "sql": sql}

        # The stores' connections belong to the wasm thread: read them there.
        stores = await asyncio.wrap_future(wasm.submit(status))
        summary = {"now": time.time(), "network": _summary(network), "links": network.describe()}
        return JSONResponse({**summary, **stores})

    def changed(network: Network, action: str, region: str | None, other: str | None) -> Response:
        links = network.describe()
        events.emit("network", {"action": action, "region": region, "other": other, "links": links})
        return JSONResponse({"links": links})

    async def partition(request: Request) -> Response:
        data = await json_body(request)
        region = _opt(data, "region")
        if region is None:
            raise ValueError('say which region to partition: {"region": "eu-west"}')
        other = _opt(data, "other")
        network = control.update(lambda net: net.partition(region, other))
        return changed(network, "partition", region, other)

    async def heal(request: Request) -> Response:
        data = await json_body(request)
        region, other = _opt(data, "region"), _opt(data, "other")
        network = control.update(lambda net: net.heal(time.time(), region, other))
        return changed(network, "heal", region, other)

    async def lag(request: Request) -> Response:
        data = await json_body(request)
        if "lag" not in data:
            raise ValueError('say the lag: {"lag": "2s"}')
        seconds = parse_duration(data["lag"])
        jitter = None if data.get("jitter") is None else parse_duration(data["jitter"])
        region, other = _opt(data, "region"), _opt(data, "other")
        network = control.update(lambda net: net.set_lag(seconds, region, other, jitter))
        return changed(network, "lag", region, other)

    async def routes(request: Request) -> Response:
        listing = [{"route": r, "component": c} for r, c in host.manifest.routes()]
        return JSONResponse({"routes": listing})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def trigger_status(request: Request) -> Response:
        if triggers is None:
            return JSONResponse({"redis": [], "triggers": []})
        return JSONResponse(await asyncio.to_thread(triggers.status))

    async def cron_run(request: Request) -> Response:
        data = await json_body(request)
        component = request.path_params["component"]
        if triggers is None:
            return JSONResponse({"error": "this app has no cron jobs"}, status_code=404)
        try:
            answer = await triggers.fire_now(component, _opt(data, "region"))
        except UnknownJob as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        return JSONResponse(answer)

    async def builds(request: Request) -> Response:
        state = read_state(control.path.parent)  # the state directory's builds.json
        return JSONResponse({**state.to_json(), "now": time.time()})

    return [
        Route(HEALTH_PATH, health, methods=["GET"]),
        Route("/_edge/builds", loopback_only(builds), methods=["GET"]),
        Route("/_edge/regions", loopback_only(regions), methods=["GET"]),
        Route("/_edge/routes", loopback_only(routes), methods=["GET"]),
        Route("/_edge/replication", loopback_only(replication), methods=["GET"]),
        Route("/_edge/partition", loopback_only(partition), methods=["POST"]),
        Route("/_edge/heal", loopback_only(heal), methods=["POST"]),
        Route("/_edge/lag", loopback_only(lag), methods=["POST"]),
        Route("/_edge/triggers", loopback_only(trigger_status), methods=["GET"]),
        Route("/_edge/cron/{component}", loopback_only(cron_run), methods=["POST"]),
    ]


def _summary(network: Network) -> dict[str, Any]:
    return {"lag_ms": network.lag * 1000, "jitter_ms": network.jitter * 1000, "seed": network.seed}
