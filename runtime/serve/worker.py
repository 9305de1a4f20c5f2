"""One serving process of `edge up`: a wasm thread, an EdgeHost and hypercorn.

wasmtime-py runs wasm on one thread per process, so `edge up` scales with
processes: the supervisor claims the address and starts N of these, each
listening on a socket of its own on the same port (SO_REUSEPORT). A worker
started by the supervisor sends it heartbeats and stops when it is gone
(lifeline.py). Its stop is bounded: what the wasm thread still has queued
gets HOST_CLOSE_SECONDS to finish before the host is left to the exit.

Worker 0 (EDGE_WORKER_INDEX, set by the supervisor) also runs the app's Redis
and cron triggers (serve/triggers.py), so that one process subscribes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import os
import socket
import sys
from collections.abc import Callable

from starlette.types import ASGIApp

from ..app.manifest import load
from ..app.model import Manifest
from ..app.runtime_config import load_runtime_config
from ..durations import parse_duration
from ..logs import setup_logging
from ..outbound import ADDRESS_VARIABLE, RedisOptions
from ..regions.control import ControlFile
from ..regions.replication import ReplicationLoop
from ..settings import Settings
from ..stores import StateLayout
from ..stores.events import NO_EVENTS, EventLog, EventSink, EventWriter
from ..triggers.runs import RunRecord
from ..wasm.engine import InstancePool, WasmEngine
from ..wasm.reuse import ReusePolicy
from ..wasm.thread import WasmThread
from .event_stream import EventStreams
from .guard import same_origin
from .host import EdgeHost, HostLimits, app_labels
from .lifeline import WasmProgress, WorkerEnd
from .server import ServerOptions, bound_socket, create_app, serve_forever
from .swap import BuildFollower
from .terminal import terminal_feed
from .triggers import Triggers, make_plan

log = logging.getLogger("edge.worker")

SETTINGS_ENV = "EDGE_WORKER_SETTINGS"
WORKER_INDEX_ENV = "EDGE_WORKER_INDEX"  # worker 0 runs the triggers
HOST_CLOSE_SECONDS = 1.0


def start_host(
    settings: Settings,
    control: ControlFile,
    progress: WasmProgress | None = None,
    events: EventSink = NO_EVENTS,
) -> tuple[EdgeHost, WasmThread]:
    """Build the host on its wasm thread, with its pools filled, ready to serve.

    The wasm thread touches `progress` between jobs (the heartbeat reports it)."""
    holder: dict[str, EdgeHost] = {}

    def idle() -> bool:
        if progress is not None:
            progress.touch()
        host = holder.get("host")
        return host.refill_one() if host is not None else False

    wasm = WasmThread(idle=idle)
    manifest = load(settings.manifest)
    if settings.watch:
        manifest = BuildFollower.sources(settings.state_dir, manifest)
    remote_sql = {}
    if settings.runtime_config_file is not None:
        # libsql-client brings aiohttp: loaded only for an app that has a remote database.
        from ..stores.remote import open_remote_databases

        remote_sql = open_remote_databases(settings.runtime_config_file)

    def make() -> EdgeHost:
        host = EdgeHost(
            manifest,
            state_dir=settings.state_dir,
            regions=list(settings.regions),
            default_region=settings.default_region,
            limits=HostLimits(
                deadline_ms=settings.deadline_ms,
                memory_limit_bytes=settings.memory_limit_mb * 1024 * 1024,
                pool_size=settings.pool_size,
                reuse=ReusePolicy.parse(
                    settings.max_instance_reuse_count, settings.idle_instance_timeout
                ),
            ),
            engine=WasmEngine(settings.cache_dir, pool=instance_pool(settings, manifest)),
            primary_region=settings.primary_region,
            network=control.load,
            sql_write_timeout=parse_duration(settings.sql_write_timeout),
            remote_sql=remote_sql,
            redis=redis_options(settings),
            origins=settings.origins,
            variable_fallbacks=(
                {ADDRESS_VARIABLE: settings.redis_embedded_address}
                if settings.redis_embedded_address
                else None
            ),
            events=events,
        )
        host.prefill()
        return host

    holder["host"] = host = wasm.call(make)
    # What start-up made lives as long as the process: keep it out of the cyclic
    # collector's full passes, which otherwise walk it all every few requests.
    gc.collect()
    gc.freeze()
    return host, wasm


def instance_pool(settings: Settings, manifest: Manifest) -> InstancePool | None:
    """Pooling allocator slots for every instance this worker can hold at once."""
    if not settings.pooling:
        return None
    mib = 1024 * 1024
    return InstancePool.for_app(
        len(manifest.components),
        len(settings.regions),
        made_ahead=settings.pool_size,
        memory_limit_bytes=settings.memory_limit_mb * mib,
        keep_resident=settings.keep_resident_mb * mib,
    )


def redis_options(settings: Settings) -> RedisOptions:
    """Outbound Redis: the timeout, and the runtime config's connection limit if any."""
    options = RedisOptions(timeout=parse_duration(settings.redis_timeout))
    if settings.runtime_config_file is not None:
        limit = load_runtime_config(settings.runtime_config_file).redis_max_connections
        if limit is not None:
            options = RedisOptions(options.timeout, limit)
    return options


