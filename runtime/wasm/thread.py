"""The thread of a process that its wasm work goes through, one job at a time.

wasmtime-py converts component values through module-global state, so two
threads inside components at once corrupt each other's calls. Every job that
touches wasm goes through this thread's queue; a request's guest calls run on
the watchdog's thread while this one waits for them (`runtime.wasm.watchdog`),
so still only one call runs at a time. After each job, and whenever the queue
is empty, the thread runs its idle hook (refilling instance pools), so
instantiation happens between requests instead of inside them.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_STOP = object()


class WasmThread:
    def __init__(self, idle: Callable[[], bool] | None = None, name: str = "edge-wasm") -> None:
        """`idle` does one unit of background work and returns True if more remains."""
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._idle = idle
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((future, fn, args))
        return future

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn` on the wasm thread and wait for it (from any other thread)."""
        return self.submit(fn, *args).result()

    def _run(self) -> None:
        busy_idle = True
        while True:
            try:
                # Block only when there is no background work left to do.
                job = self._jobs.get(block=not busy_idle, timeout=None)
            except queue.Empty:
                busy_idle = self._run_idle()
                continue
            if job is _STOP:
                return
            future, fn, args = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # delivered to the waiting request
                    future.set_exception(exc)
            # Replace what the request used before taking the next one, so even a
            # busy thread hands every request an instance made ahead of it.
            busy_idle = self._run_idle()

    def _run_idle(self) -> bool:
        if self._idle is None:
            return False
        try:
            return self._idle()
        except Exception:  # background work must never kill the wasm thread
            logging.getLogger("edge.wasm").exception("background instantiation failed")
            return False

    def stop(self) -> None:
        self._jobs.put(_STOP)
        self._thread.join(timeout=5)
