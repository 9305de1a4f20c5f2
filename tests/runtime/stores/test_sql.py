from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.stores import QueryResult, SqlConnection, SqlDatabase, SqlError


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqlDatabase]:
    with SqlDatabase(tmp_path / "db.sqlite") as database:
        yield database


@pytest.fixture
def conn(db: SqlDatabase) -> Iterator[SqlConnection]:
    with db.connect() as c:
        yield c


def count(db: SqlDatabase, table: str) -> int:
    (n,) = db.execute(f"SELECT count(*) FROM {table}").rows[0]
    assert isinstance(n, int)
    return n


# --- statements and results -------------------------------------------------------------


def test_create_insert_select(conn: SqlConnection) -> None:
    conn.execute("CREATE TABLE todo (id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER)")
    conn.execute("INSERT INTO todo (title, done) VALUES (?, ?)", ["write tests", 0])
    conn.execute("INSERT INTO todo (title, done) VALUES (?, ?)", ["ship", 1])
    result = conn.execute("SELECT id, title, done FROM todo ORDER BY id")
    assert result.columns == ["id", "title", "done"]
    assert result.rows == [(1, "write tests", 0), (2, "ship", 1)]
    assert all(isinstance(row, tuple) for row in result.rows)


def test_select_without_rows_still_names_columns(conn: SqlConnection) -> None:
    conn.execute("CREATE TABLE t (a, b)")
    result = conn.execute("SELECT a, b AS bee FROM t")
    assert (result.columns, result.rows) == (["a", "bee"], [])


def test_statement_without_result_columns(conn: SqlConnection) -> None:
    result = conn.execute("CREATE TABLE t (a)")
    assert result == QueryResult(columns=[], rows=[], changes=0, last_insert_rowid=0)


def test_empty_statement_gives_an_empty_result(conn: SqlConnection) -> None:
    assert conn.execute("  -- nothing here").rows == []


def test_trailing_semicolon_and_comment_are_one_statement(conn: SqlConnection) -> None:
    assert conn.execute("SELECT 1;  -- done").rows == [(1,)]


def test_returning_clause(conn: SqlConnection) -> None:
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    result = conn.execute("INSERT INTO t (v) VALUES (?), (?) RETURNING id, v", ["a", "b"])
    assert result.columns == ["id", "v"]
    assert result.rows == [(1, "a"), (2, "b")]
    assert (result.changes, result.last_insert_rowid) == (2, 2)


# --- values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "sqlite_type"),
    [
        (0, "integer"),
        (-1, "integer"),
        (2**63 - 1, "integer"),
        (-(2**63), "integer"),
        (2**53 + 1, "integer"),  # beyond a double's exact range: must stay an integer
        (1.5, "real"),
        (-0.25, "real"),
        (1e308, "real"),
        (math.inf, "real"),
        (-math.inf, "real"),
        ("", "text"),
        ("h\u00e9llo \U0001f600", "text"),
        ("nul\x00inside", "text"),
        (b"", "blob"),
        (b"\x00\x01\x00\xff", "blob"),
        (bytes(range(256)), "blob"),
        (None, "null"),
    ],
)
def test_value_round_trip(conn: SqlConnection, value: object, sqlite_type: str) -> None:
    conn.execute("CREATE TABLE v (x)")  # no declared type: no affinity conversion
    conn.execute("INSERT INTO v (x) VALUES (?)", [value])  # type: ignore[list-item]
    (stored, kind) = conn.execute("SELECT x, typeof(x) FROM v").rows[0]
    assert kind == sqlite_type
    assert type(stored) is type(value)
    assert stored == value


def test_integer_boundaries_survive_arithmetic_in_sql(conn: SqlConnection) -> None:
    (value,) = conn.execute("SELECT ? - 1", [-(2**63) + 1]).rows[0]
    assert value == -(2**63)


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
def test_integers_beyond_64_bits_are_rejected(conn: SqlConnection, value: int) -> None:
    with pytest.raises(SqlError, match="^integer out of range"):
        conn.execute("SELECT ?", [value])


def test_booleans_bind_as_integers(conn: SqlConnection) -> None:
    result = conn.execute("SELECT ?, ?, typeof(?)", [True, False, True])
    assert result.rows == [(1, 0, "integer")]
    assert type(result.rows[0][0]) is int


def test_bytearray_and_memoryview_bind_as_blobs(conn: SqlConnection) -> None:
    result = conn.execute("SELECT ?, ?", [bytearray(b"ab"), memoryview(b"cd")])  # type: ignore[list-item]
    assert result.rows == [(b"ab", b"cd")]


