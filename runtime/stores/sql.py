"""One region's replica of one SQL database, in one SQLite file.

The guest drives transactions itself (BEGIN/COMMIT), one statement per call, as
over Spin's sqlite interface. Connections are pooled because every request runs
in a fresh wasm instance that opens its own connection.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from framework.sql import statement_kind

from . import deadlines
from ._sqlite import (
    DEFAULT_BUSY_TIMEOUT,
    data_version,
    driver,
    error_name,
    open_connection,
    set_length_limit,
)
from .closeable import Closeable
from .readonly import PrimaryGuard, ReadOnlyGuard
from .results import MAX_RESULT_BYTES, ResultTooLarge, fetch_rows

SqlValue = int | float | str | bytes | None
Row = tuple[SqlValue, ...]
# By position, or by name without the prefix (`{"id": 1}` binds `:id`, `@id`, `$id`).
Params = Sequence[SqlValue] | Mapping[str, SqlValue]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# A pooled connection must look brand new to its next user. Statements that can
# change per-connection state (pragmas, attached or temporary schema) mark the
# connection as not reusable; a false positive only costs a fresh connection.
_STATEFUL_KINDS = frozenset({"PRAGMA", "ATTACH", "DETACH"})
_TEMP_SCHEMA = re.compile(
    r"""\bCREATE\s+TEMP(?:ORARY)?\b|(?:\btemp|["`\[]temp["`\]])\s*\.""", re.IGNORECASE
)

# Header bytes that differ between a database and a copy of its pages: the file
# change counter, version-valid-for and version number that SQLite stamps on
# page 1 of a file it writes, and the schema cookie, which SQLite's backup API
# sets on its target.
_COPY_VARIANT_HEADER_BYTES = ((24, 28), (40, 44), (92, 100))

# A private temp table lets the pool reset last_insert_rowid() and changes() to
# 0, which Python's sqlite3 cannot do directly.
_RESET_TABLE = "temp._edge_pool_reset"
_RESET = (
    f"INSERT INTO {_RESET_TABLE} (rowid, x) VALUES (0, NULL)",  # last_insert_rowid() = 0
    f"DELETE FROM {_RESET_TABLE}",
    f"UPDATE {_RESET_TABLE} SET x = NULL WHERE 0",  # changes() = 0
)


class SqlError(Exception):
    """A statement failed. `str(exc)` is SQLite's own message; `code` its error name."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# Frames in the write-ahead log of a writable database past which a commit
# checkpoints it: twice the hard limit of runtime.stores.sqlsync, which
# checkpoints long before whenever replicas sync.
WAL_AUTOCHECKPOINT = 32768

# SQLite calls the progress handler every this many virtual machine steps
# (about a millisecond): how soon a statement notices that its deadline passed.
_PROGRESS_STEPS = 10_000


class StatementInterrupted(SqlError):
    """The statement ran past its deadline and was stopped; nothing of it remains."""


class ReplicaWriteError(SqlError):
    """A statement that would write reached a read-only replica; nothing ran."""

    def __init__(self, denied: str) -> None:
        super().__init__(f"a read-only replica cannot run this statement ({denied})", "SQLITE_AUTH")
        self.denied = denied


class _RawConnection(driver.Connection):
    # The authorizer of a read-only database's connection, None when writable.
    guard: ReadOnlyGuard | None = None
    # The authorizer of a writable database's guest connection.
    refusals: PrimaryGuard | None = None


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[Row]
    changes: int
    last_insert_rowid: int


def from_sqlite_error(
    exc: driver.Error | driver.Warning, conn: driver.Connection | None = None
) -> SqlError:
    """The SqlError of a driver error; with the failing `conn`, its extended error name."""
    # The driver (CPython 3.10's module) raises Warning for a second statement.
    if isinstance(exc, driver.ProgrammingError | driver.Warning) and "one statement" in str(exc):
        return SqlError(
            "only one statement may be executed at a time (found more after the first)",
            "SQLITE_MISUSE",
        )
    return SqlError(str(exc), error_name(exc, conn))


def _set_busy_timeout(raw: _RawConnection, seconds: float) -> None:
    # A replica's authorizer would send a pragma that sets something to the
    # primary: this one is the store's own.
    guard = raw.guard
    if guard is not None:
        guard.own = True
    try:
        raw.execute(f"PRAGMA busy_timeout = {max(0, int(seconds * 1000))}")
    finally:
        if guard is not None:
            guard.own = False


def _past() -> bool:
    deadline = deadlines.current()
    return deadline is not None and deadline.passed()


def _changes_connection_state(sql: str) -> bool:
    return statement_kind(sql) in _STATEFUL_KINDS or bool(_TEMP_SCHEMA.search(sql))


def check_param(value: object, index: int) -> SqlValue:
    # bool is an int subclass: it binds as 0/1, as SQLite has no boolean type.
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise SqlError(
                f"integer out of range: parameter {index + 1} ({value}) does not fit in "
                "a signed 64-bit SQLite INTEGER"
            )
        return value
    if value is None or isinstance(value, float | str | bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise SqlError(
        f"unsupported type for parameter {index + 1}: {type(value).__name__} "
        "(use int, float, str, bytes or None)"
    )


def bind_values(
    params: Params, check: Callable[[object, int], SqlValue] = check_param
) -> list[SqlValue] | dict[str, SqlValue]:
    """Parameters checked one by one: a list by position, or a dict by name."""
    if isinstance(params, Mapping):
        return {str(k): check(v, i) for i, (k, v) in enumerate(params.items())}
    if isinstance(params, str | bytes | bytearray) or not isinstance(params, Sequence):
        raise SqlError("parameters must be a sequence of values or a mapping of names")
    return [check(v, i) for i, v in enumerate(params)]


class SqlConnection(Closeable):
    """One guest's connection: execute() one statement at a time, close() when done."""

    def __init__(self, db: SqlDatabase, raw: _RawConnection) -> None:
        self._db = db
        self._raw: _RawConnection | None = raw
        self._reusable = True
        self._changes = 0
        self._last_insert_rowid = 0

    @property
    def closed(self) -> bool:
        return self._raw is None

    @property
    def in_transaction(self) -> bool:
        return self._raw is not None and self._raw.in_transaction

    def execute(self, sql: str, params: Params = ()) -> QueryResult:
        """One statement; `params` by position, or by name (`{"id": 1}` for `:id`)."""
        raw = self._raw
        if raw is None:
            raise SqlError("connection is closed")
        if not isinstance(sql, str):
            raise SqlError(f"statement must be str, not {type(sql).__name__}")
        values = bind_values(params)
        if _changes_connection_state(sql):
            self._reusable = False
        guard, refusals = raw.guard, raw.refusals
        if guard is not None:
            guard.denied = None
        if refusals is not None:
            refusals.denied = None
        in_transaction = raw.in_transaction
        try:
            with self._lock_waits_end_by_the_deadline(raw):
                cursor = raw.execute(sql, values)
                try:
                    rows = cast(list[Row], fetch_rows(cursor, self._db.max_result_bytes))
                    columns = [d[0] for d in cursor.description] if cursor.description else []
                finally:
                    cursor.close()
            # Python's sqlite3 only tracks these for some statement shapes; ask
            # SQLite, which has the exact per-connection values.
            changes, rowid = raw.execute("SELECT changes(), last_insert_rowid()").fetchone()
        except ResultTooLarge as exc:
            raise SqlError(str(exc), "SQLITE_TOOBIG") from None
        except (driver.Error, driver.Warning) as exc:
            if guard is not None and guard.denied is not None:
                raise ReplicaWriteError(guard.denied) from None
            if refusals is not None and refusals.denied is not None:
                raise SqlError(
                    f"not authorized: {refusals.denied} is not available here (the "
                    "write-ahead log and the pages of the database are the runtime's own)",
                    "SQLITE_AUTH",
                ) from None
            error = from_sqlite_error(exc, raw)
            name = error.code or ""
            if name == "SQLITE_INTERRUPT" or (name.startswith("SQLITE_BUSY") and _past()):
                raise self._interrupted(in_transaction) from None
            raise error from None
        except UnicodeEncodeError as exc:
            raise SqlError(f"text parameter is not valid Unicode: {exc}") from None
        self._changes, self._last_insert_rowid = changes, rowid
        return QueryResult(columns, rows, changes, rowid)

    @contextmanager
    def _lock_waits_end_by_the_deadline(self, raw: _RawConnection) -> Iterator[None]:
        # SQLite's progress handler does not run while a statement waits for
        # another writer's lock: shorten that wait (the busy timeout) instead.
        deadline = deadlines.current()
        usual = self._db.busy_timeout
        if deadline is None or deadline.remaining() >= usual:
            yield
            return
        _set_busy_timeout(raw, deadline.remaining())
        try:
            yield
        finally:
            _set_busy_timeout(raw, usual)

    def _interrupted(self, in_transaction: bool) -> StatementInterrupted:
        """The error of a statement its deadline stopped, after undoing its transaction."""
        raw = self._raw
        assert raw is not None
        deadline = deadlines.current()
        limit = deadline.what if deadline is not None else "its deadline"
        if raw.in_transaction:
            # SQLite rolls back a transaction whose write was interrupted, but
            # not one interrupted in a read: end it either way, so that nothing
            # started before the deadline commits after it.
            with deadlines.lifted():
                raw.execute("ROLLBACK")
        undone = "the statement and its transaction were" if in_transaction else "the statement was"
        if deadline is not None:
            deadline.cut = "a SQL statement, which was interrupted and rolled back"
        return StatementInterrupted(
            f"interrupted: the statement ran past {limit}; {undone} rolled back", "SQLITE_INTERRUPT"
        )

    def last_insert_rowid(self) -> int:
        """Rowid of the most recent successful INSERT on this connection (0 if none)."""
        return self._last_insert_rowid

    def changes(self) -> int:
        """Rows changed by the most recent INSERT/UPDATE/DELETE on this connection."""
        return self._changes

    def close(self) -> None:
        """Give the connection back; an open transaction is rolled back, never committed."""
        raw, self._raw = self._raw, None
        if raw is not None:
            self._db._release(raw, reusable=self._reusable)


class SqlDatabase(Closeable):
    """A SQLite file and a small pool of idle connections to it.

    With `read_only`, every connection refuses statements that would write
    (`ReplicaWriteError`, raised before anything runs): a region's replica.
    A statement stops at the deadline of `runtime.stores.deadlines`, and one
    whose result passes `max_result_bytes` fails (`runtime.stores.results`).
    """

    def __init__(
        self,
        path: Path,
        *,
        pool_size: int = 4,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        read_only: bool = False,
        max_result_bytes: int = MAX_RESULT_BYTES,
    ) -> None:
        if pool_size < 0:
            raise ValueError("pool_size must not be negative")
        self.path = Path(path)
        self.read_only = read_only
        self.pool_size = pool_size
        self.max_result_bytes = max_result_bytes
        self.busy_timeout = busy_timeout
        self._lock = threading.Lock()  # guards the pool and counters
        self._monitor_lock = threading.Lock()  # guards the data_version connection
        self._idle: list[_RawConnection] = []
        self._monitor: driver.Connection | None = None
        self._digest: tuple[int, str] | None = None
        self._opened = 0
        self._closed = False
        # Open one connection now so that a bad path fails here, not mid-request.
        self._release(self._open(), reusable=True)

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"SqlDatabase({str(self.path)!r}{mode})"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    @property
    def opened_connections(self) -> int:
        """How many SQLite connections this object has opened in all (pool misses)."""
        return self._opened

    def connect(self) -> SqlConnection:
        with self._lock:
            if self._closed:
                raise SqlError(f"database {self.path} is closed")
            raw = self._idle.pop() if self._idle else None
        return SqlConnection(self, raw if raw is not None else self._open())

    def execute(self, sql: str, params: Params = ()) -> QueryResult:
        """One statement on a pooled connection, in its own implicit transaction."""
        with self.connect() as conn:
            return conn.execute(sql, params)

    def data_version(self) -> int:
        """SQLite's `PRAGMA data_version` as one long-lived connection sees it.

        The number changes whenever another connection (in any process) commits
        a change to the file, so a replica can tell cheaply whether to look.
        """
        with self._monitor_lock:
            try:
                return data_version(self._monitor_conn())
            except driver.Error as exc:
                raise from_sqlite_error(exc, self._monitor) from None

    def content_digest(self) -> str:
        """A digest of the database's pages: equal for a database and an exact copy.

        A replica's pages are the primary's (`runtime.stores.sqlsync`) but for a
        few header counters that SQLite sets on the file it writes (change
        counter, version stamps; the schema cookie after a backup), which are
        left out. Computed again only when the data version moved.
        """
        with self._monitor_lock:
            monitor = self._monitor_conn()
            try:
                monitor.execute("BEGIN")
                try:
                    version = data_version(monitor)
                    if self._digest is not None and self._digest[0] == version:
                        return self._digest[1]
                    pages = bytearray().join(
                        data for (data,) in monitor.execute("SELECT data FROM sqlite_dbpage")
                    )
                finally:
                    monitor.execute("COMMIT")
            except driver.Error as exc:
                raise from_sqlite_error(exc, monitor) from None
            for start, end in _COPY_VARIANT_HEADER_BYTES:
                if len(pages) >= end:
                    pages[start:end] = bytes(end - start)
            digest = hashlib.blake2b(pages, digest_size=16).hexdigest()
            self._digest = (version, digest)
            return digest

    def _monitor_conn(self) -> driver.Connection:
        """The long-lived unguarded connection that watches the file (hold _monitor_lock)."""
        if self._closed:
            raise SqlError(f"database {self.path} is closed")
        if self._monitor is None:
            self._monitor = self._open(guarded=False)
        return self._monitor

    def close(self) -> None:
        """Close idle connections; ones still checked out close when their user does."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        with self._monitor_lock:
            monitor, self._monitor = self._monitor, None
        for raw in idle:
            raw.close()
        if monitor is not None:
            monitor.close()

    def _open(self, *, guarded: bool = True) -> _RawConnection:
        try:
            raw = cast(
                _RawConnection,
                open_connection(self.path, busy_timeout=self.busy_timeout, factory=_RawConnection),
            )
            try:
                raw.execute("PRAGMA foreign_keys = ON")
                raw.set_progress_handler(deadlines.past_deadline, _PROGRESS_STEPS)
                # No single value larger than a whole result: SQLite would
                # build it in memory before the result's count could refuse it.
                set_length_limit(raw, MAX_RESULT_BYTES)
                if self.read_only and guarded:
                    # Nothing can write here, so changes() stays 0 and needs no reset.
                    raw.guard = ReadOnlyGuard()
                    raw.set_authorizer(raw.guard)
                else:
                    raw.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_RESET_TABLE} (x)")
                    if not self.read_only:
                        # Replication checkpoints the log (runtime.stores.sqlsync);
                        # SQLite's own checkpoint is only a backstop for when
                        # nothing syncs (a single region, every link cut).
                        raw.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT}")
                    if guarded:
                        raw.refusals = PrimaryGuard()
                        raw.set_authorizer(raw.refusals)
            except BaseException:
                raw.close()
                raise
        except driver.Error as exc:
            raise SqlError(
                f"cannot open database {self.path}: {exc}", getattr(exc, "sqlite_errorname", None)
            ) from None
        with self._lock:
            self._opened += 1
        return raw

    def _release(self, raw: _RawConnection, *, reusable: bool) -> None:
        try:
            if raw.in_transaction:
                # A guest that stops mid-transaction leaves nothing applied. The
                # connection is not reused: only a clean one goes back to the pool.
                raw.execute("ROLLBACK")
                reusable = False
            if reusable and raw.guard is None:
                for statement in _RESET:
                    raw.execute(statement)
        except driver.Error:
            reusable = False
        with self._lock:
            if reusable and not self._closed and len(self._idle) < self.pool_size:
                self._idle.append(raw)
                return
        raw.close()  # closing also rolls back whatever is still open
