"""libsql-client's tests of the Hrana server, run again against a real `edge up`:
every value type, batches, transactions, errors, a dropped connection, many
clients. They go to eu-west, a replica region, so every write also takes the
Turso model's path (forwarded to the primary, then synced back); `db` is the
primary's file, where the writes land.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import libsql_client
import pytest

from runtime.stores import SqlDatabase
from tests.runtime.hrana.test_libsql_client import *  # noqa: F403 (the tests and their fixtures)

from .edgeup import EdgeUp

pytestmark = pytest.mark.e2e

SCHEMA = "CREATE TABLE t (id INTEGER PRIMARY KEY, v, u TEXT UNIQUE)"


@pytest.fixture(scope="module")
def server(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeUp]:
    state = tmp_path_factory.mktemp("hrana-e2e") / "state"
    up = EdgeUp(built["sqlprobe"], state, "--workers", "1", "--jitter", "0")
    yield up
    up.stop()


@pytest.fixture
def db(server: EdgeUp) -> Iterator[SqlDatabase]:
    """The primary's database with a fresh table `t` (synced to eu-west)."""
    path = server.state / "us-east" / "sql" / "default.sqlite"
    with sqlite3.connect(path) as raw:
        raw.execute("DROP TABLE IF EXISTS t")
        raw.execute(SCHEMA)
    database = SqlDatabase(path)
    yield database
    database.close()


@pytest.fixture
def address(server: EdgeUp, db: SqlDatabase) -> str:
    host_port = server.database_urls()["eu-west"].removeprefix("http://")
    # A write from eu-west syncs its replica at once, so it sees the fresh table.
    with libsql_client.create_client_sync(f"ws://{host_port}") as client:
        client.execute(SCHEMA.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
    return host_port
