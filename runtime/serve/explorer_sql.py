"""What the explorer shows of the SQL databases: tables per region, read-only queries.

Every read goes through connections of the explorer's own, opened read-only on
each region's copy (`SqlDatabase(read_only=True)`: SQLite's authorizer denies
anything that would write, attach a file or start a transaction, before it
runs), so a query on a replica answers what that region's readers see, stale
or not. Each statement is bounded in time (QUERY_SECONDS), in bytes
(MAX_RESULT_BYTES) and in rows kept (MAX_ROWS).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from ..stores import SqlDatabase, SqlError, StoreRegistry, deadlines
from ..stores.sql import ReplicaWriteError, StatementInterrupted

QUERY_SECONDS = 2.0
MAX_RESULT_BYTES = 1024 * 1024
MAX_ROWS = 500
MAX_SQL_CHARS = 20_000
BLOB_PREVIEW = 256

_TABLES = (
    "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
    "ESCAPE '\\' ORDER BY name"
)


class QueryRefused(ValueError):
    """A statement the explorer does not run, or one that failed; the message says why."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class SqlReader:
    """The explorer's read-only copies of every region's databases, opened on first use."""

    def __init__(self, registries: Mapping[str, StoreRegistry], labels: list[str]) -> None:
        self.registries = registries
        self.labels = labels
        self._lock = threading.Lock()
        self._open: dict[tuple[str, str], SqlDatabase] = {}

    def _db(self, region: str, label: str) -> SqlDatabase:
        if label not in self.labels:
            known = ", ".join(self.labels) or "none"
            raise KeyError(f"unknown database {label!r}; this app's databases: {known}")
        if region not in self.registries:
            raise KeyError(f"unknown region {region!r}; regions are {', '.join(self.registries)}")
        with self._lock:
            db = self._open.get((region, label))
            if db is None or db.closed:
                path = self.registries[region].layout.sql_path(region, label)
                db = SqlDatabase(
                    path, pool_size=1, read_only=True, max_result_bytes=MAX_RESULT_BYTES
                )
                self._open[(region, label)] = db
            return db

    def query(self, label: str, region: str, sql: str) -> dict[str, Any]:
        """One read on `region`'s copy: columns and (at most MAX_ROWS) rows."""
        if not isinstance(sql, str) or not sql.strip():
            raise QueryRefused("write a statement to run, for example SELECT * FROM sqlite_schema")
        if len(sql) > MAX_SQL_CHARS:
            raise QueryRefused(f"a statement is at most {MAX_SQL_CHARS} characters")
        db = self._db(region, label)
        try:
            with deadlines.within(QUERY_SECONDS, f"the explorer's limit of {QUERY_SECONDS:g} s"):
                result = db.execute(sql)
        except ReplicaWriteError as exc:
            raise QueryRefused(
                f"the explorer only reads: {exc.denied} is refused", "SQLITE_AUTH"
            ) from None
        except StatementInterrupted:
            raise QueryRefused(
                f"the statement ran past {QUERY_SECONDS:g} s and was stopped", "SQLITE_INTERRUPT"
            ) from None
        except SqlError as exc:
            raise QueryRefused(exc.message, exc.code) from None
        rows = result.rows[:MAX_ROWS]
        return {
            "database": label,
            "region": region,
            "columns": result.columns,
            "rows": [[_json_value(v) for v in row] for row in rows],
            "truncated": len(result.rows) > MAX_ROWS,
        }

    def tables(self, label: str) -> dict[str, Any]:
        """Each table of any region's copy, with its row count in each (None: not there)."""
        counts: dict[str, dict[str, int | None]] = {}
        errors: dict[str, str] = {}
        for region in self.registries:
            db = self._db(region, label)
            try:
                with deadlines.within(QUERY_SECONDS, "the explorer's limit"):
                    names = [str(row[0]) for row in db.execute(_TABLES).rows]
                    for name in names:
                        quoted = '"' + name.replace('"', '""') + '"'
                        (count,) = db.execute(f"SELECT count(*) FROM {quoted}").rows[0]
                        counts.setdefault(name, {})[region] = int(count or 0)
            except SqlError as exc:
                errors[region] = exc.message
        tables = [
            {"name": name, "rows": {r: per.get(r) for r in self.registries}}
            for name, per in sorted(counts.items())
        ]
        return {"database": label, "tables": tables, "errors": errors}

    def close(self) -> None:
        with self._lock:
            dbs, self._open = list(self._open.values()), {}
        for db in dbs:
            db.close()


def _json_value(value: object) -> Any:
    if isinstance(value, bytes):
        return {"blob": value[:BLOB_PREVIEW].hex(), "size": len(value)}
    return value
