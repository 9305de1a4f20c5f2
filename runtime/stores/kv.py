"""One region's replica of one key-value store, in one SQLite file.

Every row carries what last-writer-wins replication needs: a hybrid logical
clock stamp (`hlc`), the region that made the write (`origin`), and deletes are
kept as tombstones rather than removed. Replication itself lives elsewhere;
this module only stamps local writes and keeps the clock monotonic.

HLC stamps are 64-bit integers: milliseconds since the epoch in the high bits,
a 16-bit logical counter in the low bits, so plain integer order is HLC order.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from ._sqlite import DEFAULT_BUSY_TIMEOUT, open_connection
from .limits import MAX_KEY_BYTES, MAX_VALUE_BYTES

SCHEMA_VERSION = 1
HLC_LOGICAL_BITS = 16
HLC_MAX = 2**63 - 1  # stamps are stored as SQLite INTEGER (signed 64-bit)

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS entries (
        key       TEXT PRIMARY KEY NOT NULL,
        value     BLOB,
        tombstone INTEGER NOT NULL DEFAULT 0 CHECK (tombstone IN (0, 1)),
        hlc       INTEGER NOT NULL,
        origin    TEXT NOT NULL,
        CHECK ((tombstone = 0) = (value IS NOT NULL))
    )
    """,
    # name -> integer: 'hlc' is the highest stamp this file has seen, shared by
    # every process that opens it so their stamps never go backwards.
    """
    CREATE TABLE IF NOT EXISTS meta (
        name  TEXT PRIMARY KEY NOT NULL,
        value INTEGER NOT NULL
    )
    """,
)

_UPSERT = """
    INSERT INTO entries (key, value, tombstone, hlc, origin) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET
        value = excluded.value, tombstone = excluded.tombstone,
        hlc = excluded.hlc, origin = excluded.origin
"""


class KVError(Exception):
    """A key-value operation failed (bad input, or the SQLite file could not be used)."""


class TooLarge(KVError):
    """A key or value is over its size limit. The message starts with "too large:"."""


def pack_hlc(millis: int, logical: int = 0) -> int:
    return (millis << HLC_LOGICAL_BITS) | logical


def unpack_hlc(hlc: int) -> tuple[int, int]:
    """(milliseconds since the epoch, logical counter)."""
    return hlc >> HLC_LOGICAL_BITS, hlc & ((1 << HLC_LOGICAL_BITS) - 1)


@dataclass(frozen=True)
class Entry:
    """A raw row: what replication compares and ships (tombstones included)."""

    key: str
    value: bytes | None
    tombstone: bool
    hlc: int
    origin: str


@dataclass(frozen=True)
class KVStats:
    keys: int
    key_bytes: int
    value_bytes: int
    tombstones: int

    @property
    def total_bytes(self) -> int:
        return self.key_bytes + self.value_bytes


