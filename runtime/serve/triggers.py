"""The Redis and cron triggers of `edge up`, as one process sees them.

Every process knows the plan (which component runs for which channel or
schedule, in which regions) and the shared record of runs, so any worker can
answer `/_edge/triggers` and run a cron job on demand (`POST /_edge/cron/...`,
in that worker, whatever the scheduler is doing: a manual run is never
skipped). Only one process runs the triggers (`start`): worker 0, or the only
process with `--workers 1`. It holds one subscription per Redis server and
the cron schedule, so each message and tick is handled once in each region
however many workers serve HTTP; the supervisor gives a replacement of worker
0 the same index, and the new process subscribes again.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..app.model import Manifest
from ..errors import EdgeError
from ..stores.events import NO_EVENTS, EventSink
from ..triggers.connect import target
from ..triggers.cron_scheduler import CronScheduler
from ..triggers.plan import CronJob, TriggerPlan, plan_triggers
from ..triggers.redis_subscriber import RedisSubscriber, SubscriberState
from ..triggers.runs import RowKey, RunRecord, empty_stats
from ..wasm.thread import WasmThread
from .host import EdgeHost, TriggerRun
from .trigger_runner import TriggerRunner, cron_firing, log_run, run_event


def make_plan(
    manifest: Manifest,
    lookup: Callable[[str], str],
    regions: Sequence[str],
    restrict: Mapping[str, Sequence[str]] | None,
) -> TriggerPlan:
    """The plan, with every Redis address checked (EdgeError if one cannot be used)."""
    plan = plan_triggers(manifest, lookup, regions, restrict)
    for address in plan.addresses():
        target(address)
    return plan


class UnknownJob(EdgeError):
    pass


class Triggers:
    def __init__(
        self,
        host: EdgeHost,
        wasm: WasmThread,
        plan: TriggerPlan,
        record: RunRecord,
        *,
        redis_timeout: float = 5.0,
        events: EventSink = NO_EVENTS,
    ) -> None:
        self.host = host
        self.events = events
        self.wasm = wasm
        self.plan = plan
        self.record = record
        self._redis_timeout = redis_timeout
        self._runner: TriggerRunner | None = None
        self._subscribers: list[RedisSubscriber] = []
        self._scheduler: CronScheduler | None = None

    @property
    def empty(self) -> bool:
        return not self.plan.redis and not self.plan.cron

    # -- the process that runs them ---------------------------------------------------

    def start(self) -> None:
        """Subscribe to every channel and keep the cron schedule, in this process."""
        if self.empty:
            return
        runner = self._runner = TriggerRunner(
            self.host, self.wasm.submit, self.record, events=self.events
        )
        runner.start()
        for address in self.plan.addresses():
            channels = self._channels(address)

            def on_message(channel: str, payload: bytes, address: str = address) -> None:
                for subscription in self.plan.subscriptions(address, channel):
                    runner.message(subscription, payload)

            def on_state(
                state: SubscriberState, address: str = address, channels: list[str] = channels
            ) -> None:
                self.record.subscription(
                    address,
                    channels,
                    connected=state.connected,
                    since=state.since,
                    reconnects=state.reconnects,
                    last_error=state.last_error,
                    pid=os.getpid(),
                )

            subscriber = RedisSubscriber(
                address, channels, on_message, on_state=on_state, timeout=self._redis_timeout
            )
            self._subscribers.append(subscriber)
            subscriber.start()
        self._scheduler = CronScheduler(
            self.plan.cron,
            runner.cron,
            on_skip=lambda job, region, at: self.record.skipped(
                RowKey(f"cron:{job.name}", job.component, region), at=at
            ),
            on_next=self._record_next,
        )
        self._scheduler.start()

    def _channels(self, address: str) -> list[str]:
        return list(dict.fromkeys(s.channel for s in self.plan.redis if s.address == address))

    def _record_next(self, job: CronJob, at: float) -> None:
        for region in job.regions:
            self.record.next_due(RowKey(f"cron:{job.name}", job.component, region), at)

    def stop(self) -> None:
        for subscriber in self._subscribers:
            subscriber.stop(timeout=1.0)
        if self._scheduler is not None:
            self._scheduler.stop(timeout=1.0)
        if self._runner is not None:
            self._runner.stop(timeout=0.5)

    # -- any process --------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What `/_edge/triggers` answers (reads the record: call it off the event loop)."""
        now = time.time()
        rows = self.record.rows()
        servers = self.record.subscriptions()
        listing: list[dict[str, Any]] = []
        for sub in self.plan.redis:
            regions = []
            for region in sub.regions:
                key = RowKey(sub.key, sub.component, region, sub.address)
                regions.append({"region": region, **(rows.get(key) or empty_stats())})
            listing.append(
                {
                    "kind": "redis",
                    "trigger": sub.key,
                    "channel": sub.channel,
                    "address": sub.address,
                    "component": sub.component,
                    "regions": regions,
                }
            )
        for job in self.plan.cron:
            trigger = f"cron:{job.name}"
            regions = []
            for region in job.regions:
                stats = rows.get(RowKey(trigger, job.component, region)) or empty_stats()
                planned = stats["next_run"]
                if planned is None or planned < now - 1:  # the scheduler has not said yet
                    stats["next_run"] = job.schedule.next_after(now)
                regions.append({"region": region, **stats})
            listing.append(
                {
                    "kind": "cron",
                    "trigger": trigger,
                    "job": job.name,
                    "component": job.component,
                    "schedule": job.schedule.expression,
                    "regions": regions,
                }
            )
        redis = []
        for address in self.plan.addresses():
            channels = self._channels(address)
            seen = servers.get(address)
            redis.append(
                {
                    "address": address,
                    "channels": channels,
                    "connected": seen["connected"] if seen else False,
                    "since": seen["since"] if seen else None,
                    "reconnects": seen["reconnects"] if seen else 0,
                    "last_error": seen["last_error"] if seen else None,
                    "subscriber_pid": seen["pid"] if seen else None,
                }
            )
        return {"now": now, "served_by": os.getpid(), "redis": redis, "triggers": listing}

    async def fire_now(self, component: str, region: str | None = None) -> dict[str, Any]:
        """Run `component`'s cron jobs now, in `region` or in every region of each job."""
        jobs = self.plan.cron_jobs(component)
        if not jobs:
            known = ", ".join(sorted({j.component for j in self.plan.cron})) or "none"
            raise UnknownJob(f"component {component!r} has no cron job (cron jobs: {known})")
        if region is not None:
            if region not in self.host.regions:
                raise ValueError(
                    f"unknown region {region!r}; regions are: {', '.join(self.host.regions)}"
                )
            jobs = [job for job in jobs if region in job.regions]
            if not jobs:
                where = ", ".join(self.plan.cron_jobs(component)[0].regions) or "no region"
                raise ValueError(
                    f"the cron job of {component!r} runs in {where}, not in {region} "
                    "(trigger_regions)"
                )
        timestamp = int(time.time())
        runs = []
        for job in jobs:
            regions = (region,) if region is not None else job.regions
            firing = cron_firing(job, regions, timestamp)
            for name in regions:
                started = time.time()
                future = self.wasm.submit(
                    self.host.run_trigger, "cron", name, job.component, timestamp
                )
                run: TriggerRun = await asyncio.wrap_future(future)
                log_run(firing, name, run)
                run_event(self.events, firing, name, run)
                await asyncio.to_thread(
                    self.record.ran,
                    firing.key(name),
                    at=started,
                    ok=run.ok,
                    error=run.error,
                    seconds=run.seconds,
                )
                runs.append(
                    {
                        "job": job.name,
                        "region": name,
                        "ok": run.ok,
                        "error": run.error,
                        "seconds": run.seconds,
                    }
                )
        return {"component": component, "timestamp": timestamp, "runs": runs}
