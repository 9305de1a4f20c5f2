"""Errors as a Hrana client sees them: `{"message", "code"}`, plus an HTTP status.

Codes of failed statements are SQLite's own error names (`SQLITE_CONSTRAINT_UNIQUE`,
`SQLITE_ERROR` for a syntax error); everything the server itself refuses has a
code of its own, listed here.
"""

from __future__ import annotations

from typing import Any

from ..stores import SqlError

PROTO_ERROR = "HRANA_PROTO_ERROR"  # a malformed message or request
ARGS_INVALID = "ARGS_INVALID"  # a value or argument that cannot be bound
BATON_INVALID = "BATON_INVALID"  # unknown, forged or already used baton
STREAM_EXPIRED = "STREAM_EXPIRED"  # the baton's stream was idle too long and rolled back
STREAM_CLOSED = "STREAM_CLOSED"
STREAM_NOT_FOUND = "STREAM_NOT_FOUND"
STREAM_EXISTS = "STREAM_EXISTS"
STREAM_LIMIT = "STREAM_LIMIT"
SQL_ID_IN_USE = "SQL_ID_IN_USE"
SQL_NOT_FOUND = "SQL_NOT_FOUND"
SQL_STORE_FULL = "SQL_STORE_FULL"
SQL_NO_STATEMENT = "SQL_NO_STATEMENT"
SQL_MANY_STATEMENTS = "SQL_MANY_STATEMENTS"
CURSOR_NOT_FOUND = "CURSOR_NOT_FOUND"
CURSOR_EXISTS = "CURSOR_EXISTS"
UNAUTHORIZED = "UNAUTHORIZED"
BODY_TOO_LARGE = "BODY_TOO_LARGE"
NOT_FOUND = "NOT_FOUND"
INTERNAL_ERROR = "INTERNAL_ERROR"
SQL_ERROR = "SQL_ERROR"  # a statement failed without a SQLite error name

# Python's sqlite3 raises these binding problems without an error name.
_ARGUMENT_PROBLEMS = ("Incorrect number of bindings", "You did not supply a value", "Binding ")


class HranaError(Exception):
    """A request the server answers with an error; `status` is used over HTTP."""

    def __init__(self, message: str, code: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def to_json(self) -> dict[str, Any]:
        return {"message": self.message, "code": self.code}


def proto_error(message: str) -> HranaError:
    return HranaError(message, PROTO_ERROR)


def args_error(message: str) -> HranaError:
    return HranaError(message, ARGS_INVALID)


def from_sql_error(exc: SqlError) -> HranaError:
    """A failed statement: SQLite's message and error name, as sqld reports them."""
    code = exc.code
    if code is None:
        code = ARGS_INVALID if exc.message.startswith(_ARGUMENT_PROBLEMS) else SQL_ERROR
    return HranaError(exc.message, code)


def internal_error() -> HranaError:
    # The details go to the server log; the client learns only that it failed.
    return HranaError("internal server error (see the server log)", INTERNAL_ERROR, 500)
