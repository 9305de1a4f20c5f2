"""`edge up`: build what is stale, compile once, then run and watch the workers.

Each worker gets a lifeline (lifeline.py): the supervisor replaces one that
exits, or whose heartbeats say it is stuck; a worker whose supervisor dies
stops by itself. A stop (SIGTERM, SIGINT) gives the workers STOP_GRACE_SECONDS
together to finish, then kills what is left.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table

from ..app.manifest import load
from ..app.model import Manifest
from ..app.runtime_config import load_runtime_config
from ..app.variables import VariableResolver
from ..build.incremental import build_manifest
from ..durations import parse_duration
from ..errors import EdgeError
from ..logs import console
from ..outbound import ADDRESS_VARIABLE, EmbeddedRedis, wants_embedded
from ..regions.control import ControlFile
from ..regions.network import Network
from ..settings import WITH_SECRETS, Settings
from ..stores.events import EventWriter, start_afresh
from ..triggers.cron_scheduler import utc
from ..triggers.plan import TriggerPlan
from ..triggers.runs import RunRecord
from ..wasm.engine import WasmEngine
from .builds import reset_state
from .guard import same_origin
from .host import app_labels
from .hrana_service import HranaService
from .lifeline import LIFELINE_ENV, SupervisorEnd, pair
from .server import bound_socket
from .terminal import LiveStatus, url_lines
from .triggers import make_plan
from .watch import Watcher, until_built
from .worker import SETTINGS_ENV, WORKER_INDEX_ENV, public_url, replication_loop, serve

log = logging.getLogger("edge.up")

RESTART_BACKOFF_SECONDS = 1.0
STOP_GRACE_SECONDS = 4.0  # hypercorn's graceful 2 s, then closing the host
POLL_SECONDS = 0.2
DOTENV = Path(".env")


@dataclass
class WorkerProcess:
    index: int
    process: subprocess.Popen[bytes]
    line: SupervisorEnd
    started: float = field(default_factory=time.monotonic)

    def discard(self) -> None:
        """Kill it if it still runs, reap it, and close its line."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.line.close()


def prepare(settings: Settings, *, build: bool = True) -> Manifest:
    """Build stale components and fill the compile cache before any worker starts."""
    manifest = load(settings.manifest)
    if build:
        build_manifest(manifest, report=lambda line: console.print(f"[dim]build[/] {line}"))
    engine = WasmEngine(settings.cache_dir)
    for cid, spec in manifest.components.items():
        if not engine.is_cached(spec.source):
            started = time.perf_counter()
            with console.status(f"compiling {cid} (once per distinct .wasm) ..."):
                engine.load(spec.source)
            console.print(f"[dim]compile[/] {cid}: {time.perf_counter() - started:.1f} s")
    return manifest


def banner(
    manifest: Manifest,
    settings: Settings,
    hrana: HranaService | None = None,
    remote: list[str] | None = None,
) -> None:
    url = public_url(settings)
    table = Table(title=f"{manifest.name} on {url}", show_header=True, header_style="bold")
    table.add_column("route")
    table.add_column("component")
    table.add_column("url")
    for route, cid in manifest.routes():
        table.add_row(route, cid, url + route.removesuffix("/..."))
    console.print(table)
    for line in url_lines(settings, url):
        console.print(line, highlight=False, markup=False)
    console.print("a request picks its region by the URL above or the x-edge-region header")
    _, sql_labels = app_labels(manifest, remote or ())
    if sql_labels:
        console.print(
            f"SQL primary: {settings.primary_region} (databases: {', '.join(sql_labels)}); "
            "other regions read replicas and send writes there"
        )
    if hrana is not None:
        urls = Table(title="databases over Hrana (libSQL clients; ws:// too)", header_style="bold")
        urls.add_column("database")
        urls.add_column("region")
        urls.add_column("url")
        for e in hrana.endpoints:
            role = " (primary)" if e.region == settings.primary_region else ""
            urls.add_row(e.database, e.region + role, e.url)
        console.print(urls)
    console.print(f"state: {settings.state_dir}; workers: {settings.workers}")


