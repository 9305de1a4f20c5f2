"""The plan's cron jobs on the real clock, in each of their regions.

A thread sleeps until the next due time of any job (the job's `Schedule`: UTC,
seconds first), then hands each of the job's regions to `fire(job, region,
timestamp, done)`: the caller runs it as it likes and calls `done()` once it
has finished. A firing whose previous one (same job, same region) has not
called `done` yet, because it is still queued or still running, is skipped and
logged, as cron schedulers skip overlapping runs; `on_skip` hears of it.

Ticks are never replayed: after a firing the next due time is the first one
after now, so a clock that jumped ahead (a suspended laptop) gives one firing,
not one per tick it missed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from .plan import CronJob

log = logging.getLogger("edge.triggers")

Fire = Callable[[CronJob, str, int, Callable[[], None]], None]
LATE_SECONDS = 2.0  # a firing later than this past its due time is logged


def utc(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class CronScheduler:
    def __init__(
        self,
        jobs: Sequence[CronJob],
        fire: Fire,
        *,
        on_skip: Callable[[CronJob, str, int], None] | None = None,
        on_next: Callable[[CronJob, float], None] | None = None,
        clock: Callable[[], float] = time.time,
        max_sleep: float = 1.0,
    ) -> None:
        """`on_next(job, at)`: the job's next due time, each time it is computed.
        `max_sleep`: the longest the thread sleeps before looking at the clock again."""
        self.jobs = [job for job in jobs if job.regions]
        self._fire = fire
        self._on_skip = on_skip
        self._on_next = on_next
        self._clock = clock
        self._max_sleep = max_sleep
        self._busy: set[tuple[str, str]] = set()  # (job name, region) queued or running
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-cron", daemon=True)

    def start(self) -> None:
        if self.jobs:
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def busy(self) -> set[tuple[str, str]]:
        """(job name, region) of the firings not done yet."""
        with self._lock:
            return set(self._busy)

    def _run(self) -> None:
        now = self._clock()
        due = [self._next(job, now) for job in self.jobs]
        while not self._stop.is_set():
            now = self._clock()
            soonest = min(due)
            if soonest > now:
                self._stop.wait(min(soonest - now, self._max_sleep))
                continue
            for i, job in enumerate(self.jobs):
                if due[i] <= now:
                    if now - due[i] > LATE_SECONDS:
                        log.warning(
                            "cron job %s: the run due at %s starts %.0f s late (the clock "
                            "jumped, or the machine slept); missed runs are not replayed",
                            job.name,
                            utc(due[i]),
                            now - due[i],
                        )
                    self._fire_regions(job, int(due[i]))
                    due[i] = self._next(job, now)

    def _next(self, job: CronJob, after: float) -> float:
        at = job.schedule.next_after(after)
        if self._on_next is not None:
            try:
                self._on_next(job, at)
            except Exception:
                log.exception("recording the next run of cron job %s failed", job.name)
        return at

    def _fire_regions(self, job: CronJob, timestamp: int) -> None:
        for region in job.regions:
            key = (job.name, region)
            with self._lock:
                overlaps = key in self._busy
                if not overlaps:
                    self._busy.add(key)
            if overlaps:
                log.warning(
                    "cron job %s in %s: skipped the run due at %s, the previous one "
                    "has not finished",
                    job.name,
                    region,
                    utc(timestamp),
                )
                if self._on_skip is not None:
                    try:
                        self._on_skip(job, region, timestamp)
                    except Exception:
                        log.exception("recording a skipped run of cron job %s failed", job.name)
                continue
            try:
                self._fire(job, region, timestamp, self._done_callback(key))
            except Exception:
                self._release(key)
                log.exception("cron job %s in %s: could not start its run", job.name, region)

    def _done_callback(self, key: tuple[str, str]) -> Callable[[], None]:
        def done() -> None:
            self._release(key)

        return done

    def _release(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._busy.discard(key)
