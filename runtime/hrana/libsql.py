"""A stream's connection as libSQL clients expect it, over our SQLite connections.

Two things sqld does that a plain SQLite connection does not.

Declared column types: a result's `cols[].decltype` (see decltypes.py), looked
up in the connection's database file, which is found once per stream.

Read-only transactions: libSQL adds READONLY to SQLite's BEGIN (`BEGIN
READONLY`), and its clients open a read transaction with `BEGIN TRANSACTION
READONLY` (@libsql/client's `transaction("read")`). Plain SQLite reads the
first as a syntax error and the second as a transaction *named* READONLY, in
which writes commit. Here either form opens a deferred transaction with
`PRAGMA query_only` on, where every write fails (SQLITE_READONLY) before it
changes anything; query_only goes off again once the transaction ends.
"""

from __future__ import annotations

import contextlib
from typing import Protocol

from framework.sql import sql_tokens

from ..stores import QueryResult, SqlError, SqlParams
from . import decltypes

_BEGIN = "BEGIN DEFERRED"


def is_read_only_begin(sql: str) -> bool:
    """`BEGIN READONLY [TRANSACTION [name]]` or `BEGIN TRANSACTION READONLY`, alone."""
    words: list[str] = []
    ended = False  # a `;` came after the statement: only more `;` may follow
    for kind, start, end in sql_tokens(sql):
        if kind == "semi":
            ended = bool(words)
        elif kind == "word" and not ended:
            words.append(sql[start:end].upper())
        else:
            return False
    if words[:2] == ["BEGIN", "READONLY"]:
        rest = words[2:]
        return rest in ([], ["TRANSACTION"]) or (len(rest) == 2 and rest[0] == "TRANSACTION")
    return words == ["BEGIN", "TRANSACTION", "READONLY"]


class Database(Protocol):
    """What a stream is given to connect to (SqlConnection, RoutedConnection)."""

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, params: SqlParams = ...) -> QueryResult: ...

    def close(self) -> None: ...


class LibsqlConnection:
    """A stream's connection: `BEGIN ... READONLY` understood, decltypes known."""

    def __init__(self, conn: Database) -> None:
        self._conn = conn
        self._query_only = False  # PRAGMA query_only is (or may be) on
        self._file: str | None = None

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def execute(self, sql: str, params: SqlParams = ()) -> QueryResult:
        self._end_query_only()  # if that failed after the last statement
        if isinstance(sql, str) and is_read_only_begin(sql):
            if params:
                raise SqlError("BEGIN takes no parameters", "SQLITE_RANGE")
            result = self._conn.execute(_BEGIN)
            self._query_only = True
            try:
                self._conn.execute("PRAGMA query_only = ON")
            except SqlError:
                # Never a read-only transaction that can write.
                with contextlib.suppress(SqlError):
                    self._conn.execute("ROLLBACK")
                raise
            return result
        try:
            return self._conn.execute(sql, params)
        except SqlError as exc:
            if self._query_only and exc.code == "SQLITE_READONLY":
                message = f"{exc.message}: this is a read-only transaction (BEGIN ... READONLY)"
                raise SqlError(message, exc.code) from None
            raise
        finally:
            # The statement's own outcome stands; a failure here is retried above.
            with contextlib.suppress(SqlError):
                self._end_query_only()

    def _end_query_only(self) -> None:
        if self._query_only and not self._conn.in_transaction:
            self._conn.execute("PRAGMA query_only = OFF")
            self._query_only = False

    def decltypes(self, sql: str, count: int) -> list[str | None]:
        """The declared type of each of the `count` result columns of `sql`."""
        if self._file is None:
            self._file = database_file(self._conn)
        return decltypes.shared.of(self._file, sql, count)

    def close(self) -> None:
        self._conn.close()


def database_file(conn: Database) -> str:
    """The file of the connection's main database ("" for an in-memory one)."""
    result = conn.execute("SELECT file FROM pragma_database_list WHERE name = 'main'", ())
    file = result.rows[0][0] if result.rows else ""
    return file if isinstance(file, str) else ""
