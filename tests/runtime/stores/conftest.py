"""Fixtures of the KVStore replication tests: three regions of one store on one clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.regions.clock import VirtualClock
from runtime.stores import KVStore


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def stores(tmp_path: Path, clock: VirtualClock) -> Iterator[dict[str, KVStore]]:
    """Regions a, b and c of one store, sharing a virtual clock."""
    opened = {r: KVStore(tmp_path / f"{r}.sqlite", region=r, clock=clock) for r in "abc"}
    yield opened
    for s in opened.values():
        s.close()