def _spawn(index: int, settings: Settings) -> WorkerProcess:
    ours, theirs = pair()
    env = dict(os.environ)
    env[SETTINGS_ENV] = settings.model_dump_json(context=WITH_SECRETS)
    env[LIFELINE_ENV] = str(theirs.fileno())
    env[WORKER_INDEX_ENV] = str(index)  # worker 0 runs the triggers; a replacement keeps it
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "runtime.serve.worker"], env=env, pass_fds=[theirs.fileno()]
        )
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()  # the worker has its copy; ours must not keep the line open
    return WorkerProcess(index, process, SupervisorEnd(ours))


def run_up(settings: Settings, *, build: bool = True) -> int:
    # Checked first, so that a bad file is one clear error, not failing workers.
    remote = remote_labels(settings)
    first = functools.partial(prepare, settings, build=build)
    manifest = until_built(settings, first) if settings.watch and build else first()
    start_watcher(settings, manifest, build=build)  # a daemon thread: it ends with edge up
    host, port = settings.listen_address
    try:
        claim = bound_socket(host, port, listen=False)
    except OSError as exc:
        raise EdgeError(f"cannot listen on {settings.listen}: {exc.strerror}") from exc
    control = ControlFile(settings.state_dir)
    control.initialise(
        Network(
            list(settings.regions),
            lag=parse_duration(settings.replication_lag),
            jitter=parse_duration(settings.jitter),
            seed=settings.seed,
        )
    )
    redis = start_redis(settings, manifest)
    if redis is not None:
        settings = settings.model_copy(update={"redis_embedded_address": redis.address})
    try:
        plan = trigger_plan(settings, manifest)
        record = RunRecord.in_state_dir(settings.state_dir)
        record.reset()  # the counts are those of this edge up
        record.close()
        start_afresh(settings.state_dir)  # so are the explorer's events (their ids go on)
        return _run(settings, manifest, control, remote, claim, plan)
    finally:
        if redis is not None:
            redis.stop()


def start_redis(settings: Settings, manifest: Manifest) -> EmbeddedRedis | None:
    """The app's Redis server, when it declares `redis_address` and nothing sets it."""
    provided = VariableResolver(manifest, os.environ, dotenv_path=DOTENV).provided
    if not wants_embedded(manifest, provided):
        return None
    server = EmbeddedRedis(
        settings.state_dir / "redis", port=settings.redis_port, binary=settings.redis_server
    )
    address = server.start()
    console.print(
        f"redis: {address} (started for the app's {ADDRESS_VARIABLE}; data in {server.data_dir})"
    )
    return server


def trigger_plan(settings: Settings, manifest: Manifest) -> TriggerPlan:
    """The app's triggers, checked here so that a bad address or restriction is one error."""
    fallbacks = (
        {ADDRESS_VARIABLE: settings.redis_embedded_address}
        if settings.redis_embedded_address
        else None
    )
    resolver = VariableResolver(manifest, os.environ, dotenv_path=DOTENV, fallbacks=fallbacks)
    return make_plan(manifest, resolver.app_value, settings.regions, settings.trigger_regions)


def trigger_banner(plan: TriggerPlan) -> None:
    for sub in plan.redis:
        regions = ", ".join(sub.regions) or "no region"
        console.print(
            f"redis trigger: channel {sub.channel!r} -> {sub.component} ({regions})",
            highlight=False,
        )
    now = time.time()
    for job in plan.cron:
        regions = ", ".join(job.regions) or "no region"
        console.print(
            f"cron trigger: {job.schedule.expression!r} (UTC) -> {job.name} ({regions}); "
            f"next {utc(job.schedule.next_after(now))}",
            highlight=False,
        )


def _run(
    settings: Settings,
    manifest: Manifest,
    control: ControlFile,
    remote: list[str],
    claim: socket.socket,
    plan: TriggerPlan,
) -> int:
    hrana = start_hrana(settings, manifest, control, remote)
    banner(manifest, settings, hrana, remote)
    trigger_banner(plan)
    status = LiveStatus(settings.state_dir).start()
    try:
        if settings.workers == 1:
            # One worker: serve (and replicate, and run the triggers) in this process.
            claim.close()
            serve(settings, replicate=True, run_triggers=True)
            return 0
        events = EventWriter.in_state_dir(settings.state_dir).start()
        loop = replication_loop(settings, app_labels(manifest, remote), control, events)
        try:
            return _supervise(settings)
        finally:
            loop.stop()
            events.close()
            claim.close()
    finally:
        status.stop()
        if hrana is not None:
            hrana.stop()


