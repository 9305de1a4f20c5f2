"""Testing edge apps in process: the real components, the real stores, no server.

    with Emulator("examples/todo/spin.toml", regions=["us-east", "eu-west"],
                  replication_lag="1s") as edge:
        us, eu = edge.client("us-east"), edge.client("eu-west")
        us.post("/todos", json={"title": "x"})
        assert eu.get("/todos").json() == []        # not replicated yet
        edge.advance("1s")                          # the virtual clock: nothing sleeps
        assert len(eu.get("/todos").json()) == 1

Requests go through the same `EdgeHost` that `edge up` serves (Spin routing and
headers, fresh instance per request, deadlines), on the calling thread. Time is
virtual: replication happens exactly when the test advances the clock, the
same way for the same seed.

Triggers run the same way: `edge.publish(channel, payload)` publishes on the
app's real Redis server and returns once every subscribed region has handled
the message; cron schedules fire when `advance()` passes their times.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..app.manifest import load
from ..app.variables import VariableResolver
from ..build.incremental import build_manifest
from ..durations import parse_duration
from ..errors import EdgeError
from ..outbound import ADDRESS_VARIABLE, EmbeddedRedis, RedisOptions, wants_embedded
from ..regions.clock import VirtualClock
from ..regions.kv_replication import KVReplicator
from ..regions.network import DEFAULT_JITTER, Network
from ..regions.replication import Replication
from ..regions.sql_replication import SqlReplicator
from ..regions.sql_routing import RoutedConnection
from ..serve.host import EdgeHost, HostLimits, TriggerRun
from ..stores import KVStore, SqlConnection, SqlDatabase
from ..stores.events import MemoryEvents
from ..triggers.plan import RedisSubscription, TriggerPlan, plan_triggers
from ..wasm.engine import InstancePool, WasmEngine
from ..wasm.reuse import ReusePolicy
from .client import Client
from .kv_history import (
    History,
    RecordingKV,
    assert_convergence,
    assert_monotonic_reads,
    assert_read_your_writes,
)
from .lost_writes import assert_no_lost_writes
from .sql_history import (
    RecordingSql,
    SqlHistory,
    assert_sql_convergence,
    assert_sql_monotonic_reads,
    assert_sql_read_your_writes,
)
from .triggers import CronClock, Inbox, Message, TriggerRecord

DEFAULT_REGIONS = ["us-east", "eu-west", "ap-south"]


class Emulator:
    def __init__(
        self,
        manifest: str | Path = "spin.toml",
        *,
        regions: list[str] | None = None,
        state_dir: str | Path | None = None,
        deadline_ms: int = 5000,
        memory_limit_mb: int = 256,
        build: bool = True,
        env: Mapping[str, str] | None = None,
        cache_dir: Path | None = None,
        replication_lag: str | float = "1s",
        jitter: str | float = DEFAULT_JITTER,
        seed: int = 0,
        clock: str = "virtual",
        record_history: bool = True,
        primary_region: str | None = None,
        sql_write_timeout: str | float = "2s",
        redis_timeout: str | float = "5s",
        redis_max_connections: int | None = None,
        origins: Mapping[str, str] | None = None,
        trigger_regions: Mapping[str, Sequence[str]] | None = None,
        max_instance_reuse_count: str | int = 1,
        idle_instance_timeout: str | float = "1s",
    ) -> None:
        if clock != "virtual":
            raise ValueError("the Emulator runs on the virtual clock; `edge up` uses the real one")
        self.clock = VirtualClock()
        # Replication's events (kv.sent, kv.applied, kv.conflict, sql.synced) and
        # outbound calls (outbound.http, outbound.redis) on the virtual clock;
        # requests and the network are the test's own doing.
        self.event_log = MemoryEvents(clock=self.clock.now)
        self.manifest = load(manifest)
        if build:
            build_manifest(self.manifest, report=lambda line: None)
        self._tmp = None if state_dir is not None else tempfile.TemporaryDirectory(prefix="edge-")
        self.state_dir = Path(state_dir) if state_dir is not None else Path(self._tmp.name)  # type: ignore[union-attr]
        self.regions = list(regions or DEFAULT_REGIONS)
        # Every key-value op and SQL statement a guest makes, per region (see
        # kv_history and sql_history).
        self._history = History() if record_history else None
        self._sql_history = SqlHistory() if record_history else None
        # What ran the guest whose stores are being opened: its records say so.
        self._source = "http"
        self._trigger_runs: list[TriggerRecord] = []
        self._inboxes: dict[str, Inbox] = {}
        redis_options = RedisOptions(parse_duration(redis_timeout))
        if redis_max_connections is not None:
            redis_options = RedisOptions(redis_options.timeout, redis_max_connections)
        self.redis = self._start_redis(env)
        self.network = Network(
            self.regions,
            lag=parse_duration(replication_lag),
            jitter=parse_duration(jitter),
            seed=seed,
        )
        try:
            self.host = EdgeHost(
                self.manifest,
                state_dir=self.state_dir,
                regions=self.regions,
                limits=HostLimits(
                    deadline_ms=deadline_ms,
                    memory_limit_bytes=memory_limit_mb * 1024 * 1024,
                    pool_size=1,
                    reuse=ReusePolicy.parse(
                        max_instance_reuse_count, idle_instance_timeout, seed=seed
                    ),
                ),
                # Slots of the pooling allocator, as edge up's workers have: a
                # fresh instance costs a third less without the page faults.
                engine=WasmEngine(
                    cache_dir,
                    wall_clock=self.clock.now,
                    pool=InstancePool.for_app(
                        len(self.manifest.components),
                        len(self.regions),
                        made_ahead=1,
                        memory_limit_bytes=memory_limit_mb * 1024 * 1024,
                    ),
                ),
                env=env,
                clock=self.clock,
                kv_wrapper=self._record_kv if record_history else None,
                sql_wrapper=self._record_sql if record_history else None,
                primary_region=primary_region,
                network=lambda: self.network,
                sql_write_timeout=parse_duration(sql_write_timeout),
                redis=redis_options,
                origins={name.lower(): region for name, region in (origins or {}).items()},
                variable_fallbacks=(
                    {ADDRESS_VARIABLE: self.redis.address} if self.redis is not None else None
                ),
                events=self.event_log,
            )
        except BaseException:
            if self.redis is not None:
                self.redis.stop()
            raise
        try:
            # As each region's Spin deployment would: subscribed from the start,
            # so a message published before the first publish() waits for it.
            self.triggers: TriggerPlan = plan_triggers(
                self.manifest, self.host.variables.app_value, self.regions, trigger_regions
            )
            timeout = parse_duration(redis_timeout)
            for address in self.triggers.addresses():
                channels = sorted({s.channel for s in self.triggers.redis if s.address == address})
                self._inboxes[address] = Inbox(address, channels, timeout)
        except BaseException:
            self.close()
            raise
        self.cron = CronClock(self.triggers.cron, self.clock.now())
        self.primary_region = self.host.primary_region
        registries = {name: region.stores for name, region in self.host.regions.items()}
        self.replicator = Replication(
            KVReplicator(
                registries, self.host.kv_labels(), self.network, self.clock, self.event_log
            ),
            SqlReplicator(
                registries,
                self.host.sql_labels(),
                self.primary_region,
                self.network,
                self.clock,
                self.host.replica_sync,
                self.event_log,
            ),
        )

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Replication's and outbound calls' events so far (of one kind), as
        `edge up`'s feed has them."""
        return [event.to_json() for event in self.event_log.events(kind)]

    # --- time -------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.now()

    def advance(self, duration: str | float) -> int:
        """Move the virtual clock forward, replicating exactly what falls due on the way
        and firing the cron schedules at their times; returns the replication deliveries.

        Messages waiting on the app's Redis subscriptions are handled first (at
        the current time), and again after each cron firing (what its handler
        published). Replication and cron firings run in time order, replication
        first at equal times; at each firing the clock is set to its time, and
        every region of the job runs it with that timestamp, in the plan's order.
        """
        target = self.clock.now() + parse_duration(duration)
        delivered = self.replicator.step()
        self.deliver_messages()
        while True:
            due = self.replicator.next_due()
            fires = self.cron.next_due()
            if due is not None and due <= target and (fires is None or due <= fires):
                self.clock.advance_to(due)
                delivered += self.replicator.step()
            elif fires is not None and fires <= target:
                for when, job in self.cron.take(fires):
                    self.clock.advance_to(when)
                    for region in job.regions:
                        self._run("cron", job.name, job.component, region, int(when))
                self.deliver_messages()
            else:
                break
        self.clock.advance_to(target)
        return delivered + self.replicator.step()

    def settle(self, limit: str | float = "1h") -> float:
        """Advance until nothing is left to deliver; returns the virtual seconds it took.

        Settles replication only: no cron job fires on the way (a schedule that
        writes every second would never let it end) and no Redis message is
        read. Firing times that settling passes are not lost: the next
        `advance()` runs them first, in order, with their own timestamps (the
        clock, already past them, stays where it is). Raises if a partition
        keeps some change from ever arriving.
        """
        started = self.clock.now()
        deadline = started + parse_duration(limit)
        self.replicator.step()
        while (due := self.replicator.next_due()) is not None:
            if due > deadline:
                raise EdgeError(f"replication did not settle within {limit}")
            self.clock.advance_to(due)
            self.replicator.step()
        if self.replicator.pending():
            cut = ", ".join(self.network.cut_names())
            raise EdgeError(f"cannot settle: changes wait on partitioned links ({cut}); heal first")
        return self.clock.now() - started

    # --- triggers ---------------------------------------------------------------------

    def publish(
        self, channel: str, payload: bytes | str, *, address: str | None = None
    ) -> dict[str, TriggerRun]:
        """PUBLISH `payload` on the app's Redis server and handle it in every region
        subscribed to `channel`, in order, on this thread; region -> how it went.

        Messages that others published before it (redis-cli, a handler) are
        handled first, in order. When several components subscribe to the
        channel, the keys are `region/component`. `address` picks the server
        when the app subscribes to the channel on more than one.
        """
        subscriptions = self._subscriptions(channel, address)
        server = subscriptions[0].address
        data = payload.encode() if isinstance(payload, str) else bytes(payload)
        self._inboxes[server].publish(channel, data)
        ours: list[TriggerRecord] | None = None
        for message, records in self._deliver():
            if (message.address, message.channel, message.payload) == (server, channel, data):
                ours = records  # an equal message published meanwhile runs the same
        if ours is None:
            raise EdgeError(f"the message published on {channel!r} never reached the subscription")
        several = len({s.component for s in subscriptions}) > 1
        return {(f"{r.region}/{r.component}" if several else r.region): _as_run(r) for r in ours}

    def deliver_messages(self) -> list[TriggerRecord]:
        """Handle every message waiting on the app's subscriptions (published by
        redis-cli, another client or a handler), oldest first; the runs made."""
        return [record for _, records in self._deliver() for record in records]

    def run_cron(self, component: str, region: str | None = None) -> dict[str, TriggerRun]:
        """Fire `component`'s cron handler now (timestamp: the virtual time, in seconds)
        in `region`, or in every region of its job; region -> how it went. The
        schedule's own firings are not moved."""
        jobs = self.triggers.cron_jobs(component)
        if not jobs:
            known = ", ".join(sorted({j.component for j in self.triggers.cron})) or "none"
            raise EdgeError(f"component {component!r} has no cron trigger (cron jobs: {known})")
        if region is not None and region not in self.host.regions:
            raise KeyError(f"unknown region {region!r}; regions are {self.regions}")
        job = jobs[0]
        timestamp = int(self.clock.now())
        regions = [region] if region is not None else list(job.regions)
        return {
            name: _as_run(self._run("cron", job.name, component, name, timestamp))
            for name in regions
        }

    @property
    def trigger_runs(self) -> list[TriggerRecord]:
        """Every trigger run so far (messages and cron events), in the order they ran."""
        return list(self._trigger_runs)

    def _subscriptions(self, channel: str, address: str | None) -> list[RedisSubscription]:
        found = [
            s
            for s in self.triggers.redis
            if s.channel == channel and (address is None or s.address == address)
        ]
        if not found:
            channels = ", ".join(sorted({s.channel for s in self.triggers.redis})) or "none"
            raise EdgeError(f"no Redis trigger of the app subscribes to {channel!r} ({channels})")
        servers = sorted({s.address for s in found})
        if len(servers) > 1:
            raise EdgeError(
                f"the app subscribes to {channel!r} on {', '.join(servers)}: pass address="
            )
        return found

    def _deliver(self) -> list[tuple[Message, list[TriggerRecord]]]:
        out = []
        for address, inbox in sorted(self._inboxes.items()):
            for message in inbox.waiting():
                records = [
                    self._run("redis", s.channel, s.component, region, message.payload)
                    for s in self.triggers.subscriptions(address, message.channel)
                    for region in s.regions
                ]
                out.append((message, records))
        return out

    def _run(
        self, kind: str, name: str, component: str, region: str, argument: bytes | int
    ) -> TriggerRecord:
        started = self.clock.now()
        self._source = f"{kind}:{name}"
        try:
            run = self.host.run_trigger(kind, region, component, argument)
        finally:
            self._source = "http"
        # As after a request: replicas fall behind from the primary's commit.
        self.replicator.sql.poll()
        record = TriggerRecord(
            kind,
            name,
            component,
            region,
            started,
            run.ok,
            run.error,
            run.seconds,
            timestamp=argument if isinstance(argument, int) else None,
            size=len(argument) if isinstance(argument, bytes) else None,
            index=len(self._trigger_runs),
        )
        self._trigger_runs.append(record)
        return record

    # --- history ----------------------------------------------------------------------

    @property
    def history(self) -> History:
        """The key-value ops the guests made, in order (needs `record_history=True`)."""
        if self._history is None:
            raise RuntimeError("history recording is off: use Emulator(record_history=True)")
        return self._history

    def _record_kv(self, region: str, label: str, store: KVStore) -> RecordingKV:
        return RecordingKV(
            store,
            self.history,
            label=label,
            clock=self.clock.now,
            region=region,
            source=self._source,
        )

    @property
    def sql_history(self) -> SqlHistory:
        """The SQL statements the guests ran, in order, with the states they saw."""
        if self._sql_history is None:
            raise RuntimeError("history recording is off: use Emulator(record_history=True)")
        return self._sql_history

    def _record_sql(
        self, region: str, label: str, conn: SqlConnection | RoutedConnection
    ) -> RecordingSql:
        copies = self.sql_replicas(label)
        return RecordingSql(
            conn,
            self.sql_history,
            region=region,
            label=label,
            local=copies[region],
            primary=copies[self.primary_region],
            clock=self.clock.now,
            source=self._source,
        )

    def kv_replicas(self) -> dict[str, dict[str, KVStore]]:
        """label -> region -> that region's replica of the key-value store."""
        labels = sorted(set(self.replicator.kv.labels) | {op.label for op in self.history.ops()})
        return {
            label: {name: region.stores.kv(label) for name, region in self.host.regions.items()}
            for label in labels
        }

    def sql_replicas(self, label: str = "default") -> dict[str, SqlDatabase]:
        """region -> that region's copy of the database (the primary's is writable)."""
        return {
            name: region.stores.sql(label, read_only=name != self.primary_region)
            for name, region in self.host.regions.items()
        }

    def check_read_your_writes(self) -> None:
        """AssertionError unless every region read its own writes (or later winners).

        Key-value reads by key; SQL by database state (sql_history).
        """
        assert_read_your_writes(self.history)
        assert_sql_read_your_writes(self.sql_history)

    def check_monotonic_reads(self) -> None:
        """AssertionError if a region's reads ever went back to older data.

        For SQL, also if a region saw a state its primary never had.
        """
        assert_monotonic_reads(self.history)
        assert_sql_monotonic_reads(self.sql_history)

    def check_convergence(self, settle: bool = True) -> None:
        """AssertionError unless all replicas agree on every recorded write.

        Key-value replicas must hold the LWW winner of each key's writes; SQL
        copies must equal the primary's last recorded state. Settles replication
        first (which raises while a partition holds changes back) unless
        `settle` is False.
        """
        if settle:
            self.settle()
        assert_convergence(self.history, self.kv_replicas())
        labels = sorted({op.label for op in self.sql_history.ops()})
        assert_sql_convergence(self.sql_history, {lb: self.sql_replicas(lb) for lb in labels})

    def check_no_lost_writes(self) -> None:
        """AssertionError listing every acknowledged key-value write that was silently lost.

        A write is lost when a write of the same key in another region, made
        without having seen it, beat it by last-writer-wins: both are named.
        (SQL writes all run on the primary, in one order: none can be lost so.)
        """
        assert_no_lost_writes(self.history)

    # --- faults -----------------------------------------------------------------------

    def partition(self, region: str, other: str | None = None) -> None:
        """Cut `region` off from all others, or only from `other`."""
        self.network.partition(region, other)

    def heal(self, region: str | None = None, other: str | None = None) -> None:
        self.network.heal(self.clock.now(), region, other)

    def set_lag(
        self,
        lag: str | float,
        region: str | None = None,
        other: str | None = None,
        jitter: str | float | None = None,
    ) -> None:
        self.network.set_lag(
            parse_duration(lag), region, other, None if jitter is None else parse_duration(jitter)
        )

    def replicas_agree(self, label: str = "default") -> bool:
        """Whether every region has the same data in the store and/or database `label`."""
        return self.replicator.agree(label)

    def status(self) -> dict[str, Any]:
        return {
            "now": self.clock.now(),
            "primary_region": self.primary_region,
            "links": self.network.describe(),
            **self.replicator.status(),
        }

    def client(self, region: str | None = None) -> Client:
        name = region or self.regions[0]
        if name not in self.host.regions:
            raise KeyError(f"unknown region {name!r}; regions are {self.regions}")
        # The replicas start to fall behind when the primary commits, not later.
        return Client(self.host, name, after=self.replicator.sql.poll)

    def _start_redis(self, env: Mapping[str, str] | None) -> EmbeddedRedis | None:
        # As `edge up`: a real server for an app whose redis_address nothing sets.
        provided = VariableResolver(self.manifest, env or {}, dotenv_path=None).provided
        if env is None:
            provided = VariableResolver(self.manifest, os.environ).provided
        if not wants_embedded(self.manifest, provided):
            return None
        server = EmbeddedRedis(self.state_dir / "redis")
        server.start()
        return server

    def close(self) -> None:
        for inbox in self._inboxes.values():
            inbox.close()
        self._inboxes.clear()
        self.host.close()
        if self.redis is not None:
            self.redis.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _as_run(record: TriggerRecord) -> TriggerRun:
    return TriggerRun(record.ok, record.error, record.seconds)
