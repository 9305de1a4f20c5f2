"""The watchdog gives up on a call at its deadline and keeps the number of stuck calls bounded."""

from __future__ import annotations

import threading
import time

import pytest

from runtime.wasm.watchdog import Abandoned, TooManyStuck, Watchdog


def test_a_call_returns_its_value_or_raises_its_error() -> None:
    watchdog = Watchdog(grace=0.1)
    assert watchdog.run(lambda: threading.current_thread().name, time.monotonic() + 5) == (
        "edge-guest"
    )
    with pytest.raises(ZeroDivisionError):
        watchdog.run(lambda: 1 / 0, time.monotonic() + 5)


def test_a_blocked_call_is_abandoned_and_the_next_one_runs_at_once() -> None:
    watchdog = Watchdog(grace=0.1)
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(Abandoned):
        watchdog.run(release.wait, time.monotonic() + 0.2)
    assert time.monotonic() - started < 5  # not until `release`
    assert watchdog.stuck_calls() == 1
    assert watchdog.run(lambda: "next", time.monotonic() + 5) == "next"
    release.set()  # the abandoned call returns: its thread ends and is forgotten
    deadline = time.monotonic() + 10
    while watchdog.stuck_calls() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert watchdog.stuck_calls() == 0


def test_calls_are_refused_while_too_many_are_stuck() -> None:
    watchdog = Watchdog(grace=0.05, max_stuck=2)
    release = threading.Event()
    for _ in range(2):
        with pytest.raises(Abandoned):
            watchdog.run(release.wait, time.monotonic())
    with pytest.raises(TooManyStuck, match="2 handlers are still blocked"):
        watchdog.run(lambda: "refused", time.monotonic() + 5)
    release.set()
    deadline = time.monotonic() + 10
    while watchdog.stuck_calls() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert watchdog.run(lambda: "served", time.monotonic() + 5) == "served"