def public_url(settings: Settings) -> str:
    host, port = settings.listen_address
    if host in ("127.0.0.1", "::1", "localhost"):
        host = "localhost"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(settings: Settings, *, replicate: bool = False, run_triggers: bool = False) -> None:
    """Serve on the listen address, on a socket of this process's own.

    With `replicate`, this process also runs the replication loop (the
    single-process `edge up`); otherwise the supervisor runs it. With
    `run_triggers`, it subscribes to the app's Redis channels and keeps its
    cron schedule (one process of an `edge up` does).
    """
    line = WorkerEnd.from_env()
    if line is not None:
        line.watch_supervisor()  # from the start: an orphan must not go on loading
    progress = WasmProgress()
    control = ControlFile(settings.state_dir)  # one cache of network.json per process
    events = EventWriter.in_state_dir(settings.state_dir).start()
    host, wasm = start_host(settings, control, progress, events)
    # Listening only once ready: the kernel sends no connection to a worker
    # still starting (a replacement, say) while the others can take it.
    address, port = settings.listen_address
    sock = bound_socket(address, port, listen=True)
    loop = (
        replication_loop(settings, app_labels(host.manifest, host.remote_sql), control, events)
        if replicate
        else None
    )
    options = ServerOptions(
        settings.max_body_bytes,
        public_url(settings),
        parse_duration(settings.body_timeout),
        same_origin(settings),
        settings.admin_secret,
        log_requests=not terminal_feed(),
    )
    triggers = start_triggers(settings, host, wasm, run=run_triggers, events=events)
    streams = EventStreams(EventLog.in_state_dir(settings.state_dir))
    app = create_app(host, wasm, control, options, triggers, events, streams)
    follower = BuildFollower(settings.state_dir, host, wasm) if settings.watch else None
    try:
        asyncio.run(
            _serve(
                app, sock, settings.max_connections, line, progress, wasm, streams.close, follower
            )
        )
    finally:
        triggers.stop()
        if loop is not None:
            loop.stop()
        _close_host(host, wasm)
        triggers.record.close()
        events.close()
        streams.log.close()


def start_triggers(
    settings: Settings,
    host: EdgeHost,
    wasm: WasmThread,
    *,
    run: bool,
    events: EventSink = NO_EVENTS,
) -> Triggers:
    """The app's triggers as this process knows them; running here if `run`."""
    plan = make_plan(
        host.manifest, host.variables.app_value, list(host.regions), settings.trigger_regions
    )
    triggers = Triggers(
        host,
        wasm,
        plan,
        RunRecord.in_state_dir(settings.state_dir),
        redis_timeout=parse_duration(settings.redis_timeout),
        events=events,
    )
    if run:
        triggers.start()
    return triggers


async def _serve(
    app: ASGIApp,
    sock: socket.socket,
    max_connections: int,
    line: WorkerEnd | None,
    progress: WasmProgress,
    wasm: WasmThread,
    stopping: Callable[[], None] | None = None,
    follower: BuildFollower | None = None,
) -> None:
    loop = asyncio.get_running_loop()
    tasks = []
    if line is not None:
        tasks.append(loop.create_task(line.beat(progress, wasm.submit)))
    if follower is not None:  # watch mode: swap to each new build
        tasks.append(loop.create_task(follower.run()))
    try:
        await serve_forever(app, sock, max_connections, stopping)
    finally:
        for task in tasks:
            task.cancel()


def _close_host(host: EdgeHost, wasm: WasmThread) -> None:
    """Close the host on its thread, unless requests still queued there hold it up."""
    try:
        wasm.submit(host.close).result(timeout=HOST_CLOSE_SECONDS)
    except concurrent.futures.TimeoutError:
        log.warning("the wasm thread is still busy; leaving the host to the exit")
        return
    wasm.stop()


def replication_loop(
    settings: Settings,
    labels: tuple[list[str], list[str]],
    control: ControlFile,
    events: EventSink = NO_EVENTS,
) -> ReplicationLoop:
    kv_labels, sql_labels = labels
    assert settings.primary_region is not None  # filled in by Settings
    loop = ReplicationLoop(
        StateLayout(settings.state_dir),
        settings.regions,
        kv_labels,
        sql_labels,
        settings.primary_region,
        control,
        events,
    )
    loop.start()
    return loop


def main() -> None:
    settings = Settings.model_validate_json(os.environ[SETTINGS_ENV])
    setup_logging(settings.log_level)
    try:
        serve(settings, run_triggers=os.environ.get(WORKER_INDEX_ENV, "0") == "0")
    except KeyboardInterrupt:
        pass
    except Exception:
        log.exception("worker failed")
        sys.exit(1)


if __name__ == "__main__":
    main()
