"""The single wasm thread: one thread for every call, background work between jobs."""

from __future__ import annotations

import threading

import pytest

from runtime.wasm.thread import WasmThread


def test_every_job_runs_on_the_same_thread() -> None:
    wasm = WasmThread()
    try:
        idents = {wasm.call(threading.get_ident) for _ in range(20)}
        assert len(idents) == 1 and threading.get_ident() not in idents
    finally:
        wasm.stop()


def test_exceptions_reach_the_caller_and_the_thread_survives() -> None:
    wasm = WasmThread()
    try:
        with pytest.raises(ZeroDivisionError):
            wasm.call(lambda: 1 / 0)
        assert wasm.call(lambda: 2 + 2) == 4
    finally:
        wasm.stop()


def test_idle_work_runs_after_each_job_and_until_done() -> None:
    remaining = [3]
    log: list[str] = []
    done = threading.Event()

    def idle() -> bool:
        if remaining[0] == 0:
            done.set()
            return False
        remaining[0] -= 1
        log.append("idle")
        return True

    wasm = WasmThread(idle=idle)
    try:
        assert done.wait(5)
        assert log == ["idle"] * 3
        remaining[0] = 1
        done.clear()
        wasm.call(lambda: log.append("job"))
        assert done.wait(5)
        assert log[-2:] == ["job", "idle"]  # the pool is topped up right after a job
    finally:
        wasm.stop()


def test_failing_idle_work_does_not_kill_the_thread() -> None:
    def idle() -> bool:
        raise RuntimeError("instantiation failed")

    wasm = WasmThread(idle=idle)
    try:
        assert wasm.call(lambda: "still here") == "still here"
    finally:
        wasm.stop()
