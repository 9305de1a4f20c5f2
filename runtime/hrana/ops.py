"""Stream requests shared by Hrana over WebSocket and over HTTP.

A request is parsed on the event loop (so a malformed one fails before it is
queued, and `sql_id`s resolve in message order) into an operation: a plain
function of the stream's connection, run later in the stream's worker thread.

Every protocol version gets the whole set: a hrana1 client never sends
`describe`, and nothing is gained by refusing it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .describe import describe
from .errors import proto_error
from .statements import (
    Conn,
    SqlTexts,
    batch_entries,
    execute,
    parse_batch,
    parse_stmt,
    run_batch,
    run_sequence,
    sql_of,
)
from .wire import int32, req_str

Op = Callable[[Conn], Any]

# Requests that run on a stream's connection (the `type`, the same over both variants).
CONN_REQUESTS = frozenset({"execute", "batch", "sequence", "describe", "get_autocommit"})


def conn_op(kind: str, msg: dict[str, Any], sqls: SqlTexts) -> Op:
    """The operation for one of CONN_REQUESTS; its result is the response object."""
    if kind == "execute":
        stmt = parse_stmt(msg.get("stmt"), sqls)
        return lambda conn: {"type": "execute", "result": execute(conn, stmt)}
    if kind == "batch":
        batch = parse_batch(msg.get("batch"), sqls)
        return lambda conn: {"type": "batch", "result": run_batch(conn, batch)}
    if kind == "sequence":
        sql = sql_of(msg, sqls)

        def sequence(conn: Conn) -> dict[str, Any]:
            run_sequence(conn, sql)
            return {"type": "sequence"}

        return sequence
    if kind == "describe":
        text = sql_of(msg, sqls)
        return lambda conn: {"type": "describe", "result": describe(conn, text)}
    if kind == "get_autocommit":
        return lambda conn: {"type": "get_autocommit", "is_autocommit": not conn.in_transaction}
    raise proto_error(f"unknown request type {kind!r}")


def cursor_op(msg: dict[str, Any], sqls: SqlTexts) -> Op:
    """A batch whose results come back as cursor entries (a list)."""
    batch = parse_batch(msg.get("batch"), sqls)
    return lambda conn: batch_entries(conn, batch)


def sql_text_request(kind: str, msg: dict[str, Any], sqls: SqlTexts) -> dict[str, Any]:
    """`store_sql` / `close_sql`: no connection needed, answered at once."""
    if kind == "store_sql":
        sqls.store(int32(msg, "sql_id"), req_str(msg, "sql"))
    else:
        sqls.close(int32(msg, "sql_id"))
    return {"type": kind}
