"""Calls into a guest that give up at their deadline, even inside a blocked host call.

Epoch interruption stops guest code at the deadline and the stores stop their
statements there, but a guest can also wait inside WASI itself: `time.sleep`
is a `wasi:io/poll` wait, outbound HTTP a read on a socket, and nothing reaches
in to end those. So each call runs on a thread of the watchdog's while the
caller waits for it until the deadline, plus a grace for a trap to unwind. A
call still running then is abandoned: the caller gets `Abandoned` and the next
call a fresh thread, while the old one finishes alone. Its instance is never
used again; when the host call returns, the guest's next epoch check traps.

Abandoned threads still hold their instance's memory, so at most `max_stuck`
may be alive at once; beyond that calls are refused (`TooManyStuck`) until one
of them ends.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

GRACE_SECONDS = 0.25  # how long past the deadline a trap may take to come back
MAX_STUCK = 8


class Abandoned(Exception):
    """The call did not return by its deadline; its thread was left to finish alone."""


class TooManyStuck(Exception):
    """Too many abandoned calls are still blocked: none is started until one ends."""


class _Call(Generic[T]):
    def __init__(self, fn: Callable[[], T]) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.value = self.fn()
        except BaseException as exc:  # handed to the waiting caller
            self.error = exc
        finally:
            self.done.set()

    def result(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class _Worker:
    """One thread that runs calls one after another until it is abandoned."""

    def __init__(self, watchdog: Watchdog) -> None:
        self.calls: queue.SimpleQueue[_Call[Any] | None] = queue.SimpleQueue()
        self.abandoned = False
        self._watchdog = watchdog
        self.thread = threading.Thread(target=self._loop, name="edge-guest", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            call = self.calls.get()
            if call is None:  # the watchdog is closed
                return
            call.run()
            del call  # its closure holds the instance (and so the component) until then
            with self._watchdog.lock:
                if self.abandoned:
                    self._watchdog.stuck.discard(self)
                    return


class Watchdog:
    def __init__(self, grace: float = GRACE_SECONDS, max_stuck: int = MAX_STUCK) -> None:
        self.grace = grace
        self.max_stuck = max_stuck
        self.lock = threading.Lock()
        self.stuck: set[_Worker] = set()
        self._worker: _Worker | None = None

    def close(self) -> None:
        """End the idle worker thread (a stuck one ends when its call returns)."""
        with self.lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.calls.put(None)

    def stuck_calls(self) -> int:
        """Abandoned calls whose threads have not ended yet."""
        with self.lock:
            return len(self.stuck)

    def run(self, fn: Callable[[], T], deadline: float) -> T:
        """`fn()` on the watchdog's thread; `Abandoned` if not back by `deadline` + grace.

        `deadline` is in `time.monotonic()` seconds. Only one caller at a time.
        """
        with self.lock:
            if len(self.stuck) >= self.max_stuck:
                raise TooManyStuck(
                    f"{len(self.stuck)} handlers are still blocked in host calls past their "
                    "deadline; no new one starts until one of them returns"
                )
            worker = self._worker
            if worker is None:
                worker = self._worker = _Worker(self)
        call: _Call[T] = _Call(fn)
        worker.calls.put(call)
        if not call.done.wait(max(0.0, deadline - time.monotonic()) + self.grace):
            with self.lock:
                if not call.done.is_set():  # it may have ended just now
                    worker.abandoned = True
                    self.stuck.add(worker)
                    self._worker = None
                    raise Abandoned
        return call.result()