def test_nan_becomes_null_as_in_sqlite(conn: SqlConnection) -> None:
    assert conn.execute("SELECT ?", [math.nan]).rows == [(None,)]


@pytest.mark.parametrize("value", [object(), [1], {"a": 1}])
def test_unsupported_parameter_types_are_rejected(conn: SqlConnection, value: object) -> None:
    with pytest.raises(SqlError, match="unsupported type for parameter 1"):
        conn.execute("SELECT ?", [value])  # type: ignore[list-item]


def test_params_must_be_a_sequence_not_a_string(conn: SqlConnection) -> None:
    with pytest.raises(SqlError, match="sequence"):
        conn.execute("SELECT ?", "x")  # type: ignore[arg-type]


def test_wrong_number_of_parameters(conn: SqlConnection) -> None:
    with pytest.raises(SqlError, match="uses 2, and there are 1 supplied"):
        conn.execute("SELECT ?, ?", [1])


# --- changes and last_insert_rowid ------------------------------------------------------


def test_changes_and_last_insert_rowid_follow_sqlite(conn: SqlConnection) -> None:
    assert (conn.changes(), conn.last_insert_rowid()) == (0, 0)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
    inserted = conn.execute("INSERT INTO t (v) VALUES (1), (2), (3)")
    assert (inserted.changes, inserted.last_insert_rowid) == (3, 3)
    assert (conn.changes(), conn.last_insert_rowid()) == (3, 3)

    updated = conn.execute("UPDATE t SET v = v * 10 WHERE v >= 2")
    assert updated.changes == 2 and conn.changes() == 2
    assert conn.last_insert_rowid() == 3  # only INSERT moves it

    # A SELECT changes neither: they describe the last INSERT/UPDATE/DELETE.
    conn.execute("SELECT * FROM t")
    assert (conn.changes(), conn.last_insert_rowid()) == (2, 3)

    conn.execute("INSERT INTO t (id, v) VALUES (100, 0)")
    assert (conn.changes(), conn.last_insert_rowid()) == (1, 100)

    deleted = conn.execute("DELETE FROM t WHERE v > 0")
    assert deleted.changes == 3 and conn.changes() == 3

    none = conn.execute("DELETE FROM t WHERE v > 1000")
    assert none.changes == 0 and conn.changes() == 0


def test_failed_insert_leaves_counters_alone(conn: SqlConnection) -> None:
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    conn.execute("INSERT INTO t (id) VALUES (7)")
    with pytest.raises(SqlError):
        conn.execute("INSERT INTO t (id) VALUES (7)")
    assert (conn.changes(), conn.last_insert_rowid()) == (1, 7)


def test_counters_are_per_connection(db: SqlDatabase) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    with db.connect() as a, db.connect() as b:
        a.execute("INSERT INTO t (id) VALUES (42)")
        assert (b.changes(), b.last_insert_rowid()) == (0, 0)
        assert (a.changes(), a.last_insert_rowid()) == (1, 42)


def test_pooled_connection_starts_with_fresh_counters(db: SqlDatabase) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    with db.connect() as first:
        first.execute("INSERT INTO t (id) VALUES (5), (6)")
    opened = db.opened_connections
    with db.connect() as second:
        assert db.opened_connections == opened  # the same SQLite connection, reused
        result = second.execute("SELECT count(*) FROM t")
        assert (result.changes, result.last_insert_rowid) == (0, 0)
        assert (second.changes(), second.last_insert_rowid()) == (0, 0)


# --- errors -----------------------------------------------------------------------------


def test_syntax_error_carries_sqlites_message(conn: SqlConnection) -> None:
    with pytest.raises(SqlError) as info:
        conn.execute("SELEC 1")
    assert str(info.value) == 'near "SELEC": syntax error'
    assert info.value.message == 'near "SELEC": syntax error'
    assert info.value.code == "SQLITE_ERROR"


def test_no_such_table(conn: SqlConnection) -> None:
    with pytest.raises(SqlError) as info:
        conn.execute("SELECT * FROM x")
    assert str(info.value) == "no such table: x"


def test_primary_key_violation(conn: SqlConnection) -> None:
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    conn.execute("INSERT INTO t (id) VALUES (1)")
    with pytest.raises(SqlError) as info:
        conn.execute("INSERT INTO t (id) VALUES (1)")
    assert str(info.value) == "UNIQUE constraint failed: t.id"
    assert info.value.code == "SQLITE_CONSTRAINT_PRIMARYKEY"


