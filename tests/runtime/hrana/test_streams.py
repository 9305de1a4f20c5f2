"""A stream's statements and its close, against a real database, when the request
that started a statement is cancelled (its client went away) mid-statement."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from runtime.hrana.libsql import LibsqlConnection
from runtime.hrana.streams import Stream
from runtime.stores import SqlDatabase

from .helpers import run

# A few tenths of a second of SQLite's time.
SLOW = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) "
    "SELECT count(*) FROM c"
)


def test_a_cancelled_statement_finishes_before_anything_else_uses_the_connection(
    db: SqlDatabase,
) -> None:
    seen: dict[str, Any] = {}

    def statement(conn: LibsqlConnection) -> None:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (v) VALUES ('cancelled')")
        seen["counted"] = conn.execute(SLOW).rows
        # Still this stream's connection, open and in its transaction.
        seen["in_transaction"] = conn.execute("SELECT v FROM t").rows

    async def scenario() -> None:
        with ThreadPoolExecutor(4) as pool:
            stream = Stream(lambda: LibsqlConnection(db.connect()), pool)
            task = asyncio.get_running_loop().create_task(stream.run(statement))
            await asyncio.sleep(0.05)  # the statement is running in its thread
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task  # ... which the cancelled request waited for
            assert "in_transaction" in seen
            await stream.close()  # rolls back, after the statement

    run(scenario)
    assert seen == {"counted": [(1000000,)], "in_transaction": [("cancelled",)]}
    assert db.execute("SELECT count(*) FROM t").rows == [(0,)]


def test_a_close_that_is_cancelled_still_closes(db: SqlDatabase) -> None:
    async def scenario() -> None:
        with ThreadPoolExecutor(4) as pool:
            stream = Stream(lambda: LibsqlConnection(db.connect()), pool)
            await stream.run(lambda conn: conn.execute("BEGIN IMMEDIATE"))  # the write lock
            running = asyncio.get_running_loop().create_task(stream.run(lambda c: c.execute(SLOW)))
            await asyncio.sleep(0.05)
            closing = asyncio.get_running_loop().create_task(stream.close())
            await asyncio.sleep(0)
            closing.cancel()  # its caller gives up; the close goes on
            running.cancel()
            await asyncio.gather(running, closing, return_exceptions=True)
            await stream.close()  # the same close: done once the statement has ended

    run(scenario)
    with db.connect() as conn:  # the lock is free at once
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")


def test_requests_queued_before_a_close_run_and_later_ones_are_refused(db: SqlDatabase) -> None:
    async def scenario() -> list[Any]:
        with ThreadPoolExecutor(4) as pool:
            stream = Stream(lambda: LibsqlConnection(db.connect()), pool)
            insert = "INSERT INTO t (v) VALUES ('queued')"
            before = [stream.run(lambda c: c.execute(insert).changes) for _ in range(3)]
            tasks = [asyncio.get_running_loop().create_task(job) for job in before]
            await asyncio.sleep(0)  # they are in the stream's queue
            closing = asyncio.get_running_loop().create_task(stream.close())
            await asyncio.sleep(0)
            after = stream.run(lambda c: c.execute(insert).changes)
            results = await asyncio.gather(*tasks, after, closing, return_exceptions=True)
            return list(results)

    results = run(scenario)
    assert results[:3] == [1, 1, 1]
    assert "the stream is closed" in str(results[3])
    assert db.execute("SELECT count(*) FROM t").rows == [(3,)]
