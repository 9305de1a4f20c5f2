"""The heartbeat of a worker's lifeline, with a real wasm thread and a real socketpair
(the supervisor's side of it; e2e/test_supervisor.py runs whole processes)."""

from __future__ import annotations

import asyncio
import select
import threading
import time

from runtime.serve.lifeline import SupervisorEnd, WasmProgress, WorkerEnd, pair
from runtime.wasm.thread import WasmThread


def test_heartbeats_tell_a_busy_wasm_thread_from_a_stuck_one() -> None:
    progress = WasmProgress()
    wasm = WasmThread(idle=lambda: progress.touch() or False)
    ours, theirs = pair()
    supervisor, worker = SupervisorEnd(ours), WorkerEnd(theirs)
    release = threading.Event()

    def problem_within(seconds: float, timeout: float) -> str | None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if select.select([supervisor], [], [], 0.1)[0]:  # as the supervisor waits
                supervisor.read()
            found = supervisor.problem(started=time.monotonic(), timeout=timeout)
            if found is not None:
                return found
        return None

    async def scenario() -> None:
        beating = asyncio.get_running_loop().create_task(worker.beat(progress, wasm.submit))
        try:
            # An idle thread and short jobs: never stuck.
            for _ in range(5):
                await asyncio.wrap_future(wasm.submit(time.sleep, 0.05))
            assert await asyncio.to_thread(problem_within, 2.0, 1.5) is None
            assert supervisor.last_beat is not None
            # One job that does not end: stuck once it has run for the timeout.
            wasm.submit(release.wait)
            found = await asyncio.to_thread(problem_within, 10.0, 1.5)
            assert found is not None and "wasm thread has been on one job" in found
            release.set()
            await asyncio.sleep(1.5)
            assert await asyncio.to_thread(problem_within, 1.0, 1.5) is None
        finally:
            beating.cancel()
            release.set()

    try:
        asyncio.run(scenario())
    finally:
        wasm.stop()
        ours.close()
        theirs.close()


def test_silence_counts_from_the_start_and_then_from_the_last_beat() -> None:
    ours, theirs = pair()
    supervisor = SupervisorEnd(ours)
    try:
        long_ago = time.monotonic() - 120
        assert "no heartbeat within" in (supervisor.problem(long_ago, timeout=2) or "")
        assert supervisor.problem(time.monotonic(), timeout=2) is None  # still starting
        theirs.sendall(b"0.250\n0.5")  # a beat, and half of the next
        supervisor.read()
        assert supervisor.wasm_busy == 0.25 and supervisor.problem(long_ago, timeout=2) is None
        theirs.close()
        supervisor.read()
        assert not supervisor.open  # the worker's end is gone
    finally:
        ours.close()
