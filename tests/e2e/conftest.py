"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.testing import Emulator

from .edgeup import EdgeUp


@pytest.fixture
def launched() -> Iterator[list[EdgeUp]]:
    """Every `edge up` a test starts; all are stopped at the end, whatever happened."""
    servers: list[EdgeUp] = []
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def emulate(
    built: dict[str, Path], edge_emulator: Callable[..., Emulator]
) -> Callable[..., Emulator]:
    """`emulate(app, **options)`: an Emulator of a built app, from the pytest plugin's factory
    (state in the test's tmp_path, closed after the test)."""

    def make(app: str, **options: Any) -> Emulator:
        return edge_emulator(built[app], build=False, **options)

    return make