def start_watcher(settings: Settings, manifest: Manifest, *, build: bool) -> Watcher | None:
    """Watch mode's watcher (builds.json reset either way: no generation of an earlier run).

    Without `build` (--no-build, Spin's --skip-build) it swaps each .wasm as it changes.
    Its build events go to the event log (the explorer's feed, the terminal's status)."""
    reset_state(settings.state_dir, settings.watch, list(manifest.components))
    if not settings.watch:
        return None
    watcher = Watcher(
        manifest,
        settings.state_dir,
        settings.cache_dir,
        settings.watch_debounce_ms,
        build=build,
        emit=EventWriter.in_state_dir(settings.state_dir).start().emit,
    )
    watcher.start()
    return watcher


def remote_labels(settings: Settings) -> list[str]:
    """SQL databases that the runtime config puts on a libSQL server (printed as read)."""
    if settings.runtime_config_file is None:
        return []
    config = load_runtime_config(settings.runtime_config_file)
    for line in config.summary():
        console.print(line, highlight=False, markup=False)
    return sorted(config.libsql)


def start_hrana(
    settings: Settings, manifest: Manifest, control: ControlFile, remote: list[str]
) -> HranaService | None:
    """The Hrana endpoints of every region's databases (None if the app has no database)."""
    _, databases = app_labels(manifest, remote)
    if not databases:
        return None
    host, port = settings.listen_address
    token = settings.hrana_token.get_secret_value() if settings.hrana_token else None
    if token is None and not ipaddress.ip_address(_resolve(host)).is_loopback:
        # Without a token the databases must not be reachable from elsewhere.
        log.warning("no hrana_token set: the Hrana endpoints listen on 127.0.0.1 only")
        host = "127.0.0.1"
    first = settings.hrana_port
    if first is None:
        first = port + 1 if port else 0
    assert settings.primary_region is not None
    service = HranaService(
        settings.state_dir,
        settings.regions,
        databases,
        settings.primary_region,
        control,
        same_origin(settings),
        host=host,
        first_port=first,
        token=token,
        write_timeout=parse_duration(settings.sql_write_timeout),
        max_body_bytes=settings.max_body_bytes,
    )
    service.start()
    return service


def _resolve(host: str) -> str:
    try:
        return str(socket.getaddrinfo(host, None)[0][4][0])
    except OSError:
        return host


def _supervise(settings: Settings) -> int:
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    timeout = parse_duration(settings.worker_timeout)
    workers = [_spawn(i, settings) for i in range(settings.workers)]
    try:
        while not stopping:
            _listen(workers)
            for i, worker in enumerate(workers):
                reason = None if stopping else _why_replace(worker, timeout)
                if reason is None:
                    continue
                log.error("worker %d %s; replacing it", worker.index, reason)
                worker.discard()
                if time.monotonic() - worker.started < RESTART_BACKOFF_SECONDS:
                    time.sleep(RESTART_BACKOFF_SECONDS)
                workers[i] = _spawn(worker.index, settings)
    finally:
        _stop(workers)
    return 0


def _why_replace(worker: WorkerProcess, timeout: float) -> str | None:
    code = worker.process.poll()
    if code is not None:
        return f"exited with status {code}"
    problem = worker.line.problem(worker.started, timeout)
    return f"is stuck: {problem}" if problem is not None else None


def _listen(workers: list[WorkerProcess]) -> None:
    """Wait up to POLL_SECONDS for heartbeats, and take in those that came."""
    lines = {w.line: w for w in workers if w.line.open}
    try:
        readable, _, _ = select.select(list(lines), [], [], POLL_SECONDS)
    except InterruptedError:  # a signal: the loop looks at `stopping`
        return
    for line in readable:
        first = line.last_beat is None
        line.read()
        if first and line.last_beat is not None:
            worker = lines[line]
            log.info("worker %d is serving (pid %d)", worker.index, worker.process.pid)


def _stop(workers: list[WorkerProcess]) -> None:
    """SIGTERM to every worker, STOP_GRACE_SECONDS for all of them together, then SIGKILL."""
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for worker in workers:
        try:
            worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning(
                "worker %d did not stop in %gs; killing it", worker.index, STOP_GRACE_SECONDS
            )
        worker.discard()
