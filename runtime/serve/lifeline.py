"""The line between the supervisor and each worker: heartbeats up, death down.

One socketpair per worker. From its event loop the worker sends a heartbeat
every BEAT_SECONDS, a line with how long its wasm thread has now been on one
job. The supervisor kills and replaces a worker whose heartbeats stop (a stuck
event loop, a stopped process) or whose wasm thread has been stuck on one job
for longer than the worker timeout.

The other way, the line needs no message: when the supervisor dies, however
it dies (kill -9 too), the kernel closes its end, and a thread of the worker
that waits on the line sees end-of-file. The worker then stops as on SIGTERM,
and exits at once if that has not happened within ORPHAN_GRACE_SECONDS, so
no worker outlives its supervisor holding the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

log = logging.getLogger("edge.worker")

LIFELINE_ENV = "EDGE_WORKER_LIFELINE"  # the worker's end, as a file descriptor number
BEAT_SECONDS = 0.5
ORPHAN_GRACE_SECONDS = 5.0
STARTUP_SECONDS = 60.0  # for the first heartbeat: loading and instantiating come first


class WasmProgress:
    """When the wasm thread was last between jobs (it calls `touch` there)."""

    def __init__(self) -> None:
        self._last = time.monotonic()

    def touch(self) -> None:
        self._last = time.monotonic()

    def busy_for(self) -> float:
        return max(0.0, time.monotonic() - self._last)


def pair() -> tuple[socket.socket, socket.socket]:
    """(supervisor's end, worker's end): hand the worker's on with Popen's pass_fds."""
    return socket.socketpair()


class WorkerEnd:
    """The worker's end: heartbeats out, the supervisor's death in."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    @classmethod
    def from_env(cls) -> WorkerEnd | None:
        fd = os.environ.pop(LIFELINE_ENV, None)  # not for this process's own children
        return cls(socket.socket(fileno=int(fd))) if fd else None

    def watch_supervisor(self) -> None:
        """Stop this process when the supervisor is gone (a daemon thread waits for it)."""
        threading.Thread(target=self._wait_for_eof, name="edge-lifeline", daemon=True).start()

    def _wait_for_eof(self) -> None:
        with contextlib.suppress(OSError):
            while self._sock.recv(64):
                pass
        log.error("the supervisor of this worker is gone; stopping")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(ORPHAN_GRACE_SECONDS)
        os._exit(1)

    async def beat(
        self, progress: WasmProgress, submit: Callable[[Callable[[], None]], Future[None]]
    ) -> None:
        """Send heartbeats until cancelled; `submit` queues a call on the wasm thread.

        A no-op job wakes an idle wasm thread, so an idle thread counts as
        between jobs; a busy one touches `progress` after each job anyway.
        """
        pending: Future[None] | None = None
        while True:
            if pending is None or pending.done():
                pending = submit(progress.touch)
            line = f"{progress.busy_for():.3f}\n".encode()
            # A full line drops the beat; a broken one means the watcher is stopping us.
            with contextlib.suppress(OSError):
                self._sock.send(line, socket.MSG_DONTWAIT)
            await asyncio.sleep(BEAT_SECONDS)


class SupervisorEnd:
    """The supervisor's end of one worker's line: when it last heard of it, and how it was."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.last_beat: float | None = None  # monotonic time of the last heartbeat
        self.wasm_busy = 0.0  # as that heartbeat said
        self.open = True
        self._partial = b""

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> None:
        """Take in what has arrived (call when the socket is readable)."""
        try:
            data = self.sock.recv(4096)
        except OSError:
            data = b""
        if not data:
            self.open = False  # the worker is gone; its exit status tells the rest
            return
        *lines, self._partial = (self._partial + data).split(b"\n")
        if lines:
            self.last_beat = time.monotonic()
            with contextlib.suppress(ValueError):
                self.wasm_busy = float(lines[-1])

    def problem(self, started: float, timeout: float) -> str | None:
        """Why the worker (started at monotonic `started`) counts as stuck, or None."""
        if self.last_beat is None:
            waited = time.monotonic() - started
            limit = max(STARTUP_SECONDS, timeout)
            return f"no heartbeat within {waited:.0f}s of starting" if waited > limit else None
        silent = time.monotonic() - self.last_beat
        if silent > timeout:
            return f"no heartbeat for {silent:.1f}s"
        if self.wasm_busy + silent > timeout:
            return f"its wasm thread has been on one job for {self.wasm_busy + silent:.1f}s"
        return None

    def close(self) -> None:
        self.sock.close()
