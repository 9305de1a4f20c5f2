"""Fixtures shared by the jco + Node tests of tests/wasi_http."""

from __future__ import annotations

import pytest

from .harness import find_node


@pytest.fixture(scope="session")
def node() -> str:
    """A usable `node` with jco and preview2-shim installed, else the test skips."""
    return find_node()
