"""libsql-client's tests of the Hrana server, run again against a real `edge up`:
every value type, batches, transactions, errors, a dropped connection, many
clients; then what libSQL clients rely on beyond them (declared column types,
read transactions). They go to eu-west, a replica region, so every write also takes the
Turso model's path (forwarded to the primary, then synced back); `db` is the
primary's file, where the writes land.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import libsql_client
import pytest
from libsql_client import dbapi2

from runtime.stores import SqlDatabase
from runtime.stores._sqlite import driver
from tests.runtime.hrana.helpers import Pipeline, RawWs, rows, run, stmt
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
    with driver.connect(path) as raw:
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


@pytest.fixture
def edgepoint() -> Iterator[None]:
    sqlite3.register_converter("EDGEPOINT", lambda raw: tuple(int(p) for p in raw.split(b";")))
    yield
    del sqlite3.converters["EDGEPOINT"]


def test_declared_types_reach_libsql_clients(address: str, edgepoint: None) -> None:
    # libsql-client's DB-API module with PARSE_DECLTYPES, through the replica region.
    conn = dbapi2.connect(f"ws://{address}", detect_types=sqlite3.PARSE_DECLTYPES)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS typed (id INTEGER PRIMARY KEY, at EDGEPOINT)")
        conn.execute("DELETE FROM typed")
        conn.execute("INSERT INTO typed (at) VALUES ('3;4')")
        conn.commit()
        assert conn.execute("SELECT at FROM typed").fetchall() == [((3, 4),)]
    finally:
        conn.close()
    with httpx.Client(base_url=f"http://{address}") as http:
        result = Pipeline(http).execute("SELECT id, at, id + 1 AS next FROM typed")
    assert result["cols"] == [
        {"name": "id", "decltype": "INTEGER"},
        {"name": "at", "decltype": "EDGEPOINT"},
        {"name": "next", "decltype": None},
    ]


def test_read_transactions_refuse_writes(address: str, db: SqlDatabase) -> None:
    def execute(sql: str) -> dict[str, Any]:
        return {"type": "execute", "stream_id": 1, "stmt": stmt(sql)}

    async def interactive() -> None:
        # @libsql/client's transaction("read"), frame by frame.
        ws = await RawWs.connect(address, ("hrana3",))
        await ws.ok({"type": "open_stream", "stream_id": 1})
        await ws.ok(execute("BEGIN TRANSACTION READONLY"))
        assert rows((await ws.ok(execute("SELECT count(*) FROM t")))["result"]) == [[0]]
        refused = await ws.request(execute("INSERT INTO t (v) VALUES ('in a read tx')"))
        assert refused["type"] == "response_error", refused
        assert refused["error"]["code"] == "SQLITE_READONLY"
        await ws.ok(execute("COMMIT"))
        await ws.ok(execute("INSERT INTO t (v) VALUES ('after')"))
        await ws.close()

    run(interactive)
    # batch(statements, "read") over HTTP: the write fails, COMMIT is skipped, ROLLBACK runs.
    steps = [
        {"stmt": stmt("BEGIN TRANSACTION READONLY")},
        {"stmt": stmt("INSERT INTO t (v) VALUES ('in a read batch')"), "condition": _ok(0)},
        {"stmt": stmt("COMMIT"), "condition": _ok(1)},
        {"stmt": stmt("ROLLBACK"), "condition": {"type": "not", "cond": _ok(2)}},
    ]
    with httpx.Client(base_url=f"http://{address}") as http:
        (reply,) = Pipeline(http, "/v3/pipeline").send({"type": "batch", "batch": {"steps": steps}})
    result = reply["response"]["result"]
    assert result["step_errors"][1]["code"] == "SQLITE_READONLY"
    assert result["step_results"][2] is None and result["step_results"][3] is not None
    assert db.execute("SELECT v FROM t").rows == [("after",)]


def _ok(step: int) -> dict[str, Any]:
    return {"type": "ok", "step": step}
