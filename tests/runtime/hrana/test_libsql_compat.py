"""What libSQL clients expect that plain SQLite lacks: declared column types in
results, and `BEGIN TRANSACTION READONLY` (a read transaction, not a name)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from libsql_client import dbapi2

from runtime.hrana import create_hrana_app
from runtime.hrana.libsql import is_read_only_begin
from runtime.stores import SqlDatabase

from .helpers import Pipeline, RawWs, rows, run, running, stmt

SCHEMA = "CREATE TABLE typed (id INTEGER PRIMARY KEY, name VARCHAR(20), at EDGEPOINT, x)"


@pytest.fixture
def typed(db: SqlDatabase) -> SqlDatabase:
    db.execute(SCHEMA)
    db.execute("INSERT INTO typed (name, at, x) VALUES ('a', '1;2', 3)")
    return db


def test_execute_results_carry_each_column_s_declared_type(
    typed: SqlDatabase, http: httpx.Client
) -> None:
    stream = Pipeline(http)
    result = stream.execute("SELECT id, name AS n, at, x, x + 1 AS y, count(*) FROM typed")
    assert result["cols"] == [
        {"name": "id", "decltype": "INTEGER"},
        {"name": "n", "decltype": "VARCHAR(20)"},
        {"name": "at", "decltype": "EDGEPOINT"},
        {"name": "x", "decltype": None},  # declared without a type
        {"name": "y", "decltype": None},  # an expression has none
        {"name": "count(*)", "decltype": None},
    ]
    # Batches, RETURNING and cursors carry them too.
    insert = stmt("INSERT INTO typed (name) VALUES ('b') RETURNING id, name")
    (batch,) = stream.send({"type": "batch", "batch": {"steps": [{"stmt": insert}]}})
    step = batch["response"]["result"]["step_results"][0]
    assert step["cols"] == [
        {"name": "id", "decltype": "INTEGER"},
        {"name": "name", "decltype": "VARCHAR(20)"},
    ]
    body = {"baton": None, "batch": {"steps": [{"stmt": stmt("SELECT at FROM typed")}]}}
    lines = http.post("/v3/cursor", json=body).text.splitlines()
    assert '"cols":[{"name":"at","decltype":"EDGEPOINT"}]' in lines[1]


def test_decltypes_follow_the_schema_as_it_changes(db: SqlDatabase, http: httpx.Client) -> None:
    stream = Pipeline(http)
    stream.execute("CREATE TABLE t2 (a TEXT)")
    assert stream.execute("SELECT a FROM t2")["cols"] == [{"name": "a", "decltype": "TEXT"}]
    stream.execute("DROP TABLE t2")
    stream.execute("CREATE TABLE t2 (a BLOB)")
    assert stream.execute("SELECT a FROM t2")["cols"] == [{"name": "a", "decltype": "BLOB"}]


@pytest.fixture
def edgepoint() -> Iterator[None]:
    sqlite3.register_converter("EDGEPOINT", lambda raw: tuple(int(p) for p in raw.split(b";")))
    yield
    del sqlite3.converters["EDGEPOINT"]


def test_dbapi_parse_decltypes_converts_by_declared_type(
    typed: SqlDatabase, address: str, edgepoint: None
) -> None:
    # libsql-client's DB-API module, as sqlite3.connect(..., detect_types=PARSE_DECLTYPES).
    conn = dbapi2.connect(f"ws://{address}", detect_types=sqlite3.PARSE_DECLTYPES)
    try:
        assert conn.execute("SELECT at, name FROM typed").fetchall() == [((1, 2), "a")]
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("sql", "read_only"),
    [
        ("BEGIN TRANSACTION READONLY", True),  # what @libsql/client sends for "read"
        ("begin transaction readonly;", True),
        ("BEGIN READONLY", True),  # libSQL's grammar
        ("BEGIN READONLY TRANSACTION", True),
        ("BEGIN READONLY TRANSACTION t1", True),
        ("/* read */ BEGIN -- c\n READONLY ;;", True),
        ("BEGIN", False),
        ("BEGIN TRANSACTION", False),
        ("BEGIN DEFERRED TRANSACTION READONLY", False),
        ('BEGIN TRANSACTION "READONLY"', False),  # a quoted name is a name
        ("BEGIN TRANSACTION READONLY; INSERT INTO t VALUES (1)", False),
        ("SELECT 'BEGIN READONLY'", False),
        ("", False),
    ],
)
def test_read_only_begin_is_recognised(sql: str, read_only: bool) -> None:
    assert is_read_only_begin(sql) is read_only


def execute(sql: str) -> dict[str, Any]:
    return {"type": "execute", "stream_id": 1, "stmt": stmt(sql)}


def test_a_read_only_transaction_refuses_writes_and_ends_as_any(
    db: SqlDatabase, address: str
) -> None:
    db.execute("INSERT INTO t (v) VALUES ('before')")

    async def scenario() -> None:
        # The frames of @libsql/client's transaction("read") over WebSocket.
        ws = await RawWs.connect(address, ("hrana3",))
        await ws.ok({"type": "open_stream", "stream_id": 1})
        await ws.ok(execute("BEGIN TRANSACTION READONLY"))
        auto = await ws.ok({"type": "get_autocommit", "stream_id": 1})
        assert auto["is_autocommit"] is False
        seen = await ws.ok(execute("SELECT v FROM t"))
        assert rows(seen["result"]) == [["before"]]
        refused = await ws.request(execute("INSERT INTO t (v) VALUES ('inside')"))
        assert refused["type"] == "response_error", refused
        assert refused["error"]["code"] == "SQLITE_READONLY"
        assert "read-only transaction" in refused["error"]["message"]
        await ws.ok(execute("COMMIT"))
        # Outside it the same stream writes again.
        await ws.ok(execute("INSERT INTO t (v) VALUES ('after')"))
        await ws.close()

    run(scenario)
    assert db.execute("SELECT v FROM t ORDER BY id").rows == [("before",), ("after",)]


def test_a_read_only_batch_writes_nothing(db: SqlDatabase, http: httpx.Client) -> None:
    # @libsql/client's batch(statements, "read") over HTTP (Hrana 3): BEGIN, each step
    # on the previous one's success while still in the transaction, COMMIT, else ROLLBACK.
    def in_tx(step: int) -> dict[str, Any]:
        ok = {"type": "ok", "step": step}
        not_auto = {"type": "not", "cond": {"type": "is_autocommit"}}
        return {"type": "and", "conds": [ok, not_auto]}

    steps = [
        {"stmt": stmt("BEGIN TRANSACTION READONLY")},
        {"stmt": stmt("SELECT count(*) FROM t"), "condition": in_tx(0)},
        {"stmt": stmt("INSERT INTO t (v) VALUES ('no')"), "condition": in_tx(1)},
        {"stmt": stmt("COMMIT"), "condition": in_tx(2)},
        {"stmt": stmt("ROLLBACK"), "condition": {"type": "not", "cond": {"type": "ok", "step": 3}}},
    ]
    stream = Pipeline(http, "/v3/pipeline")
    (reply,) = stream.send({"type": "batch", "batch": {"steps": steps}})
    result = reply["response"]["result"]
    assert result["step_errors"][2]["code"] == "SQLITE_READONLY"
    assert result["step_results"][3] is None  # COMMIT skipped
    assert result["step_results"][4] is not None  # ROLLBACK ran
    assert db.execute("SELECT count(*) FROM t").rows == [(0,)]
    assert stream.execute("INSERT INTO t (v) VALUES ('yes')")["affected_row_count"] == 1


def test_read_only_transactions_on_a_replica_region(tmp_path: Path) -> None:
    from ..regions.sql_cluster import Cluster

    cluster = Cluster(tmp_path, ["us-east", "eu-west"])
    try:
        cluster.run("us-east", "CREATE TABLE t (v TEXT)")
        app = create_hrana_app(lambda: cluster.router.connect("eu-west", "default"))
        with running(app) as address, httpx.Client(base_url=f"http://{address}") as http:
            stream = Pipeline(http)
            stream.execute("BEGIN TRANSACTION READONLY")
            insert = stmt("INSERT INTO t VALUES ('x')")
            (refused,) = stream.send({"type": "execute", "stmt": insert})
            assert refused["type"] == "error"
            assert refused["error"]["code"] == "SQLITE_READONLY"
            stream.execute("ROLLBACK")
            stream.execute("INSERT INTO t VALUES ('y')")  # writes again: forwarded to the primary
        assert cluster.run("us-east", "SELECT v FROM t") == [("y",)]
    finally:
        cluster.close()
