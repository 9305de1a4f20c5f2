"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .edgeup import EdgeUp


@pytest.fixture
def launched() -> Iterator[list[EdgeUp]]:
    """Every `edge up` a test starts; all are stopped at the end, whatever happened."""
    servers: list[EdgeUp] = []
    yield servers
    for server in servers:
        server.stop()
