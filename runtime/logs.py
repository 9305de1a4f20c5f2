"""Logging for the runtime: rich on a terminal, plain lines otherwise.

Warnings and errors that repeat word for word (a client flood, a failing
accept) are rate-limited, so that no fault can fill the disk with the log.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.logging import RichHandler

console = Console(stderr=True)

REPEATS_PER_WINDOW = 20
REPEAT_WINDOW_SECONDS = 10.0


@dataclass
class _Seen:
    window_start: float
    count: int = 0
    dropped: int = 0


class RepeatFilter(logging.Filter):
    """Lets the first `burst` copies of a warning or error through per `window` seconds.

    A copy is a record with the same logger, level, message and exception. The
    rest of a window's copies are counted, and the first copy let through in a
    later window says how many were dropped. Info and debug records (the
    access log) always pass.
    """

    def __init__(
        self,
        burst: int = REPEATS_PER_WINDOW,
        window: float = REPEAT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 1000,
    ) -> None:
        super().__init__()
        self.burst, self.window, self.clock, self.max_keys = burst, window, clock, max_keys
        self._seen: dict[tuple[str, int, str, str], _Seen] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        exc = record.exc_info[1] if record.exc_info else None
        key = (record.name, record.levelno, _message(record), repr(exc))
        now = self.clock()
        seen = self._seen.get(key)
        if seen is None or now - seen.window_start >= self.window:
            if len(self._seen) >= self.max_keys:
                self._forget_old(now)
            dropped = seen.dropped if seen is not None else 0
            seen = self._seen[key] = _Seen(window_start=now)
            if dropped:
                _append(record, f" ({dropped} more like this in the last window were not logged)")
        seen.count += 1
        if seen.count <= self.burst:
            return True
        seen.dropped += 1
        return False

    def _forget_old(self, now: float) -> None:
        """Keeps the table bounded when every message differs (those never repeat)."""
        old = [k for k, s in self._seen.items() if now - s.window_start >= self.window]
        for key in old or list(self._seen):
            del self._seen[key]


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # bad arguments: the handler reports them, the filter must not raise
        return str(record.msg)


def _append(record: logging.LogRecord, text: str) -> None:
    record.msg = _message(record) + text
    record.args = None


def setup_logging(level: str = "info") -> None:
    root = logging.getLogger()
    root.handlers.clear()
    if sys.stderr.isatty():
        handler: logging.Handler = RichHandler(
            console=console, show_path=False, markup=False, rich_tracebacks=True
        )
        handler.setFormatter(logging.Formatter("%(message)s", datefmt="[%X]"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        fmt = f"%(asctime)s %(levelname)s [{os.getpid()}] %(name)s: %(message)s"
        handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(RepeatFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # hypercorn's own error log is noisy about client disconnects at info level.
    logging.getLogger("edge.hypercorn").setLevel(logging.WARNING)
