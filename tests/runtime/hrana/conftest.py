"""Fixtures: a real SqlDatabase in a temporary directory, served by a Hrana app on a port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runtime.hrana import create_hrana_app
from runtime.stores import SqlDatabase

from .helpers import running


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqlDatabase]:
    database = SqlDatabase(tmp_path / "hrana.sqlite")
    database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v, u TEXT UNIQUE)")
    yield database
    database.close()


@pytest.fixture
def address(db: SqlDatabase) -> Iterator[str]:
    """ "host:port" of a Hrana server over `db`, without a token."""
    with running(create_hrana_app(db.connect)) as served:
        yield served


@pytest.fixture
def http(address: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{address}", timeout=20) as client:
        yield client
