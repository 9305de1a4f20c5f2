"""Trigger firings into the components: one at a time, one region after another.

The Redis subscribers and the cron scheduler (runtime.triggers) call in from
threads of their own; the runner queues each firing, and its thread takes
them in order and runs each region's run on the process's wasm thread with
`EdgeHost.run_trigger` (a fresh instance with the request's deadline, memory
limit, grants and bindings). Each run is written to the record of runs and
logged in one line that names its region. A run that fails (an exception, a
trap, the deadline) is a failure in the record, and the next firing runs as
usual.

At most MAX_QUEUED messages and MAX_QUEUED_BYTES of payload wait: beyond that
a message is dropped (logged and counted), so a flood cannot grow the process
without bound. Cron firings are never dropped: the scheduler keeps at most one
per job and region waiting.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from ..stores.events import NO_EVENTS, EventSink
from ..triggers.plan import CronJob, RedisSubscription
from ..triggers.runs import RowKey, RunRecord
from .host import EdgeHost, TriggerRun

log = logging.getLogger("edge.triggers")

MAX_QUEUED = 10_000
MAX_QUEUED_BYTES = 256 * 1024 * 1024

Submit = Callable[..., Future[Any]]


@dataclass(frozen=True)
class Firing:
    kind: str  # "redis" or "cron"
    trigger: str  # redis:<channel> or cron:<job name>, as the record names it
    component: str
    regions: tuple[str, ...]
    argument: bytes | int  # the payload, or the cron event's timestamp
    address: str = ""
    done: Callable[[], None] | None = None  # told when every region's run has ended

    def key(self, region: str) -> RowKey:
        return RowKey(self.trigger, self.component, region, self.address)

    @property
    def size(self) -> int:
        return len(self.argument) if isinstance(self.argument, bytes) else 0


def message_firing(subscription: RedisSubscription, payload: bytes) -> Firing:
    return Firing(
        "redis",
        subscription.key,
        subscription.component,
        subscription.regions,
        payload,
        subscription.address,
    )


def cron_firing(
    job: CronJob, regions: tuple[str, ...], timestamp: int, done: Callable[[], None] | None = None
) -> Firing:
    return Firing("cron", f"cron:{job.name}", job.component, regions, timestamp, done=done)


def log_run(firing: Firing, region: str, run: TriggerRun) -> None:
    what = firing.trigger.replace(":", " ", 1)
    if run.ok:
        log.info("%s -> %s in %s: ok, %.1f ms", what, firing.component, region, run.seconds * 1e3)
    else:
        log.info(
            "%s -> %s in %s: failed after %.1f ms",
            what,
            firing.component,
            region,
            run.seconds * 1e3,
        )


def run_event(events: EventSink, firing: Firing, region: str, run: TriggerRun) -> None:
    fields = {
        "trigger": firing.kind,
        "component": firing.component,
        "region": region,
        "ok": run.ok,
        "ms": round(run.seconds * 1e3, 3),
    }
    events.emit("trigger", fields)


class TriggerRunner:
    def __init__(
        self,
        host: EdgeHost,
        submit: Submit,
        record: RunRecord,
        *,
        max_queued: int = MAX_QUEUED,
        max_queued_bytes: int = MAX_QUEUED_BYTES,
        events: EventSink = NO_EVENTS,
    ) -> None:
        """`submit(fn, *args)`: a future of `fn(*args)` on the wasm thread."""
        self._host = host
        self._submit = submit
        self._record = record
        self._events = events
        self._max_queued = max_queued
        self._max_bytes = max_queued_bytes
        self._queue: queue.SimpleQueue[Firing | None] = queue.SimpleQueue()
        self._waiting = 0
        self._waiting_bytes = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="edge-triggers", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Take no more; what runs now may finish within `timeout`, the rest is left."""
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def message(self, subscription: RedisSubscription, payload: bytes) -> None:
        """A message on the subscription's channel (from its subscriber's thread)."""
        if not subscription.regions:
            return
        firing = message_firing(subscription, payload)
        with self._lock:
            full = (
                self._waiting >= self._max_queued
                or self._waiting_bytes + firing.size > self._max_bytes
            )
            if not full:
                self._waiting += 1
                self._waiting_bytes += firing.size
        if full:
            log.warning(
                "redis %s: dropped a message of %d bytes, %d are still waiting to run",
                subscription.channel,
                firing.size,
                self._waiting,
            )
            for region in firing.regions:
                self._safely(self._record.dropped, firing.key(region))
            return
        self._queue.put(firing)

    def cron(self, job: CronJob, region: str, timestamp: int, done: Callable[[], None]) -> None:
        """A cron job's firing in one region (from the scheduler's thread)."""
        self._queue.put(cron_firing(job, (region,), timestamp, done))

    def _work(self) -> None:
        while True:
            firing = self._queue.get()
            if firing is None:
                return
            try:
                for region in firing.regions:
                    self._run(firing, region)
            finally:
                if firing.kind == "redis":
                    with self._lock:
                        self._waiting -= 1
                        self._waiting_bytes -= firing.size
                if firing.done is not None:
                    firing.done()

    def _run(self, firing: Firing, region: str) -> None:
        started = time.time()
        try:
            run: TriggerRun = self._submit(
                self._host.run_trigger, firing.kind, region, firing.component, firing.argument
            ).result()
        except Exception as exc:  # the host's own failure, not the guest's
            log.exception("%s in %s could not run", firing.trigger, region)
            run = TriggerRun(False, f"the host failed: {exc}", time.time() - started)
        log_run(firing, region, run)
        run_event(self._events, firing, region, run)
        self._safely(
            self._record.ran,
            firing.key(region),
            at=started,
            ok=run.ok,
            error=run.error,
            seconds=run.seconds,
        )

    @staticmethod
    def _safely(fn: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except Exception:  # a locked or broken record must not stop the triggers
            log.exception("writing the record of trigger runs failed")
