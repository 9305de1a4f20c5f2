"""Statements, batches and sequences: parsed from requests, run on one connection.

Parsing happens before anything runs, so a malformed step or value fails the
whole request with nothing executed. Running happens in a stream's worker
thread (see streams.py), one call at a time. Each statement is interrupted
after `STATEMENT_TIME_LIMIT` seconds (and rolled back), so statements that
never end cannot hold every worker thread; the results of one batch may
together take at most the limit of one result (sqld counts them the same way).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..stores import QueryResult, SqlError, SqlParams, SqlValue, deadlines
from ..stores.results import MAX_RESULT_BYTES, result_size
from .errors import (
    SQL_ID_IN_USE,
    SQL_NOT_FOUND,
    SQL_STORE_FULL,
    HranaError,
    args_error,
    from_sql_error,
    proto_error,
)
from .sqltext import parameter_names, split_statements
from .values import decode_value, encode_value
from .wire import array, integer, obj, opt_int32, opt_str, type_of

MAX_CONDITION_DEPTH = 64
STATEMENT_TIME_LIMIT = 30.0  # seconds one statement may run


class Conn(Protocol):
    """What a stream's operations get: a LibsqlConnection (libsql.py)."""

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, params: SqlParams = ...) -> QueryResult: ...

    def decltypes(self, sql: str, count: int) -> list[str | None]: ...

    def close(self) -> None: ...


class SqlTexts:
    """SQL texts stored with `store_sql`: per WebSocket connection, or per HTTP stream.

    Bounded in number and in total size, as a client could otherwise keep
    storing texts until the server runs out of memory.
    """

    def __init__(self, limit: int = 1024, max_chars: int = 16 * 1024 * 1024) -> None:
        self._texts: dict[int, str] = {}
        self._limit = limit
        self._max_chars = max_chars
        self._chars = 0

    def store(self, sql_id: int, sql: str) -> None:
        if sql_id in self._texts:
            raise HranaError(f"SQL text id {sql_id} is already in use", SQL_ID_IN_USE)
        if len(self._texts) >= self._limit or self._chars + len(sql) > self._max_chars:
            raise HranaError(
                f"at most {self._limit} SQL texts of {self._max_chars} characters in all "
                "may be stored; close some",
                SQL_STORE_FULL,
            )
        self._texts[sql_id] = sql
        self._chars += len(sql)

    def close(self, sql_id: int) -> None:
        closed = self._texts.pop(sql_id, None)  # closing an unknown id is not an error
        self._chars -= len(closed or "")

    def get(self, sql_id: int) -> str:
        try:
            return self._texts[sql_id]
        except KeyError:
            raise HranaError(f"no SQL text is stored with id {sql_id}", SQL_NOT_FOUND) from None


def sql_of(msg: dict[str, Any], sqls: SqlTexts) -> str:
    """The SQL text of a statement or request: exactly one of `sql` and `sql_id`."""
    sql, sql_id = opt_str(msg, "sql"), opt_int32(msg, "sql_id")
    if sql is not None and sql_id is None:
        return sql
    if sql is None and sql_id is not None:
        return sqls.get(sql_id)
    raise proto_error("exactly one of 'sql' and 'sql_id' must be given")


@dataclass(frozen=True)
class Stmt:
    sql: str
    args: tuple[SqlValue, ...]
    named: tuple[tuple[str, SqlValue], ...]
    want_rows: bool


def parse_stmt(raw: object, sqls: SqlTexts) -> Stmt:
    msg = obj(raw, "'stmt'")
    args = tuple(decode_value(v) for v in array(msg.get("args") or [], "'args'"))
    named = []
    for item in array(msg.get("named_args") or [], "'named_args'"):
        arg = obj(item, "a named argument")
        name = arg.get("name")
        if not isinstance(name, str) or not name:
            raise args_error("a named argument needs a non-empty string 'name'")
        named.append((name, decode_value(arg.get("value"))))
    want_rows = msg.get("want_rows")
    if want_rows is not None and not isinstance(want_rows, bool):
        raise proto_error("'want_rows' must be a boolean")
    return Stmt(sql_of(msg, sqls), args, tuple(named), want_rows is not False)


