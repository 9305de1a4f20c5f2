"""Logging for the runtime: rich on a terminal, plain lines otherwise."""

from __future__ import annotations

import logging
import os
import sys

from rich.console import Console
from rich.logging import RichHandler

console = Console(stderr=True)


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
    root.addHandler(handler)
    root.setLevel(level.upper())
    # hypercorn's own error log is noisy about client disconnects at info level.
    logging.getLogger("edge.hypercorn").setLevel(logging.WARNING)