def test_unique_violation(conn: SqlConnection) -> None:
    conn.execute("CREATE TABLE users (email TEXT UNIQUE)")
    conn.execute("INSERT INTO users VALUES ('a@example.com')")
    with pytest.raises(SqlError) as info:
        conn.execute("INSERT INTO users VALUES (?)", ["a@example.com"])
    assert str(info.value) == "UNIQUE constraint failed: users.email"
    assert info.value.code == "SQLITE_CONSTRAINT_UNIQUE"


def test_foreign_keys_are_enforced(conn: SqlConnection) -> None:
    conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE child (pid INTEGER REFERENCES parent (id))")
    with pytest.raises(SqlError) as info:
        conn.execute("INSERT INTO child VALUES (99)")
    assert str(info.value) == "FOREIGN KEY constraint failed"
    assert info.value.code == "SQLITE_CONSTRAINT_FOREIGNKEY"


def test_multiple_statements_are_rejected_and_none_runs(db: SqlDatabase) -> None:
    db.execute("CREATE TABLE t (a)")
    with db.connect() as conn, pytest.raises(SqlError, match="only one statement") as info:
        conn.execute("INSERT INTO t VALUES (1); DROP TABLE t")
    assert info.value.code == "SQLITE_MISUSE"
    assert count(db, "t") == 0


def test_error_leaves_the_connection_usable(conn: SqlConnection) -> None:
    with pytest.raises(SqlError):
        conn.execute("SELECT * FROM missing")
    assert conn.execute("SELECT 2").rows == [(2,)]


# --- transactions -----------------------------------------------------------------------


def test_begin_commit(db: SqlDatabase) -> None:
    db.execute("CREATE TABLE t (a)")
    with db.connect() as conn:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("INSERT INTO t VALUES (2)")
        assert conn.in_transaction
        assert count(db, "t") == 0  # others do not see it yet
        conn.execute("COMMIT")
        assert not conn.in_transaction
    assert count(db, "t") == 2


def test_begin_rollback(db: SqlDatabase) -> None:
    db.execute("CREATE TABLE t (a)")
    with db.connect() as conn:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("ROLLBACK")
    assert count(db, "t") == 0


def test_close_inside_a_transaction_applies_nothing(db: SqlDatabase) -> None:
    db.execute("CREATE TABLE t (a)")
    conn = db.connect()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.execute("CREATE TABLE other (b)")
    conn.close()  # the guest died before COMMIT
    assert count(db, "t") == 0
    with pytest.raises(SqlError, match="no such table: other"):
        db.execute("SELECT * FROM other")
    # And the write lock is gone: another writer proceeds at once.
    start = time.monotonic()
    db.execute("INSERT INTO t VALUES (2)")
    assert time.monotonic() - start < 3.0  # well under the 5 s busy timeout
    assert count(db, "t") == 1


def test_connection_closed_mid_transaction_is_not_pooled(db: SqlDatabase) -> None:
    idle = db.idle_connections
    conn = db.connect()
    conn.execute("BEGIN")
    conn.close()
    assert db.idle_connections == idle - 1


def test_savepoint_left_open_is_rolled_back(db: SqlDatabase) -> None:
    db.execute("CREATE TABLE t (a)")
    conn = db.connect()
    conn.execute("SAVEPOINT s1")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    assert count(db, "t") == 0


def test_a_second_writer_waits_for_the_lock_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    with SqlDatabase(path) as one, SqlDatabase(path) as two:  # like two worker processes
        one.execute("CREATE TABLE t (a)")
        holder = one.connect()
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("INSERT INTO t VALUES ('first')")
        release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
        release.start()
        try:
            start = time.monotonic()
            two.execute("INSERT INTO t VALUES ('second')")  # blocks on the busy timeout
            waited = time.monotonic() - start
        finally:
            release.join()
            holder.close()
        assert waited >= 0.2
        assert sorted(two.execute("SELECT a FROM t").rows) == [("first",), ("second",)]


# --- pool and lifecycle -----------------------------------------------------------------


def test_pool_reuses_connections(db: SqlDatabase) -> None:
    baseline = db.opened_connections
    for _ in range(20):
        with db.connect() as conn:
            conn.execute("SELECT 1")
    assert db.opened_connections == baseline  # no new SQLite connection per request