def _bare(name: str) -> str:
    # ":a", "@a", "$a" and "a" all mean parameter "a", as the spec has the server guess.
    return name[1:] if name[0] in ":@$?" and len(name) > 1 else name


def bind(stmt: Stmt) -> SqlParams:
    """Arguments as the connection takes them: by position, or by bare name."""
    if not stmt.named:
        return stmt.args
    named: dict[str, SqlValue] = {}
    for name, value in stmt.named:
        key = _bare(name)
        if key in named and named[key] != value:
            raise args_error(f"named arguments for {key!r} disagree ({name!r} and another)")
        named[key] = value
    if not stmt.args:
        return named
    # Both kinds: each parameter by its index, a named argument winning over
    # the positional one, so that nameless `?` can still be bound.
    values: list[SqlValue] = []
    names = parameter_names(stmt.sql)
    if len(stmt.args) > len(names):
        raise args_error(f"{len(stmt.args)} positional arguments for {len(names)} parameters")
    for index, param in enumerate(names):
        if param is not None and _bare(param) in named:
            values.append(named[_bare(param)])
        elif index < len(stmt.args):
            values.append(stmt.args[index])
        else:
            raise args_error(f"no value for parameter {index + 1} ({param or '?'})")
    return values


def run_statement(conn: Conn, sql: str, params: SqlParams) -> QueryResult:
    """One statement, interrupted and rolled back past the statement time limit."""
    limit = STATEMENT_TIME_LIMIT
    try:
        with deadlines.within(limit, f"the statement time limit of {limit:g} s"):
            return conn.execute(sql, params)
    except SqlError as exc:
        raise from_sql_error(exc) from None


def execute(conn: Conn, stmt: Stmt) -> dict[str, Any]:
    return _encode(conn, run_statement(conn, stmt.sql, bind(stmt)), stmt)


def _encode(conn: Conn, result: QueryResult, stmt: Stmt) -> dict[str, Any]:
    types = conn.decltypes(stmt.sql, len(result.columns)) if result.columns else []
    return {
        "cols": [{"name": n, "decltype": t} for n, t in zip(result.columns, types, strict=True)],
        "rows": [[encode_value(v) for v in row] for row in result.rows] if stmt.want_rows else [],
        "affected_row_count": result.changes,
        "last_insert_rowid": str(result.last_insert_rowid),
    }


# A condition is a nested tuple: ("ok", step), ("error", step), ("not", cond),
# ("and", [conds]), ("or", [conds]) or ("is_autocommit",).
Cond = tuple[Any, ...]


@dataclass(frozen=True)
class Batch:
    steps: tuple[tuple[Cond | None, Stmt], ...]


def parse_batch(raw: object, sqls: SqlTexts) -> Batch:
    steps = []
    for index, item in enumerate(array(obj(raw, "'batch'").get("steps"), "'steps'")):
        step = obj(item, "a batch step")
        cond = step.get("condition")
        parsed = None if cond is None else _parse_cond(cond, index, 0)
        steps.append((parsed, parse_stmt(step.get("stmt"), sqls)))
    return Batch(tuple(steps))


def _parse_cond(raw: object, current: int, depth: int) -> Cond:
    if depth > MAX_CONDITION_DEPTH:
        raise proto_error(f"batch conditions nest deeper than {MAX_CONDITION_DEPTH}")
    kind = type_of(raw, "a batch condition")
    msg = obj(raw, "a batch condition")
    if kind in ("ok", "error"):
        step = integer(msg.get("step"), "a condition's 'step'", 0, 2**32 - 1)
        if step >= current:
            raise proto_error(f"step {current}'s condition names step {step}, not an earlier one")
        return (kind, step)
    if kind == "not":
        return ("not", _parse_cond(msg.get("cond"), current, depth + 1))
    if kind in ("and", "or"):
        conds = array(msg.get("conds"), f"an {kind!r} condition's 'conds'")
        return (kind, [_parse_cond(c, current, depth + 1) for c in conds])
    if kind == "is_autocommit":
        return ("is_autocommit",)
    raise proto_error(f"unknown batch condition type {kind!r}")


