"""`wasi:clocks/wall-clock`, shadowed to follow a virtual clock (the Emulator's).

Under the Emulator time moves only when a test advances it; a handler that
reads the time (`time.time()`, `datetime.now()`) must see that time, or its
TTLs and timestamps could not be tested without sleeping. Reads between two
advances step forward by a microsecond each, so times still order events. The monotonic
clock (`time.monotonic()`, `time.sleep`) stays wasmtime's: deadlines are
wall-clock limits of the host.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wasmtime import component as wc

WALL_CLOCK_PREFIX = "wasi:clocks/wall-clock@"


class _Datetime(wc.Record):
    def __init__(self, seconds: int, nanoseconds: int) -> None:
        self.seconds = seconds
        self.nanoseconds = nanoseconds


# Each read is at least this much later than the one before: the virtual clock
# stands still between advances, and ids or orderings taken from the time
# (`time.time_ns()` prefixes) must still come out in the order they were made.
STEP_NS = 1000


def add_to_linker(root: Any, import_name: str, now: Callable[[], float]) -> None:
    last = [0]

    def wall_now(store: Any) -> _Datetime:
        ns = max(int(now() * 1_000_000_000), last[0] + STEP_NS)
        last[0] = ns
        return _Datetime(ns // 1_000_000_000, ns % 1_000_000_000)

    def resolution(store: Any) -> _Datetime:
        return _Datetime(0, 1000)

    with root.add_instance(import_name) as clock:
        clock.add_func("now", wall_now)
        clock.add_func("resolution", resolution)
