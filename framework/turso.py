"""SQL databases through Spin's `spin:sqlite/sqlite@3.0.0` (Turso/libSQL on Spin).

    db = turso.connect("default")
    db.execute("INSERT INTO notes (title) VALUES (?)", ["hi"]).last_insert_rowid
    row = db.execute("SELECT id, title FROM notes WHERE id = ?", [1]).first()
    row["title"], row[0]

Parameters are positional only (`?` or `?NNN`), because that is all Spin's
interface carries: int, float, str, bytes (also bytearray and memoryview),
None, and bool (sent as the integer 0 or 1).

`ResultSet.rows_affected` comes from the host's `changes()` after a statement
whose main keyword is INSERT, UPDATE, DELETE or REPLACE (a leading WITH is
looked through); it is 0 for anything else, because `changes()` still reports
the last write after a SELECT. `last_insert_rowid` is set only after an
INSERT/REPLACE that inserted rows. Reads therefore cost one host call, writes
two or three.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from ._bindings import err_type, wit_import
from ._handles import HostHandle
from .errors import (
    DatabaseAccessDeniedError,
    DatabaseError,
    DatabaseFullError,
    InvalidConnectionError,
    NoSuchDatabaseError,
)
from .sql import (
    INSERT_KINDS,
    WRITE_KINDS,
    Params,
    ResultSet,
    Row,
    SQLValue,
    build_result,
    encode_params,
    statement_kind,
)

Statement = str | tuple[str, Params]

__all__ = ["Connection", "Params", "ResultSet", "Row", "SQLValue", "Statement", "connect"]


def connect(label: str = "default") -> Connection:
    """Open the database `label` (listed under sqlite_databases in spin.toml)."""
    if not isinstance(label, str):
        raise TypeError(f"database label must be str, not {type(label).__name__}")
    bindings = wit_import("sqlite")
    try:
        handle = bindings.Connection.open(label)
    except err_type() as exc:
        raise db_error(getattr(exc, "value", None), label) from None
    return Connection(handle, label)


class Connection(HostHandle):
    """An open database connection. Use as a context manager, or `close()` it."""

    def __init__(self, handle: Any, label: str) -> None:
        self._handle = handle
        self.label = label
        self._depth = 0  # open transaction() blocks: the outermost is BEGIN, inner ones savepoints

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    def execute(self, sql: str, params: Params = ()) -> ResultSet:
        """Run one statement with positional parameters."""
        if not isinstance(sql, str):
            raise TypeError(f"SQL must be str, not {type(sql).__name__}")
        return self._run(sql, encode_params(params))

    def batch(self, statements: Sequence[Statement]) -> list[ResultSet]:
        """Run statements atomically: all of them, or (on any error) none; re-raises."""
        prepared = [_prepare(s, i) for i, s in enumerate(statements, 1)]
        if not prepared:
            return []
        with self.transaction():
            return [self._run(sql, values) for sql, values in prepared]

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """BEGIN ... COMMIT, or ROLLBACK if the block raises. Nests with savepoints."""
        depth = self._depth
        savepoint = f"edge_savepoint_{depth}"
        self.execute("BEGIN" if depth == 0 else f"SAVEPOINT {savepoint}")
        self._depth += 1
        try:
            yield self
        except BaseException:
            self._depth = depth
            self._rollback(depth, savepoint)
            raise
        self._depth = depth
        try:
            self.execute("COMMIT" if depth == 0 else f"RELEASE {savepoint}")
        except DatabaseError:
            self._rollback(depth, savepoint)  # a failed COMMIT can leave it open
            raise

    def __repr__(self) -> str:
        state = "closed" if self._handle is None else "open"
        return f"<turso.Connection {self.label!r} {state}>"

    def _run(self, sql: str, values: list[tuple[str, Any]]) -> ResultSet:
        if self._handle is None:
            raise ValueError(f"database connection {self.label!r} is closed")
        bindings = wit_import("sqlite")
        wit_values = [_to_wit(bindings, kind, payload) for kind, payload in values]
        kind = statement_kind(sql)
        try:
            result = self._handle.execute(sql, wit_values)
            affected = int(self._handle.changes()) if kind in WRITE_KINDS else 0
            rowid = None
            if kind in INSERT_KINDS and affected:
                rowid = int(self._handle.last_insert_rowid())
        except err_type() as exc:
            error = db_error(getattr(exc, "value", None), self.label)
            error.sql = sql
            raise error from None
        return build_result(result, affected, rowid)

    def _rollback(self, depth: int, savepoint: str) -> None:
        # Errors here would hide the one being raised; SQLite may also have
        # rolled back already (e.g. on SQLITE_FULL), which makes ROLLBACK fail.
        with suppress(DatabaseError):
            if depth == 0:
                self.execute("ROLLBACK")
            else:
                self.execute(f"ROLLBACK TO {savepoint}")
                self.execute(f"RELEASE {savepoint}")


def db_error(error: object, label: str) -> DatabaseError:
    """The exception for a `spin:sqlite` error value."""
    kind = type(error).__name__
    if kind == "Error_NoSuchDatabase":
        return NoSuchDatabaseError(
            f"no database labelled {label!r}: add it to sqlite_databases in the component's "
            'spin.toml entry (and, unless it is "default", to the runtime config)'
        )
    if kind == "Error_AccessDenied":
        return DatabaseAccessDeniedError(
            f"this component may not use database {label!r}: add it to sqlite_databases "
            "in the component's spin.toml entry"
        )
    if kind == "Error_InvalidConnection":
        return InvalidConnectionError(f"the connection to database {label!r} is not valid")
    if kind == "Error_DatabaseFull":
        return DatabaseFullError(f"database {label!r} is full")
    # io(message): SQLite's own message, verbatim (e.g. "UNIQUE constraint failed: t.x").
    return DatabaseError(str(getattr(error, "value", error)))


def _prepare(statement: Statement, position: int) -> tuple[str, list[tuple[str, Any]]]:
    # Everything is checked before BEGIN, so a bad item changes nothing.
    if isinstance(statement, str):
        return statement, []
    if isinstance(statement, tuple) and len(statement) == 2 and isinstance(statement[0], str):
        return statement[0], encode_params(statement[1])
    raise TypeError(
        f"batch item {position} must be a SQL string or a (sql, params) tuple, "
        f"not {type(statement).__name__}"
    )


def _to_wit(bindings: Any, kind: str, payload: Any) -> Any:
    cls = getattr(bindings, "Value_" + kind.capitalize())
    return cls() if kind == "null" else cls(payload)