def _holds(cond: Cond, outcomes: list[bool | None], conn: Conn) -> bool:
    kind = cond[0]
    if kind == "ok":
        return outcomes[cond[1]] is True
    if kind == "error":
        return outcomes[cond[1]] is False
    if kind == "not":
        return not _holds(cond[1], outcomes, conn)
    if kind == "and":
        return all(_holds(c, outcomes, conn) for c in cond[1])
    if kind == "or":
        return any(_holds(c, outcomes, conn) for c in cond[1])
    return not conn.in_transaction  # is_autocommit


def _run_steps(conn: Conn, batch: Batch) -> list[tuple[int, dict[str, Any] | HranaError]]:
    """(step, result or error) for each step that ran; skipped steps are left out."""
    outcomes: list[bool | None] = [None] * len(batch.steps)
    ran: list[tuple[int, dict[str, Any] | HranaError]] = []
    room = MAX_RESULT_BYTES  # what the batch's results may still take
    for index, (cond, stmt) in enumerate(batch.steps):
        if cond is not None and not _holds(cond, outcomes, conn):
            continue
        try:
            result = run_statement(conn, stmt.sql, bind(stmt))
            if stmt.want_rows:
                room = _take(result, room)
            ran.append((index, _encode(conn, result, stmt)))
            outcomes[index] = True
        except HranaError as exc:
            ran.append((index, exc))
            outcomes[index] = False
    return ran


def _take(result: QueryResult, room: int) -> int:
    """What is left of `room` after `result`; a HranaError if it does not fit."""
    size = result_size(result.rows)
    if size > room:
        raise HranaError(
            f"result too large: the batch's results take more than {MAX_RESULT_BYTES} bytes "
            "in all; split the batch or select less",
            "SQLITE_TOOBIG",
        )
    return room - size


def run_batch(conn: Conn, batch: Batch) -> dict[str, Any]:
    results: list[dict[str, Any] | None] = [None] * len(batch.steps)
    errors: list[dict[str, Any] | None] = [None] * len(batch.steps)
    for index, outcome in _run_steps(conn, batch):
        if isinstance(outcome, HranaError):
            errors[index] = outcome.to_json()
        else:
            results[index] = outcome
    return {"step_results": results, "step_errors": errors}


def batch_entries(conn: Conn, batch: Batch) -> list[dict[str, Any]]:
    """The batch as Hrana 3 cursor entries (computed whole, then handed out in pieces)."""
    entries: list[dict[str, Any]] = []
    for index, outcome in _run_steps(conn, batch):
        if isinstance(outcome, HranaError):
            entries.append({"type": "step_error", "step": index, "error": outcome.to_json()})
            continue
        entries.append({"type": "step_begin", "step": index, "cols": outcome["cols"]})
        entries.extend({"type": "row", "row": row} for row in outcome["rows"])
        entries.append(
            {
                "type": "step_end",
                "affected_row_count": outcome["affected_row_count"],
                "last_insert_rowid": outcome["last_insert_rowid"],
            }
        )
    return entries


def run_sequence(conn: Conn, sql: str) -> None:
    """Each `;`-separated statement in turn, rows ignored; the first failure stops it.

    Statements run one by one on the stream's connection, so a sequence inside
    a transaction stays inside it (unlike sqlite3's executescript, which commits).
    """
    pieces: Sequence[str] = split_statements(sql)
    for piece in pieces:
        run_statement(conn, piece, ())
