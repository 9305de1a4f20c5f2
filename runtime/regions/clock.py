"""Time for the emulator: the real clock for `edge up`, a virtual one for tests.

With the virtual clock nothing sleeps: time moves only when a test advances it,
and replication happens exactly then.
"""

from __future__ import annotations

import time
from typing import Protocol

# A fixed start keeps virtual runs (and the HLCs they stamp) identical run to run.
VIRTUAL_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z


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
