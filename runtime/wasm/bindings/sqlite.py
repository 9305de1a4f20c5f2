"""Host side of `spin:sqlite/sqlite@3.0.0`: WIT values in, database calls out."""

from __future__ import annotations

from typing import Any

from wasmtime import component as wc

from ...stores import SqlError
from ..rows import SqlRows
from .context import current

INTERFACE = "spin:sqlite/sqlite@3.0.0"
CONNECTION_TYPE = 2


class _QueryResult(wc.Record):
    def __init__(self, columns: list[str], rows: SqlRows) -> None:
        self.columns = columns
        self.rows = rows


def open_connection(store: Any, database: str) -> Any:
    ctx = current()
    if database not in ctx.services.grants.sqlite_databases:
        return wc.Variant("access-denied")
    try:
        conn = ctx.services.connect_sql(database)
    except LookupError:
        return wc.Variant("no-such-database")
    except SqlError as exc:
        return wc.Variant("io", str(exc))
    return ctx.add_resource(conn, CONNECTION_TYPE, owned=True)


def _param(value: Any) -> Any:
    # The `value` variant arrives untagged: int, float, str, bytes or None (null).
    return bytes(value) if isinstance(value, bytearray | memoryview) else value


def execute(store: Any, handle: wc.ResourceAny, statement: str, params: list[Any]) -> Any:
    conn = current().resource(handle, store)
    try:
        result = conn.execute(statement, [_param(p) for p in params])
    except SqlError as exc:
        return wc.Variant("io", str(exc))
    return _QueryResult(list(result.columns), SqlRows(result.rows))


def last_insert_rowid(store: Any, handle: wc.ResourceAny) -> int:
    return int(current().resource(handle, store).last_insert_rowid())


def changes(store: Any, handle: wc.ResourceAny) -> int:
    return int(current().resource(handle, store).changes())


def drop(store: Any, rep: int) -> None:
    current().drop_resource(rep)


def add_to_linker(root: wc.LinkerInstance) -> None:
    with root.add_instance(INTERFACE) as iface:
        iface.add_resource("connection", wc.ResourceType.host(CONNECTION_TYPE), drop)
        iface.add_func("[static]connection.open", open_connection)
        iface.add_func("[method]connection.execute", execute)
        iface.add_func("[method]connection.last-insert-rowid", last_insert_rowid)
        iface.add_func("[method]connection.changes", changes)
