"""The `describe` request: a statement's parameters and columns, without running it.

A stream's connection only executes statements, so a statement is described
on a connection of its own to the same database file (found with
`pragma_database_list`), opened read-only, where it is prepared and never run.

With the SQLite library of the runtime's driver within reach through ctypes
(native.py), the answer is SQLite's own:
`sqlite3_bind_parameter_name`, `sqlite3_column_name` / `_decltype`,
`sqlite3_stmt_readonly`, `_isexplain`.

Otherwise (that library cannot be loaded) a pure-Python fallback answers:
parameters from our own scanner with SQLite's numbering rules; `is_readonly`
from an authorizer while the statement compiles under EXPLAIN; column names
only for SELECT / VALUES / WITH (read through `SELECT * FROM (...) LIMIT 0`,
so duplicate names come back as `a:1`), and `decltype` always null.

Limits of both: the describing connection sees committed schema only, not
tables created in the stream's open transaction, nor its temporary tables;
in a replica region it reads the replica (the primary while the stream is in
a transaction), which may not have the newest schema yet; an in-memory
database is described against an empty schema.
"""

from __future__ import annotations

import ctypes
import urllib.parse
from ctypes import byref, c_void_p
from typing import Any

from framework.sql import statement_kind

from ..stores import SqlError
from ..stores._sqlite import driver, result_name
from ..stores.readonly import ReadOnlyGuard
from ..stores.sql import from_sqlite_error
from .errors import SQL_MANY_STATEMENTS, SQL_NO_STATEMENT, HranaError, args_error, from_sql_error
from .libsql import database_file
from .native import OPEN_CREATE, OPEN_READONLY, OPEN_READWRITE, sqlite_library, text
from .sqltext import has_content, parameter_names, split_statements
from .statements import Conn

_BUSY_TIMEOUT_MS = 5000


def _no_statement() -> HranaError:
    return HranaError("the SQL text holds no statement to describe", SQL_NO_STATEMENT)


def _many_statements() -> HranaError:
    return HranaError("describe takes exactly one statement", SQL_MANY_STATEMENTS)


def describe(conn: Conn, sql: str) -> dict[str, Any]:
    try:
        path = database_file(conn)
    except SqlError as exc:
        raise from_sql_error(exc) from None
    native = _native()
    return native.describe(path, sql) if native is not None else describe_with_sqlite3(path, sql)


class _Native:
    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        self.isexplain = getattr(lib, "sqlite3_stmt_isexplain", None)

    def describe(self, path: str, sql: str) -> dict[str, Any]:
        try:
            text = sql.encode("utf-8")
        except UnicodeEncodeError:
            raise args_error("the SQL text is not valid Unicode") from None
        lib, db = self.lib, c_void_p()
        flags = OPEN_READONLY if path else OPEN_READWRITE | OPEN_CREATE
        rc = lib.sqlite3_open_v2((path or ":memory:").encode(), byref(db), flags, None)
        try:
            if rc != 0:
                raise self._error(db, rc)
            lib.sqlite3_busy_timeout(db, _BUSY_TIMEOUT_MS)
            buffer = ctypes.create_string_buffer(text, len(text))
            base = ctypes.addressof(buffer)
            offset, stmt, tail = 0, c_void_p(), c_void_p()
            # Empty statements (";;") and comments prepare to nothing: go on past them.
            # (SQLite reads only up to the end of one statement per call: linear.)
            while not stmt.value and offset < len(text):
                rc = lib.sqlite3_prepare_v2(
                    db, base + offset, len(text) - offset, byref(stmt), byref(tail)
                )
                if rc != 0:
                    raise self._error(db, rc)
                advanced = (tail.value or base + len(text)) - base
                if advanced <= offset:
                    break  # nothing consumed: never loop forever
                offset = advanced
            if not stmt.value:
                raise _no_statement()
            try:
                if has_content(text[offset:].decode("utf-8", "replace")):
                    raise _many_statements()
                return self._result(stmt, sql)
            finally:
                lib.sqlite3_finalize(stmt)
        finally:
            lib.sqlite3_close_v2(db)

    def _result(self, stmt: c_void_p, sql: str) -> dict[str, Any]:
        lib = self.lib
        params = [
            {"name": text(lib.sqlite3_bind_parameter_name(stmt, i))}
            for i in range(1, lib.sqlite3_bind_parameter_count(stmt) + 1)
        ]
        cols = [
            {
                "name": text(lib.sqlite3_column_name(stmt, i)) or "",
                "decltype": text(lib.sqlite3_column_decltype(stmt, i)),
            }
            for i in range(lib.sqlite3_column_count(stmt))
        ]
        if self.isexplain is not None:
            is_explain = self.isexplain(stmt) != 0
        else:
            is_explain = statement_kind(sql) == "EXPLAIN"
        return {
            "params": params,
            "cols": cols,
            "is_explain": is_explain,
            "is_readonly": lib.sqlite3_stmt_readonly(stmt) != 0,
        }

    def _error(self, db: c_void_p, rc: int) -> HranaError:
        message = text(self.lib.sqlite3_errmsg(db)) if db.value else None
        code = self.lib.sqlite3_extended_errcode(db) if db.value else rc
        name = result_name(code) or "SQLITE_ERROR"
        return from_sql_error(SqlError(message or f"SQLite error {rc}", name))