class KVStore:
    """get/set/delete/exists/keys over one SQLite file, safe to share between threads.

    Several processes may open the same file; writes take SQLite's write lock
    (waiting up to `busy_timeout` seconds) and are durable once they return.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_key_bytes: int = MAX_KEY_BYTES,
        max_value_bytes: int = MAX_VALUE_BYTES,
        region: str = "local",
        clock: Callable[[], float] = time.time,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        if max_key_bytes < 0 or max_value_bytes < 0:
            raise ValueError("size limits must not be negative")
        _check_origin(region)
        self.path = Path(path)
        self.max_key_bytes = max_key_bytes
        self.max_value_bytes = max_value_bytes
        self.region = region
        self._clock = clock
        self._lock = threading.Lock()
        try:
            conn = open_connection(self.path, busy_timeout=busy_timeout)
        except sqlite3.Error as exc:
            raise KVError(f"cannot open key-value store {self.path}: {exc}") from exc
        self._conn: sqlite3.Connection | None = conn
        try:
            self._migrate(conn)
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"KVStore({str(self.path)!r}, region={self.region!r})"

    def __enter__(self) -> KVStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._conn is None

    # --- reads ------------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        # A key over the limit can never have been stored: no lookup needed, and
        # Spin's `get` has no error to report it with.
        if len(_encode_key(key)) > self.max_key_bytes:
            return None
        row = self._one("SELECT value FROM entries WHERE key = ? AND tombstone = 0", (key,))
        return None if row is None else bytes(row[0])

    def exists(self, key: str) -> bool:
        if len(_encode_key(key)) > self.max_key_bytes:
            return False
        row = self._one("SELECT 1 FROM entries WHERE key = ? AND tombstone = 0", (key,))
        return row is not None

    def keys(self) -> list[str]:
        # SQLite's BINARY collation compares UTF-8 bytes, which orders like str.
        return [r[0] for r in self._all("SELECT key FROM entries WHERE tombstone = 0 ORDER BY key")]

    def entry(self, key: str) -> Entry | None:
        """The stored row for `key`, tombstone or not."""
        row = self._one(
            "SELECT key, value, tombstone, hlc, origin FROM entries WHERE key = ?", (key,)
        )
        if row is None:
            return None
        value = None if row[1] is None else bytes(row[1])
        return Entry(row[0], value, bool(row[2]), row[3], row[4])

    def last_hlc(self) -> int:
        """The highest HLC stamp this file has recorded (0 for a fresh store)."""
        row = self._one("SELECT value FROM meta WHERE name = 'hlc'", ())
        return 0 if row is None else int(row[0])

    def stats(self) -> KVStats:
        live = self._one(
            "SELECT count(*), coalesce(sum(length(CAST(key AS BLOB))), 0),"
            " coalesce(sum(length(value)), 0) FROM entries WHERE tombstone = 0",
            (),
        )
        dead = self._one("SELECT count(*) FROM entries WHERE tombstone = 1", ())
        assert live is not None and dead is not None
        return KVStats(live[0], live[1], live[2], dead[0])

    # --- writes -----------------------------------------------------------------------

    def set(
        self,
        key: str,
        value: bytes | bytearray | memoryview,
        *,
        hlc: int | None = None,
        origin: str | None = None,
    ) -> int:
        """Store `value` under `key`; returns the HLC stamp the write got."""
        self._check_key(key)
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"key-value values are bytes, not {type(value).__name__}")
        data = bytes(value)
        if len(data) > self.max_value_bytes:
            raise TooLarge(
                f"too large: value of {len(data)} bytes exceeds the maximum value size "
                f"of {self.max_value_bytes} bytes (key {key!r})"
            )
        return self._write(key, data, hlc, origin)

    def delete(self, key: str, *, hlc: int | None = None, origin: str | None = None) -> int:
        """Delete `key` (absent or not) by writing a tombstone; returns its HLC stamp.

        The tombstone is written even for a key this replica never saw, because
        another region may hold it and the delete must reach it.
        """
        self._check_key(key)
        return self._write(key, None, hlc, origin)

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # --- internals --------------------------------------------------------------------

    def _check_key(self, key: str) -> None:
        size = len(_encode_key(key))
        if size > self.max_key_bytes:
            shown = key if len(key) <= 40 else key[:40] + "..."
            raise TooLarge(
                f"too large: key of {size} bytes exceeds the maximum key size of "
                f"{self.max_key_bytes} bytes (key {shown!r})"
            )

    def _physical(self) -> int:
        return pack_hlc(int(self._clock() * 1000))

    def _write(self, key: str, value: bytes | None, hlc: int | None, origin: str | None) -> int:
        valid_hlc = isinstance(hlc, int) and not isinstance(hlc, bool) and 0 <= hlc <= HLC_MAX
        if hlc is not None and not valid_hlc:
            raise KVError(f"hlc must be an integer in 0..2**63-1, not {hlc!r}")
        writer = self.region if origin is None else _check_origin(origin)
        with self._lock:
            conn = self._live()
            try:
                # IMMEDIATE takes the write lock up front, so reading the clock
                # and writing the row are one step even across processes.
                conn.execute("BEGIN IMMEDIATE")
                try:
                    row = conn.execute("SELECT value FROM meta WHERE name = 'hlc'").fetchone()
                    last = 0 if row is None else int(row[0])
                    # HLC rules: a local event goes past everything seen; a stamp
                    # given from elsewhere is kept and moves the clock forward.
                    stamp = max(self._physical(), last + 1) if hlc is None else hlc
                    if stamp > HLC_MAX:
                        raise KVError("hybrid logical clock overflow")
                    conn.execute(
                        "INSERT INTO meta (name, value) VALUES ('hlc', ?) ON CONFLICT (name)"
                        " DO UPDATE SET value = max(value, excluded.value)",
                        (stamp,),
                    )
                    tombstone = 1 if value is None else 0
                    conn.execute(_UPSERT, (key, value, tombstone, stamp, writer))
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise KVError(f"key-value write failed: {exc}") from exc
        return stamp

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise KVError(f"key-value store {self.path} is closed")
        return self._conn

    # Rows are typed Any: the schema's CHECKs, not Python, guarantee their shape.
    def _one(self, sql: str, params: tuple[object, ...]) -> Any:
        with self._lock:
            try:
                row = self._live().execute(sql, params).fetchone()
            except sqlite3.Error as exc:
                raise KVError(f"key-value read failed: {exc}") from exc
        return row

    def _all(self, sql: str) -> list[Any]:
        with self._lock:
            try:
                rows = self._live().execute(sql).fetchall()
            except sqlite3.Error as exc:
                raise KVError(f"key-value read failed: {exc}") from exc
        return rows

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise KVError(
                f"key-value store schema version {version} is newer than this runtime "
                f"understands ({SCHEMA_VERSION})"
            )
        if version == SCHEMA_VERSION:
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise KVError(f"cannot create the key-value schema: {exc}") from exc


def _encode_key(key: str) -> bytes:
    if not isinstance(key, str):
        raise TypeError(f"key-value keys are str, not {type(key).__name__}")
    try:
        return key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise KVError(f"key is not valid Unicode text: {exc}") from None


def _check_origin(origin: str) -> str:
    if not isinstance(origin, str) or not origin:
        raise KVError(f"origin must be a non-empty region name, not {origin!r}")
    return origin
