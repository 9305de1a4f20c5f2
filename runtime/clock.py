"""Time for the emulator: the real clock for `edge up`, a virtual one for tests.

With the virtual clock nothing sleeps: time moves only when a test advances it,
and replication happens exactly then.
"""

from __future__ import annotations

import re
import time
from typing import Protocol

# A fixed start keeps virtual runs (and the HLCs they stamp) identical run to run.
VIRTUAL_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(us|ms|s|m|h)?\s*")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: str | float | int) -> float:
    """Seconds from `1.5`, `"250ms"`, `"2s"`, `"1m"`; ValueError if malformed or negative."""
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.fullmatch(value)
        if match is None:
            raise ValueError(f"not a duration: {value!r} (use e.g. 250ms, 1.5s, 2m)")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    return seconds


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let `seconds` pass (a network round trip, a timeout)."""
        ...


class RealClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = VIRTUAL_EPOCH) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a virtual clock cannot go back")
        self._now += seconds

    def sleep(self, seconds: float) -> None:
        # Waiting on the virtual clock is moving it: a request that pays a
        # round trip ends that much later, and nothing really sleeps.
        self.advance(max(0.0, seconds))

    def advance_to(self, when: float) -> None:
        self._now = max(self._now, when)
