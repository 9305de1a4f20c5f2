"""The cron scheduler on the real clock (a one-second schedule), and its overlap skipping."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest

from runtime.app.schedules import Schedule
from runtime.triggers.cron_scheduler import CronScheduler
from runtime.triggers.plan import CronJob

from .conftest import Collected, eventually


def job(expression: str = "*/1 * * * * *", regions: tuple[str, ...] = ("a", "b")) -> CronJob:
    return CronJob("jobs", Schedule.parse(expression), regions, 0)


def test_every_second_in_every_region_on_the_real_clock() -> None:
    fired = Collected()

    def fire(j: CronJob, region: str, timestamp: int, done: Callable[[], None]) -> None:
        fired.add(region, timestamp, time.time())
        done()

    scheduler = CronScheduler([job()], fire)
    scheduler.start()
    try:
        items = fired.wait_for(6, timeout=5)  # three ticks in two regions
    finally:
        scheduler.stop()
    stamps = [t for _, t, _ in items]
    regions = [r for r, _, _ in items]
    assert regions[:6] == ["a", "b"] * 3  # each tick: one region after the other
    assert stamps[:6:2] == stamps[1:6:2]
    first = stamps[0]
    assert stamps[:6:2] == [first, first + 1, first + 2]  # whole, consecutive seconds
    for _, stamp, at in items:
        assert stamp <= at < stamp + 0.5  # fired at its second, not before


def test_a_run_still_going_makes_the_next_firing_of_its_region_skip(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fired, skipped = Collected(), Collected()
    pending: list[Callable[[], None]] = []

    def fire(j: CronJob, region: str, timestamp: int, done: Callable[[], None]) -> None:
        fired.add(region, timestamp)
        if region == "a" and not pending:
            pending.append(done)  # the first run of "a" is slow: not done yet
        else:
            done()

    scheduler = CronScheduler([job()], fire, on_skip=lambda j, region, at: skipped.add(region, at))
    scheduler.start()
    try:
        skipped.wait_for(2, timeout=5)
        assert scheduler.busy() == {("jobs", "a")}
        assert [r for r, _ in skipped.items] == ["a"] * len(skipped.items)
        assert [r for r, _ in fired.items].count("a") == 1
        b_runs = [t for r, t in fired.items if r == "b"]
        assert len(b_runs) >= 2  # "b" is not held up by "a"
        assert {t for _, t in skipped.items} <= set(b_runs)  # "a" skipped exactly those ticks
        pending[0]()  # the slow run ends
        eventually(lambda: [r for r, _ in fired.items].count("a") == 2, 3, "a fired again")
    finally:
        scheduler.stop()
    assert "cron job jobs in a: skipped the run due at" in caplog.text
    assert "the previous one has not finished" in caplog.text


def test_the_next_due_time_is_told_each_time() -> None:
    nexts = Collected()
    scheduler = CronScheduler(
        [job()], lambda j, r, t, done: done(), on_next=lambda j, at: nexts.add(at)
    )
    scheduler.start()
    try:
        times = nexts.wait_for(3, timeout=5)
    finally:
        scheduler.stop()
    assert times[1] == times[0] + 1 and times[2] == times[1] + 1
    assert all(t == int(t) for t in times)


def test_a_clock_that_jumps_ahead_fires_once_not_for_every_missed_tick(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [1_800_000_000.5]  # half a second past a whole minute
    lock = threading.Lock()

    def clock() -> float:
        with lock:
            return now[0]

    fired = Collected()

    def fire(j: CronJob, region: str, timestamp: int, done: Callable[[], None]) -> None:
        fired.add(timestamp)
        done()

    scheduler = CronScheduler([job("0 * * * * *", ("a",))], fire, clock=clock, max_sleep=0.02)
    scheduler.start()
    try:
        time.sleep(0.1)
        assert fired.items == []  # the next minute has not come
        with lock:
            now[0] += 3600  # an hour later (a laptop woke up)
        fired.wait_for(1, timeout=3)
        time.sleep(0.2)
        assert fired.items == [1_800_000_060]  # the tick that was due, once
        with lock:
            now[0] = 1_800_003_660.0  # the next whole minute after the jump
        assert fired.wait_for(2, timeout=3)[1] == 1_800_003_660
    finally:
        scheduler.stop()
    assert "missed runs are not replayed" in caplog.text


def test_a_job_restricted_to_no_region_and_no_jobs_start_no_thread() -> None:
    scheduler = CronScheduler([job(regions=())], lambda j, r, t, done: done())
    scheduler.start()
    assert not scheduler._thread.is_alive()
    scheduler.stop()


def test_a_fire_callback_that_raises_frees_its_slot(caplog: pytest.LogCaptureFixture) -> None:
    calls = Collected()

    def fire(j: CronJob, region: str, timestamp: int, done: Callable[[], None]) -> None:
        calls.add(timestamp)
        raise RuntimeError("queue is gone")

    caplog.set_level(logging.ERROR)
    scheduler = CronScheduler([job(regions=("a",))], fire)
    scheduler.start()
    try:
        calls.wait_for(2, timeout=4)  # not skipped as overlapping: the slot was freed
    finally:
        scheduler.stop()
    assert "could not start its run" in caplog.text
