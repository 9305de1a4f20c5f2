"""A statement stops at its deadline and a result stops at its size limit, leaving nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.stores import (
    ReplicaWriteError,
    SqlConnection,
    SqlDatabase,
    SqlError,
    StatementInterrupted,
    deadlines,
)
from runtime.stores.results import MAX_RESULT_BYTES, VALUE_COST

FOREVER = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
ENDLESS_ROWS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c"
ENDLESS_INSERT = (
    "INSERT INTO t (x) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
    "SELECT x FROM c"
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqlDatabase]:
    with SqlDatabase(tmp_path / "db.sqlite") as database:
        database.execute("CREATE TABLE t (x INTEGER)")
        yield database


@pytest.fixture
def conn(db: SqlDatabase) -> Iterator[SqlConnection]:
    with db.connect() as c:
        yield c


def count(db: SqlDatabase) -> object:
    return db.execute("SELECT count(*) FROM t").rows[0][0]


# --- deadlines ----------------------------------------------------------------------------


def test_a_statement_that_never_ends_stops_at_its_deadline(conn: SqlConnection) -> None:
    started = time.monotonic()
    with (
        deadlines.within(0.3, "the test's deadline of 300 ms") as deadline,
        pytest.raises(StatementInterrupted) as caught,
    ):
        conn.execute(FOREVER)
    assert time.monotonic() - started < 10  # generous: it would never end otherwise
    assert caught.value.code == "SQLITE_INTERRUPT"
    assert str(caught.value) == (
        "interrupted: the statement ran past the test's deadline of 300 ms; "
        "the statement was rolled back"
    )
    assert deadline.cut == "a SQL statement, which was interrupted and rolled back"
    assert conn.execute("SELECT 1").rows == [(1,)]  # the connection still works


def test_an_interrupted_insert_leaves_no_rows(db: SqlDatabase, conn: SqlConnection) -> None:
    with deadlines.within(0.3, "a deadline"), pytest.raises(StatementInterrupted):
        conn.execute(ENDLESS_INSERT)
    assert count(db) == 0


def test_an_interrupted_insert_rolls_back_its_transaction(
    db: SqlDatabase, conn: SqlConnection
) -> None:
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t (x) VALUES (1)")
    with deadlines.within(0.3, "a deadline"), pytest.raises(StatementInterrupted) as caught:
        conn.execute(ENDLESS_INSERT)
    assert "the statement and its transaction were rolled back" in str(caught.value)
    assert not conn.in_transaction
    conn.execute("COMMIT" if conn.in_transaction else "SELECT 1")
    assert count(db) == 0


def test_a_read_interrupted_in_a_transaction_ends_it_too(
    db: SqlDatabase, conn: SqlConnection
) -> None:
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t (x) VALUES (1)")
    with deadlines.within(0.3, "a deadline"), pytest.raises(StatementInterrupted):
        conn.execute(FOREVER)
    assert not conn.in_transaction
    assert count(db) == 0  # nothing begun before the deadline commits after it


def test_the_earlier_of_nested_deadlines_holds(conn: SqlConnection) -> None:
    with (
        deadlines.within(60, "the outer deadline"),
        deadlines.within(0.2, "the inner deadline"),
        pytest.raises(StatementInterrupted, match="the inner deadline"),
    ):
        conn.execute(FOREVER)
    with (
        deadlines.within(0.2, "the outer deadline"),
        deadlines.within(60, "the inner deadline"),
        pytest.raises(StatementInterrupted, match="the outer deadline"),
    ):
        conn.execute(FOREVER)


def test_statements_within_their_deadline_are_untouched(conn: SqlConnection) -> None:
    with deadlines.within(60, "a deadline") as deadline:
        result = conn.execute(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100000) "
            "SELECT sum(x) FROM c"
        )
    assert result.rows == [(5000050000,)]
    assert deadline.cut is None


def test_cleanup_after_an_interrupt_is_not_interrupted(db: SqlDatabase) -> None:
    with deadlines.within(0.2, "a deadline"):
        conn = db.connect()
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (x) VALUES (1)")
        time.sleep(0.3)
        conn.close()  # past the deadline: the ROLLBACK on release must still run
    assert count(db) == 0
    assert db.execute("SELECT 1").rows == [(1,)]


# --- result size ------------------------------------------------------------------------------


def test_a_result_over_the_limit_is_refused(conn: SqlConnection) -> None:
    with pytest.raises(SqlError) as caught:
        conn.execute(ENDLESS_ROWS)  # ends only because the count stops it
    assert caught.value.code == "SQLITE_TOOBIG"
    assert str(caught.value).startswith(
        f"result too large: the statement returns more than {MAX_RESULT_BYTES} bytes"
    )
    assert conn.execute("SELECT 1").rows == [(1,)]


def test_the_result_limit_is_exact(tmp_path: Path) -> None:
    # Two rows of one 32-byte text each: 2 * (VALUE_COST + 32) bytes.
    limit = 2 * (VALUE_COST + 32)
    with SqlDatabase(tmp_path / "small.sqlite", max_result_bytes=limit) as db:
        two = "SELECT printf('%.*c', 32, 'x') FROM (SELECT 1 UNION ALL SELECT 2)"
        assert len(db.execute(two).rows) == 2
        with pytest.raises(SqlError, match="result too large"):
            db.execute(two.replace("32,", "33,"))


def test_one_value_larger_than_a_result_is_refused_before_it_is_built(conn: SqlConnection) -> None:
    with pytest.raises(SqlError, match="string or blob too big"):
        conn.execute("SELECT zeroblob(?)", [MAX_RESULT_BYTES + 1])
    assert len(conn.execute("SELECT zeroblob(?)", [MAX_RESULT_BYTES - VALUE_COST]).rows) == 1


def test_a_wait_for_another_writers_lock_ends_at_the_deadline(tmp_path: Path) -> None:
    with SqlDatabase(tmp_path / "locked.sqlite", busy_timeout=60) as db:
        db.execute("CREATE TABLE t (x INTEGER)")
        with db.connect() as holder, db.connect() as waiter:
            holder.execute("BEGIN IMMEDIATE")  # holds the write lock
            started = time.monotonic()
            with deadlines.within(0.3, "a deadline"), pytest.raises(StatementInterrupted):
                waiter.execute("INSERT INTO t (x) VALUES (1)")
            assert time.monotonic() - started < 30  # not the 60 s busy timeout
            holder.execute("ROLLBACK")
            waiter.execute("INSERT INTO t (x) VALUES (2)")  # the usual wait is back
        assert db.execute("SELECT x FROM t").rows == [(2,)]
        with db.connect() as conn:
            assert conn.execute("PRAGMA busy_timeout").rows == [(60_000,)]


def test_a_replica_reads_under_a_deadline_without_going_to_the_primary(tmp_path: Path) -> None:
    path = tmp_path / "replica.sqlite"
    with SqlDatabase(path) as primary:
        primary.execute("CREATE TABLE t (x INTEGER)")
        primary.execute("INSERT INTO t (x) VALUES (7)")
    with (
        SqlDatabase(path, read_only=True) as replica,
        replica.connect() as conn,
        deadlines.within(2, "a deadline shorter than the busy timeout"),
    ):
        assert conn.execute("SELECT x FROM t").rows == [(7,)]  # no ReplicaWriteError
        with pytest.raises(ReplicaWriteError):
            conn.execute("PRAGMA busy_timeout = 1")  # the guest's own pragma still is one
