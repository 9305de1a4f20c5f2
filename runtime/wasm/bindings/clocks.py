"""`wasi:clocks/wall-clock`, shadowed to follow a virtual clock (the Emulator's).

Under the Emulator time moves only when a test advances it; a handler that
reads the time (`time.time()`, `datetime.now()`) must see that time, or its
TTLs and timestamps could not be tested without sleeping. The monotonic
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


def add_to_linker(root: Any, import_name: str, now: Callable[[], float]) -> None:
    def wall_now(store: Any) -> _Datetime:
        ns = int(now() * 1_000_000_000)
        return _Datetime(ns // 1_000_000_000, ns % 1_000_000_000)

    def resolution(store: Any) -> _Datetime:
        return _Datetime(0, 1000)

    with root.add_instance(import_name) as clock:
        clock.add_func("now", wall_now)
        clock.add_func("resolution", resolution)
