"""SQL databases on a remote libSQL server (Turso, sqld), through libsql-client.

A guest drives transactions with plain BEGIN / COMMIT / ROLLBACK / SAVEPOINT
statements, one call at a time. libsql-client runs each lone statement on a
fresh server-side stream, so those statements cannot just be forwarded: a BEGIN
would end with its own stream. Instead a BEGIN opens one of the client's
interactive transactions (one stream, one server connection) and everything up
to COMMIT or ROLLBACK runs in it; a SAVEPOINT outside a transaction opens one
too, and releasing its outermost savepoint commits, as in SQLite.

libsql-client 0.3.1 speaks Hrana over HTTP only in the stateless v1 form and
refuses transactions there, so an http(s) URL is reached over Hrana's WebSocket
form (ws/wss) at the same address, which libSQL servers serve as well.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import libsql_client
from libsql_client import ClientSync, LibsqlError, TransactionSync

from framework.sql import INSERT_KINDS, WRITE_KINDS, statement_kind

from ..app.runtime_config import display_url, load_runtime_config
from . import deadlines
from .closeable import Closeable
from .results import ResultTooLarge, check_rows
from .sql import Params as SqlParams
from .sql import QueryResult, SqlError, SqlValue, bind_values, check_param
from .transactions import Control, control_statement

log = logging.getLogger("edge.sql.remote")

T = TypeVar("T")
Args = list[SqlValue] | dict[str, SqlValue]

# libsql-client's own codes for failures of the client or the link (not of SQL).
_CLIENT_CODES = frozenset(
    {
        "CLIENT_CLOSED",
        "SERVER_ERROR",
        "STREAM_CLOSED",
        "TRANSACTION_CLOSED",
        "TRANSACTIONS_NOT_SUPPORTED",
        "URL_INVALID",
        "URL_PARAM_NOT_SUPPORTED",
        "URL_SCHEME_NOT_SUPPORTED",
        "URL_UNDEFINED",
    }
)
_SERVER_PREFIX = "SQLite error: "  # how sqld wraps SQLite's message
DEFAULT_TIMEOUT = 10.0  # seconds a statement waits for the server before failing


class RemoteUnavailable(SqlError):
    """The server could not be reached or the link failed; SQL did not fail."""


def client_url(url: str) -> str:
    """The URL libsql-client gets: http(s) becomes ws(s), for interactive transactions."""
    scheme, sep, rest = url.partition(":")
    mapped = {"http": "ws", "https": "wss"}.get(scheme.lower())
    return f"{mapped}:{rest}" if sep and mapped else url


class RemoteDatabase(Closeable):
    """One remote database: one libsql-client, shared by every connection to it."""

    def __init__(
        self, url: str, token: str | None = None, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.url = url
        self.display_url = display_url(url)
        self.timeout = timeout
        self._token = token or None
        self._lock = threading.Lock()
        self._client: ClientSync | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"RemoteDatabase({self.display_url!r})"

    @property
    def closed(self) -> bool:
        return self._closed

    def connect(self) -> RemoteSqlConnection:
        """A connection; nothing goes over the network until its first statement."""
        if self._closed:
            raise SqlError(f"database {self.display_url} is closed")
        return RemoteSqlConnection(self)

    def execute(self, sql: str, params: SqlParams = ()) -> QueryResult:
        with self.connect() as conn:
            return conn.execute(sql, params)

    def close(self) -> None:
        """Close the client (its thread keeps a process alive until then)."""
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception as exc:
                log.warning("closing %s: %s", self.display_url, self._redact(str(exc)))

    def client(self) -> ClientSync:
        # Made on first use, so that a server that is down fails a statement, not startup.
        with self._lock:
            if self._closed:
                raise SqlError(f"database {self.display_url} is closed")
            if self._client is not None:
                return self._client
        url, token = client_url(self.url), self._token
        made = self.call(lambda: libsql_client.create_client_sync(url, auth_token=token))
        with self._lock:
            if self._client is None and not self._closed:
                self._client, made = made, None
            client = self._client
        if made is not None:  # another thread made one first, or the database closed
            made.close()
        if client is None:
            raise SqlError(f"database {self.display_url} is closed")
        return client

    def call(self, action: Callable[[], T]) -> T:
        """Run a client call within the timeout; every failure becomes a SqlError.

        A server that never answers would hold the worker for good, so the
        call runs on a thread of its own and is given up after the timeout, or
        at the deadline of `runtime.stores.deadlines` if that comes first; the
        client (whose single loop the call still blocks) is then dropped and
        the next statement makes a new one.
        """
        deadline = deadlines.current()
        timeout = self.timeout
        if deadline is not None and deadline.remaining() < timeout:
            timeout = max(0.0, deadline.remaining())
        outcome: list[tuple[bool, object]] = []

        def run() -> None:
            try:
                outcome.append((True, self._mapped(action)))
            except BaseException as exc:  # re-raised on the caller's thread
                outcome.append((False, exc))

        worker = threading.Thread(target=run, name="edge-libsql-call", daemon=True)
        worker.start()
        worker.join(timeout)
        if not outcome:
            self._abandon_client()
            if deadline is not None and deadline.passed():
                deadline.cut = f"a call to the libSQL database at {self.display_url}, given up"
                raise RemoteUnavailable(
                    f"no answer from the libSQL database at {self.display_url} before "
                    f"{deadline.what}; whether the statement ran is not known",
                    "SQLITE_INTERRUPT",
                )
            raise RemoteUnavailable(
                f"no answer from the libSQL database at {self.display_url} "
                f"within {self.timeout:g}s",
                "SQLITE_IOERR",
            )
        ok, value = outcome[0]
        if not ok:
            assert isinstance(value, BaseException)
            raise value
        return value  # type: ignore[return-value]

    def _abandon_client(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            # Closing may wait on the stuck call too: not on this thread.
            threading.Thread(target=client.close, name="edge-libsql-close", daemon=True).start()

    def _mapped(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except SqlError:
            raise
        except LibsqlError as exc:
            message = self._redact(exc.explanation)
            if exc.code in _CLIENT_CODES or exc.code.startswith(("HRANA_", "AUTH")):
                where = f"libSQL database at {self.display_url}"
                raise RemoteUnavailable(f"{where}: {message}", exc.code) from None
            raise SqlError(message.removeprefix(_SERVER_PREFIX), exc.code) from None
        except Exception as exc:  # aiohttp, OS and sqlite3 errors of the link or the file
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise RemoteUnavailable(
                f"cannot reach the libSQL database at {self.display_url}: {self._redact(reason)}",
                "SQLITE_IOERR",
            ) from None

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "<token>") if self._token else text


def open_remote_databases(config_file: Path | None) -> dict[str, RemoteDatabase]:
    """label -> RemoteDatabase for the libSQL databases of a runtime config file."""
    if config_file is None:
        return {}
    config = load_runtime_config(config_file)
    return {label: RemoteDatabase(db.url, db.token) for label, db in config.libsql.items()}


class RemoteSqlConnection(Closeable):
    """A guest's connection to a remote database; the interface of stores.SqlConnection."""

    def __init__(self, db: RemoteDatabase) -> None:
        self._db = db
        self._closed = False
        self._tx: TransactionSync | None = None
        self._savepoints: list[str] = []  # open savepoint names, outermost first
        self._began_with_savepoint = False
        self._changes = 0
        self._last_insert_rowid = 0

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def in_transaction(self) -> bool:
        return self._tx is not None

    def execute(self, sql: str, params: SqlParams = ()) -> QueryResult:
        """One statement; `params` by position, or by name (matched by the server)."""
        if self._closed:
            raise SqlError("connection is closed")
        if not isinstance(sql, str):
            raise SqlError(f"statement must be str, not {type(sql).__name__}")
        args = bind_values(params, _value)
        control = control_statement(sql)
        if control is None:
            return self._run(sql, args)
        self._control(control, sql, args)
        return QueryResult([], [], self._changes, self._last_insert_rowid)

    def last_insert_rowid(self) -> int:
        return self._last_insert_rowid

    def changes(self) -> int:
        return self._changes

    def close(self) -> None:
        """Release the connection; an open transaction is rolled back, never committed."""
        if self._closed:
            return
        self._closed = True
        if self._tx is not None:
            try:
                self._end(commit=False)
            except SqlError as exc:  # the server drops the stream's transaction anyway
                log.debug("rollback on close: %s", exc)

    def _run(self, sql: str, args: Args) -> QueryResult:
        tx = self._tx
        runner = tx if tx is not None else self._db.client()
        try:
            result = self._db.call(lambda: runner.execute(sql, args))
        except RemoteUnavailable as exc:
            if tx is None:
                raise
            self._forget(tx)  # its stream is gone, and the server rolls back with it
            raise RemoteUnavailable(
                f"{exc.message}; the open transaction was rolled back", exc.code
            ) from None
        # As SQLite's changes() and last_insert_rowid(): only writes move them.
        kind = statement_kind(sql)
        if kind in WRITE_KINDS and result.rows_affected >= 0:
            self._changes = result.rows_affected
        if kind in INSERT_KINDS and result.rows_affected > 0 and result.last_insert_rowid:
            self._last_insert_rowid = result.last_insert_rowid
        rows = [row.astuple() for row in result.rows]
        try:
            check_rows(rows)  # as a local database would: the server's own limit may be higher
        except ResultTooLarge as exc:
            raise SqlError(str(exc), "SQLITE_TOOBIG") from None
        return QueryResult(list(result.columns), rows, self._changes, self._last_insert_rowid)

    def _control(self, control: Control, sql: str, args: Args) -> None:
        verb = control.verb
        if verb == "BEGIN":
            if self._tx is not None:
                raise SqlError("cannot start a transaction within a transaction", "SQLITE_ERROR")
            self._begin(by_savepoint=False)
        elif verb in ("COMMIT", "ROLLBACK"):
            if self._tx is None:
                raise SqlError(f"cannot {verb.lower()} - no transaction is active", "SQLITE_ERROR")
            self._end(commit=verb == "COMMIT")
        elif self._tx is None and verb != "SAVEPOINT":
            self._run(sql, args)  # no savepoint exists: the server says so
        else:
            opened = self._tx is None
            if opened:
                self._begin(by_savepoint=True)
            try:
                self._run(sql, args)
            except SqlError:
                if opened and self._tx is not None:
                    self._end(commit=False)
                raise
            self._track_savepoint(verb, _fold(control.savepoint or ""))

    def _track_savepoint(self, verb: str, name: str) -> None:
        if verb == "SAVEPOINT":
            self._savepoints.append(name)
            return
        if name not in self._savepoints:
            return  # the server accepted it, so it knows better than this list
        index = len(self._savepoints) - 1 - self._savepoints[::-1].index(name)
        if verb == "ROLLBACK TO":
            del self._savepoints[index + 1 :]
            return
        del self._savepoints[index:]
        if not self._savepoints and self._began_with_savepoint:
            self._end(commit=True)  # releasing the outermost savepoint is a COMMIT

    def _begin(self, *, by_savepoint: bool) -> None:
        client = self._db.client()
        self._tx = self._db.call(client.transaction)
        self._savepoints = []
        self._began_with_savepoint = by_savepoint

    def _end(self, *, commit: bool) -> None:
        tx = self._tx
        assert tx is not None
        try:
            self._db.call(tx.commit if commit else tx.rollback)
        except RemoteUnavailable as exc:
            self._forget(tx)
            if not commit:
                raise
            raise RemoteUnavailable(
                f"{exc.message}; whether the transaction committed is not known", exc.code
            ) from None
        except SqlError:
            # A COMMIT that failed (a deferred foreign key, say) leaves the
            # transaction open, as in SQLite, unless the client closed it.
            if not commit or tx.closed:
                self._forget(tx)
            raise
        self._forget(tx)

    def _forget(self, tx: TransactionSync) -> None:
        self._tx = None
        self._savepoints = []
        self._began_with_savepoint = False
        try:
            tx.close()
        except Exception as exc:
            log.debug("closing a finished transaction: %s", exc)


def _fold(name: str) -> str:
    # SQLite compares savepoint names ignoring ASCII case only.
    return "".join(c.lower() if c.isascii() else c for c in name)


def _value(value: object, index: int) -> SqlValue:
    checked = check_param(value, index)  # the local rules: int64, bool as 0/1, bytes-likes
    if isinstance(checked, float) and not math.isfinite(checked):
        raise SqlError(
            f"parameter {index + 1} ({checked}) cannot go to a remote database: "
            "Hrana carries only finite floats"
        )
    if isinstance(checked, str):
        try:
            checked.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise SqlError(f"text parameter is not valid Unicode: {exc}") from None
    return checked
