"""Debian's Chromium, headless, driven by Playwright (never Playwright's own browsers).

tools/install-chromium.sh installs it; without it (or without the playwright
package) the browser tests skip, and under CI that is an error.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the networking flags Chromium keeps calling home, which floods a
# closed network with retries.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    missing = None
    if not os.access(CHROMIUM, os.X_OK):
        missing = f"{CHROMIUM} (tools/install-chromium.sh)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package (pip install -e '.[test]')"
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser tests need {missing}")
        pytest.skip(f"needs {missing}")


@contextmanager
def chromium_context(**options: Any) -> Iterator[Any]:
    """A fresh browser profile in a temporary directory, closed and removed afterwards."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="edge-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=ARGS, **options
        )
        try:
            yield context
        finally:
            context.close()