def test_pool_opens_more_under_load_and_keeps_at_most_pool_size(tmp_path: Path) -> None:
    with SqlDatabase(tmp_path / "p.sqlite", pool_size=2) as db:
        conns = [db.connect() for _ in range(5)]
        assert db.opened_connections == 5 and db.idle_connections == 0
        for c in conns:
            c.close()
        assert db.idle_connections == 2


def test_pragma_changes_do_not_leak_to_the_next_user(db: SqlDatabase) -> None:
    with db.connect() as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
    with db.connect() as conn:
        assert conn.execute("PRAGMA foreign_keys").rows == [(1,)]


def test_temp_tables_do_not_leak_to_the_next_user(db: SqlDatabase) -> None:
    with db.connect() as conn:
        conn.execute("CREATE TEMP TABLE scratch (a)")
    with db.connect() as conn, pytest.raises(SqlError, match="no such table: scratch"):
        conn.execute("SELECT * FROM scratch")


def test_closed_connection_refuses_statements(db: SqlDatabase) -> None:
    conn = db.connect()
    conn.close()
    conn.close()  # idempotent
    assert conn.closed
    with pytest.raises(SqlError, match="connection is closed"):
        conn.execute("SELECT 1")


def test_closed_database_refuses_new_connections(tmp_path: Path) -> None:
    db = SqlDatabase(tmp_path / "c.sqlite")
    live = db.connect()
    db.close()
    assert db.closed and db.idle_connections == 0
    with pytest.raises(SqlError, match="is closed"):
        db.connect()
    assert live.execute("SELECT 3").rows == [(3,)]  # a checked-out one finishes its work
    live.close()
    assert db.idle_connections == 0


def test_data_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "persist.sqlite"
    with SqlDatabase(path) as db:
        db.execute("CREATE TABLE t (a)")
        db.execute("INSERT INTO t VALUES (?)", ["kept"])
    with SqlDatabase(path) as db:
        assert db.execute("SELECT a FROM t").rows == [("kept",)]


def test_data_version_moves_when_someone_commits(db: SqlDatabase) -> None:
    db.execute("CREATE TABLE t (a)")
    before = db.data_version()
    assert db.data_version() == before  # nothing committed in between
    db.execute("INSERT INTO t VALUES (1)")
    assert db.data_version() != before


def test_bad_path_fails_at_open(tmp_path: Path) -> None:
    with pytest.raises(SqlError, match="cannot open database"):
        SqlDatabase(tmp_path / "missing-dir" / "db.sqlite")


def test_pragma_after_a_comment_is_still_noticed(db: SqlDatabase) -> None:
    with db.connect() as conn:
        conn.execute("/* setup */ -- really\n  pragma foreign_keys = off")
    with db.connect() as conn:
        assert conn.execute("PRAGMA foreign_keys").rows == [(1,)]


def test_a_column_named_temp_keeps_the_connection_pooled(db: SqlDatabase) -> None:
    db.execute("CREATE TABLE readings (temp REAL, attach TEXT)")
    opened = db.opened_connections
    for _ in range(3):
        with db.connect() as conn:
            conn.execute("INSERT INTO readings (temp, attach) VALUES (?, ?)", [21.5, "x"])
            conn.execute("SELECT temp, attach FROM readings")
    assert db.opened_connections == opened


def test_guest_tampering_with_the_pool_reset_table_is_survived(db: SqlDatabase) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    with db.connect() as conn:
        conn.execute("INSERT INTO t (id) VALUES (9)")
        conn.execute("DROP TABLE _edge_pool_reset")  # unqualified: not noticed up front
    for _ in range(2):
        with db.connect() as conn:
            assert (conn.changes(), conn.last_insert_rowid()) == (0, 0)
            result = conn.execute("SELECT id FROM t")
            assert (result.rows, result.changes, result.last_insert_rowid) == ([(9,)], 0, 0)


def test_text_parameter_with_a_lone_surrogate_is_an_sql_error(conn: SqlConnection) -> None:
    with pytest.raises(SqlError, match="not valid Unicode"):
        conn.execute("SELECT ?", ["\ud800"])


def test_text_that_is_not_utf8_is_an_sql_error_not_a_crash(conn: SqlConnection) -> None:
    with pytest.raises(SqlError, match="Could not decode to UTF-8"):
        conn.execute("SELECT CAST(? AS TEXT)", [b"\xff\xfe"])
    assert conn.execute("SELECT 1").rows == [(1,)]