def _native() -> _Native | None:
    """ctypes over the SQLite library the driver already uses, if it can be loaded."""
    lib = sqlite_library()
    return _Native(lib) if lib is not None else None


def describe_with_sqlite3(path: str, sql: str) -> dict[str, Any]:
    """The pure-Python fallback; see the module docstring for what it cannot tell."""
    pieces = split_statements(sql)
    if not pieces:
        raise _no_statement()
    if len(pieces) > 1:
        raise _many_statements()
    piece = pieces[0]
    names = parameter_names(piece)
    is_explain = statement_kind(piece) == "EXPLAIN"
    target = f"file:{urllib.parse.quote(path)}?mode=ro" if path else ":memory:"
    db = driver.connect(target, uri=True, isolation_level=None, check_same_thread=False)
    try:
        db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        writes = _WriteDetector()
        db.set_authorizer(writes)
        # Under EXPLAIN the statement is compiled (the authorizer sees it) but not run.
        cursor = db.execute(piece if is_explain else f"EXPLAIN {piece}", [None] * len(names))
        explain_cols = [d[0] for d in cursor.description or []]
        cursor.close()
        db.set_authorizer(None)
        cols = explain_cols if is_explain else _result_columns(db, piece, len(names))
    except driver.Error as exc:
        raise from_sql_error(from_sqlite_error(exc)) from None
    finally:
        db.close()
    return {
        "params": [{"name": name} for name in names],
        "cols": [{"name": name, "decltype": None} for name in cols],
        "is_explain": is_explain,
        "is_readonly": not writes.seen,
    }


class _WriteDetector:
    """An authorizer that allows everything and notes whether anything would write."""

    def __init__(self) -> None:
        self.seen = False
        self._guard = ReadOnlyGuard()

    def __call__(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None
    ) -> int:
        # As sqlite3_stmt_readonly: transaction control changes no file.
        transaction = action in (driver.SQLITE_TRANSACTION, driver.SQLITE_SAVEPOINT)
        if not transaction and self._guard(action, arg1, arg2, db, source) != driver.SQLITE_OK:
            self.seen = True
        return driver.SQLITE_OK


def _result_columns(db: driver.Connection, piece: str, params: int) -> list[str]:
    # WITH is looked through: WITH ... SELECT is a SELECT, WITH ... INSERT is not.
    if statement_kind(piece) not in ("SELECT", "VALUES"):
        return []
    body = piece.rstrip()
    body = body[:-1] if body.endswith(";") else body
    try:
        cursor = db.execute(f"SELECT * FROM (\n{body}\n) LIMIT 0", [None] * params)
    except driver.Error:
        return []  # WITH ... INSERT and the like: no columns known here
    try:
        return [d[0] for d in cursor.description or []]
    finally:
        cursor.close()
