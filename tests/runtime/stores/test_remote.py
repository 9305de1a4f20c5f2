"""RemoteSqlConnection on libsql-client, against a `file:` database (no server needed).

libsql-client runs a `file:` URL on Python's sqlite3 with the same public calls
(execute, transaction, commit, rollback) as over Hrana, so this checks the
mapping of guest statements onto them. Another sqlite3 connection to the same
file looks at what is committed; a local SqlDatabase shows what the guest sees
without a runtime config, which the remote errors must match.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from runtime.serve.host import EdgeHost
from runtime.stores import SqlDatabase, SqlError, SqlValue, deadlines
from runtime.stores.remote import (
    RemoteDatabase,
    RemoteSqlConnection,
    RemoteUnavailable,
    client_url,
    open_remote_databases,
)
from runtime.stores.results import MAX_RESULT_BYTES

SECRET = "s3cret-token-value"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    file = tmp_path / "remote.db"
    with sqlite3.connect(file) as setup:
        setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v UNIQUE)")
    return file


@pytest.fixture
def db(path: Path) -> Iterator[RemoteDatabase]:
    with RemoteDatabase(f"file:{path}", SECRET) as database:
        yield database


@pytest.fixture
def conn(db: RemoteDatabase) -> Iterator[RemoteSqlConnection]:
    with db.connect() as connection:
        yield connection


@pytest.fixture
def local(tmp_path: Path) -> Iterator[SqlDatabase]:
    with SqlDatabase(tmp_path / "local.db") as database:
        database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v UNIQUE)")
        yield database


def committed(path: Path) -> list[tuple]:
    """What another connection sees in the file: only committed rows."""
    with sqlite3.connect(path) as other:
        return other.execute("SELECT v FROM t ORDER BY id").fetchall()


def failure(conn: Any, sql: str, params: Any = ()) -> SqlError:
    with pytest.raises(SqlError) as info:
        conn.execute(sql, params)
    return info.value


class TestValues:
    VALUES = [
        (0, "integer"),
        (-1, "integer"),
        (2**63 - 1, "integer"),
        (-(2**63), "integer"),
        (1.5, "real"),
        (-0.0, "real"),
        (1e300, "real"),
        ("", "text"),
        ("héllo ✓", "text"),
        (b"", "blob"),
        (b"\x00\xff", "blob"),
        (None, "null"),
    ]

    @pytest.mark.parametrize(("value", "sql_type"), VALUES)
    def test_round_trip(self, conn: RemoteSqlConnection, value: SqlValue, sql_type: str) -> None:
        conn.execute("INSERT INTO t (v) VALUES (?)", [value])
        rows = conn.execute("SELECT v, typeof(v) FROM t").rows
        assert rows == [(value, sql_type)]
        assert type(rows[0][0]) is type(value)

    def test_bool_and_bytes_likes(self, conn: RemoteSqlConnection) -> None:
        params: list[Any] = [True, False, bytearray(b"ab"), memoryview(b"cd")]
        row = conn.execute("SELECT ?, ?, ?, ?", params)
        assert row.rows == [(1, 0, b"ab", b"cd")]
        assert row.columns == ["?", "?", "?", "?"]

    def test_named_parameters(self, conn: RemoteSqlConnection) -> None:
        assert conn.execute("SELECT :a, $b, @c", {"a": 1, "b": "x", "c": None}).rows == [
            (1, "x", None)
        ]

    @pytest.mark.parametrize(
        ("params", "words"),
        [
            ([2**63], "does not fit in a signed 64-bit"),
            ([object()], "unsupported type for parameter 1: object"),
            ([float("nan")], "only finite floats"),
            ([1, float("inf")], "parameter 2 (inf)"),
            ("abc", "must be a sequence"),
            (["\ud800"], "not valid Unicode"),
        ],
    )
    def test_bad_parameters(self, conn: RemoteSqlConnection, params: object, words: str) -> None:
        assert words in failure(conn, "SELECT ?, ?", params).message

    def test_statement_must_be_str(self, conn: RemoteSqlConnection) -> None:
        assert "must be str" in failure(conn, b"SELECT 1").message  # type: ignore[arg-type]


class TestCounters:
    def test_changes_and_rowid_follow_writes_only(self, conn: RemoteSqlConnection) -> None:
        first = conn.execute("INSERT INTO t (v) VALUES ('a'), ('b')")
        assert (first.changes, first.last_insert_rowid) == (2, 2)
        read = conn.execute("SELECT * FROM t")
        assert (read.changes, read.last_insert_rowid) == (2, 2)  # reads move neither
        conn.execute("UPDATE t SET v = v || '!'")
        assert (conn.changes(), conn.last_insert_rowid()) == (2, 2)
        conn.execute("INSERT OR IGNORE INTO t (v) VALUES ('a!')")
        assert (conn.changes(), conn.last_insert_rowid()) == (0, 2)
        conn.execute("DELETE FROM t WHERE v = 'b!'")
        assert conn.changes() == 1

    def test_fresh_connection_starts_at_zero(self, conn: RemoteSqlConnection) -> None:
        assert (conn.changes(), conn.last_insert_rowid()) == (0, 0)


class TestTransactions:
    def test_commit(self, conn: RemoteSqlConnection, path: Path) -> None:
        conn.execute("BEGIN")
        assert conn.in_transaction
        conn.execute("INSERT INTO t (v) VALUES ('a')")
        conn.execute("INSERT INTO t (v) VALUES ('b')")
        assert conn.execute("SELECT count(*) FROM t").rows == [(2,)]  # reads its own writes
        assert committed(path) == []
        conn.execute("COMMIT")
        assert not conn.in_transaction
        assert committed(path) == [("a",), ("b",)]

    def test_rollback(self, conn: RemoteSqlConnection, path: Path) -> None:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (v) VALUES ('a')")
        result = conn.execute("ROLLBACK")
        assert (result.columns, result.rows) == ([], [])
        assert not conn.in_transaction
        assert committed(path) == []

    @pytest.mark.parametrize(
        ("begin", "end"),
        [
            ("BEGIN IMMEDIATE", "END"),
            ("begin transaction", "commit transaction"),
            ("BEGIN;", "END;"),
        ],
    )
    def test_spellings(self, conn: RemoteSqlConnection, path: Path, begin: str, end: str) -> None:
        conn.execute(begin)
        conn.execute("INSERT INTO t (v) VALUES ('a')")
        conn.execute("/* done */ " + end)
        assert committed(path) == [("a",)]

    def test_error_inside_keeps_the_transaction(
        self, conn: RemoteSqlConnection, path: Path
    ) -> None:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (v) VALUES ('a')")
        assert "UNIQUE" in failure(conn, "INSERT INTO t (v) VALUES ('a')").message
        assert conn.in_transaction
        conn.execute("INSERT INTO t (v) VALUES ('b')")
        conn.execute("COMMIT")
        assert committed(path) == [("a",), ("b",)]

    @pytest.mark.parametrize(
        ("steps", "sql"),
        [([], "COMMIT"), ([], "ROLLBACK"), ([], "END"), (["BEGIN"], "BEGIN")],
    )
    def test_misplaced_statements_fail_as_locally(
        self, conn: RemoteSqlConnection, local: SqlDatabase, steps: list[str], sql: str
    ) -> None:
        with local.connect() as plain:
            for step in steps:
                plain.execute(step)
                conn.execute(step)
            expected = failure(plain, sql)
        got = failure(conn, sql)
        assert (got.message, got.code) == (expected.message, expected.code)

    def test_close_rolls_back(self, db: RemoteDatabase, path: Path) -> None:
        conn = db.connect()
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (v) VALUES ('a')")
        conn.close()
        assert conn.closed and not conn.in_transaction
        assert committed(path) == []
        conn.close()  # idempotent
        assert failure(conn, "SELECT 1").message == "connection is closed"

    def test_context_manager_rolls_back(self, db: RemoteDatabase, path: Path) -> None:
        with db.connect() as conn:
            conn.execute("BEGIN")
            conn.execute("INSERT INTO t (v) VALUES ('a')")
        assert conn.closed and committed(path) == []


class TestSavepoints:
    def test_nested_as_framework_transaction_does(
        self, conn: RemoteSqlConnection, path: Path
    ) -> None:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (v) VALUES ('outer')")
        conn.execute("SAVEPOINT edge_savepoint_1")
        conn.execute("INSERT INTO t (v) VALUES ('inner')")
        conn.execute("ROLLBACK TO edge_savepoint_1")
        conn.execute("RELEASE edge_savepoint_1")
        conn.execute("SAVEPOINT edge_savepoint_1")
        conn.execute("INSERT INTO t (v) VALUES ('kept')")
        conn.execute("RELEASE SAVEPOINT edge_savepoint_1")
        assert conn.in_transaction and committed(path) == []
        conn.execute("COMMIT")
        assert committed(path) == [("outer",), ("kept",)]

    def test_savepoint_outside_a_transaction_begins_one(
        self, conn: RemoteSqlConnection, path: Path
    ) -> None:
        conn.execute("SAVEPOINT a")
        assert conn.in_transaction
        conn.execute("INSERT INTO t (v) VALUES (1)")
        conn.execute('SAVEPOINT "B"')
        conn.execute("INSERT INTO t (v) VALUES (2)")
        conn.execute("RELEASE b")  # names ignore case, as in SQLite
        assert conn.in_transaction and committed(path) == []
        conn.execute("RELEASE [A]")  # the outermost: a COMMIT
        assert not conn.in_transaction
        assert committed(path) == [(1,), (2,)]

    def test_rollback_to_the_outermost_keeps_it_open(
        self, conn: RemoteSqlConnection, path: Path
    ) -> None:
        conn.execute("SAVEPOINT a")
        conn.execute("INSERT INTO t (v) VALUES (1)")
        conn.execute("ROLLBACK TO a")
        assert conn.in_transaction
        conn.execute("INSERT INTO t (v) VALUES (2)")
        conn.execute("RELEASE a")
        assert committed(path) == [(2,)]

    @pytest.mark.parametrize("sql", ["RELEASE nope", "ROLLBACK TO nope"])
    def test_unknown_savepoint_fails_as_locally(
        self, conn: RemoteSqlConnection, local: SqlDatabase, sql: str
    ) -> None:
        with local.connect() as plain:
            expected = failure(plain, sql)
        got = failure(conn, sql)
        assert (got.message, got.code) == (expected.message, expected.code)
        assert not conn.in_transaction


class TestErrors:
    @pytest.mark.parametrize(
        ("sql", "params"),
        [
            ("SELEC 1", ()),
            ("SELECT * FROM nowhere", ()),
            ("INSERT INTO t (v) VALUES (?)", ["dup"]),
            ("INSERT INTO t (id, v) VALUES (1, ?)", ["other"]),
        ],
    )
    def test_same_message_and_code_as_locally(
        self, conn: RemoteSqlConnection, local: SqlDatabase, sql: str, params: list
    ) -> None:
        conn.execute("INSERT INTO t (id, v) VALUES (1, 'dup')")
        local.execute("INSERT INTO t (id, v) VALUES (1, 'dup')")
        with local.connect() as plain:
            expected = failure(plain, sql, params)
        got = failure(conn, sql, params)
        assert (got.message, got.code) == (expected.message, expected.code)
        assert not isinstance(got, RemoteUnavailable)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestUnreachable:
    def test_statement_fails_without_the_token(self) -> None:
        with RemoteDatabase(f"http://127.0.0.1:{closed_port()}/db", SECRET) as db:
            err = failure(db.connect(), "SELECT 1")
        assert isinstance(err, RemoteUnavailable)
        assert err.message.startswith(f"cannot reach the libSQL database at {db.display_url}")
        assert SECRET not in err.message and SECRET not in repr(db)

    def test_transaction_is_given_up(self) -> None:
        with RemoteDatabase(f"https://127.0.0.1:{closed_port()}", SECRET) as db:
            conn = db.connect()
            conn.execute("BEGIN")  # the client reports a failed BEGIN with the next statement
            err = failure(conn, "INSERT INTO t (v) VALUES (1)")
            assert "the open transaction was rolled back" in err.message
            assert not conn.in_transaction
            conn.close()

    def test_missing_directory(self, tmp_path: Path) -> None:
        with RemoteDatabase(f"file:{tmp_path}/no/such/dir.db") as db:
            err = failure(db, "SELECT 1")
        assert isinstance(err, RemoteUnavailable)
        assert "unable to open database file" in err.message


class TestDatabase:
    def test_closed_database(self, db: RemoteDatabase) -> None:
        db.execute("SELECT 1")
        db.close()
        assert db.closed
        with pytest.raises(SqlError, match="is closed"):
            db.connect()

    def test_threads_share_one_client(self, db: RemoteDatabase, path: Path) -> None:
        def insert(start: int) -> None:
            for i in range(start, start + 20):
                db.execute("INSERT INTO t (v) VALUES (?)", [i])

        threads = [threading.Thread(target=insert, args=(n * 100,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(committed(path)) == 80

    def test_client_url(self) -> None:
        assert client_url("https://db.turso.io") == "wss://db.turso.io"
        assert client_url("http://127.0.0.1:8080/x") == "ws://127.0.0.1:8080/x"
        assert client_url("file:/tmp/x.db") == "file:/tmp/x.db"

    def test_open_remote_databases(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.chdir(tmp_path)
        assert open_remote_databases(None) == {}
        config = tmp_path / "runtime-config.toml"
        config.write_text(
            '[sqlite_database.default]\ntype = "libsql"\n'
            f'url = "https://my-db.turso.io"\ntoken = "{SECRET}"\n'
            '[sqlite_database.audit]\ntype = "spin"\n'
        )
        remote = open_remote_databases(config)
        assert list(remote) == ["default"]
        assert repr(remote["default"]) == "RemoteDatabase('https://my-db.turso.io')"
        remote["default"].close()


def test_host_sends_remote_labels_to_the_remote_database(db: RemoteDatabase) -> None:
    calls: list[tuple[str, str]] = []
    router = SimpleNamespace(connect=lambda region, label: calls.append((region, label)))
    host = SimpleNamespace(remote_sql={"default": db}, sql=router, sql_wrapper=None)
    conn = EdgeHost.connect_sql(host, "eu-west", "default")  # type: ignore[arg-type]
    assert isinstance(conn, RemoteSqlConnection)
    conn.close()
    EdgeHost.connect_sql(host, "eu-west", "other")  # type: ignore[arg-type]
    assert calls == [("eu-west", "other")]


def test_a_server_that_never_answers_times_out_and_the_next_call_tries_again() -> None:
    # Accepts connections and never says a word: the WebSocket handshake hangs.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    db = RemoteDatabase(f"http://127.0.0.1:{port}", "tok", timeout=0.3)
    try:
        for _ in range(2):  # the stuck client is dropped; the next call makes a new one
            with pytest.raises(RemoteUnavailable, match=r"no answer .* within 0.3s"):
                db.execute("SELECT 1")
    finally:
        db.close()
        silent.close()


def test_the_deadline_cuts_a_call_shorter_than_the_timeout() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    db = RemoteDatabase(f"http://127.0.0.1:{silent.getsockname()[1]}", "tok", timeout=60)
    try:
        with deadlines.within(0.3, "the request deadline of 300 ms") as deadline:
            started = time.monotonic()
            with pytest.raises(RemoteUnavailable) as caught:
                db.execute("SELECT 1")
        assert time.monotonic() - started < 30  # not the 60 s timeout
        assert str(caught.value) == (
            f"no answer from the libSQL database at http://127.0.0.1:{silent.getsockname()[1]} "
            "before the request deadline of 300 ms; whether the statement ran is not known"
        )
        assert deadline.cut == f"a call to the libSQL database at {db.display_url}, given up"
    finally:
        db.close()
        silent.close()


def test_a_remote_result_over_the_limit_is_refused(conn: RemoteSqlConnection) -> None:
    rows = MAX_RESULT_BYTES // (1024 * 1024) + 1
    sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT ?) "
    with pytest.raises(SqlError, match="result too large") as caught:
        conn.execute(sql + "SELECT zeroblob(1048576) FROM c", [rows])
    assert caught.value.code == "SQLITE_TOOBIG"
    assert conn.execute(sql + "SELECT x FROM c", [3]).rows == [(1,), (2,), (3,)]
