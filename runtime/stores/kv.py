"""One region's replica of one key-value store, in one SQLite file.

Every row carries what last-writer-wins replication needs: a hybrid logical
clock stamp (`hlc`), the region that made the write (`origin`), and deletes are
kept as tombstones rather than removed. Each local write is also appended to a
durable outbox in the same transaction, for the replicator to ship to the other
regions, which `apply` it. Every write goes through one LWW rule
(`changes.wins`); a local write is stamped past every stamp the file has seen,
so it always wins where it is made.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ._sqlite import DEFAULT_BUSY_TIMEOUT, data_version, driver, open_connection
from .changes import HLC_MAX, Change, digest_entries, pack_hlc, valid_hlc, wins
from .closeable import Closeable
from .conflicts import Conflict, lost_change
from .limits import MAX_KEY_BYTES, MAX_VALUE_BYTES

# Version 2 added the outbox and the peers' acknowledgements.
SCHEMA_VERSION = 2

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
    # This file's own writes in commit order, until every peer has them.
    # AUTOINCREMENT: a seq is never reused, even after compaction empties it.
    """
    CREATE TABLE IF NOT EXISTS outbox (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        key       TEXT NOT NULL,
        value     BLOB,
        tombstone INTEGER NOT NULL CHECK (tombstone IN (0, 1)),
        hlc       INTEGER NOT NULL,
        origin    TEXT NOT NULL,
        CHECK ((tombstone = 0) = (value IS NOT NULL))
    )
    """,
    # peer region -> highest outbox seq it has applied.
    """
    CREATE TABLE IF NOT EXISTS peers (
        peer  TEXT PRIMARY KEY NOT NULL,
        acked INTEGER NOT NULL
    )
    """,
)

_UPSERT = """
    INSERT INTO entries (key, value, tombstone, hlc, origin) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET
        value = excluded.value, tombstone = excluded.tombstone,
        hlc = excluded.hlc, origin = excluded.origin
"""

# sqlite_sequence keeps the outbox's high-water mark after compaction deletes rows.
_LAST_SEQ = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)"
_LAST_HLC = "SELECT value FROM meta WHERE name = 'hlc'"


class KVError(Exception):
    """A key-value operation failed (bad input, or the SQLite file could not be used)."""


class TooLarge(KVError):
    """A key or value is over its size limit. The message starts with "too large:"."""


class SupportsNow(Protocol):
    """A clock object such as `runtime.regions.clock.VirtualClock`."""

    def now(self) -> float: ...


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


class KVStore(Closeable):
    """get/set/delete/exists/keys over one SQLite file, safe to share between threads.

    Several processes may open the same file; writes take SQLite's write lock
    (waiting up to `busy_timeout` seconds) and are durable once they return.
    `clock` (seconds since the epoch, as a callable or an object with `now()`,
    like the emulator's virtual clock) gives the HLC's physical part.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_key_bytes: int = MAX_KEY_BYTES,
        max_value_bytes: int = MAX_VALUE_BYTES,
        region: str = "local",
        clock: Callable[[], float] | SupportsNow = time.time,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        if max_key_bytes < 0 or max_value_bytes < 0:
            raise ValueError("size limits must not be negative")
        _check_name(region, "origin")
        self.path = Path(path)
        self.max_key_bytes = max_key_bytes
        self.max_value_bytes = max_value_bytes
        self.region = region
        self._clock: Callable[[], float] = clock if callable(clock) else clock.now
        self._lock = threading.Lock()
        self._digest: tuple[tuple[int, int], str] | None = None
        try:
            conn = open_connection(self.path, busy_timeout=busy_timeout)
        except driver.Error as exc:
            raise KVError(f"cannot open key-value store {self.path}: {exc}") from exc
        self._conn: driver.Connection | None = conn
        try:
            self._migrate(conn)
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"KVStore({str(self.path)!r}, region={self.region!r})"

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

    def scan(self, prefix: str = "", contains: str = "", limit: int = 100) -> list[Entry]:
        """Stored rows (tombstones too) whose key starts with `prefix` and holds
        `contains`, in key order, at most `limit` (for inspection)."""
        _check_count(limit, "limit")
        rows = self._all(
            "SELECT key, value, tombstone, hlc, origin FROM entries"
            " WHERE substr(key, 1, ?) = ? AND instr(key, ?) > 0 ORDER BY key LIMIT ?",
            (len(prefix), prefix, contains, limit),
        )
        return [
            Entry(key, None if value is None else bytes(value), bool(tomb), hlc, origin)
            for key, value, tomb, hlc, origin in rows
        ]

    def snapshot(self) -> dict[str, bytes]:
        """Every live key and its value (for tests and inspection)."""
        rows = self._all("SELECT key, value FROM entries WHERE tombstone = 0 ORDER BY key")
        return {key: bytes(value) for key, value in rows}

    def entries_count(self) -> int:
        """Stored rows, tombstones included."""
        return int(self._one("SELECT count(*) FROM entries", ())[0])

    def digest(self) -> str:
        """Hex sha256 of every entry, tombstones included.

        Replicas that have applied the same writes hold the same rows, so they
        have the same digest whatever order the writes arrived in.
        """
        # Hashing every row is costly for big stores and status asks often, so the
        # result is kept until the file changes: another process's commit moves
        # data_version, one of ours moves total_changes.
        with self._lock:
            conn = self._live()
            try:
                before = data_version(conn)
                stamp = (before, conn.total_changes)
                if self._digest is not None and self._digest[0] == stamp:
                    return self._digest[1]
                rows = conn.execute(
                    "SELECT key, tombstone, value, hlc, origin FROM entries ORDER BY key"
                ).fetchall()
                after = data_version(conn)
            except driver.Error as exc:
                raise KVError(f"key-value read failed: {exc}") from exc
        digest = digest_entries(
            (key, bool(tomb), None if value is None else bytes(value), hlc, origin)
            for key, tomb, value, hlc, origin in rows
        )
        if after == before:
            self._digest = (stamp, digest)
        return digest

    def last_hlc(self) -> int:
        """The highest HLC stamp this file has recorded (0 for a fresh store)."""
        row = self._one(_LAST_HLC, ())
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
        """Store `value` under `key`; returns the HLC stamp the write got.

        `hlc`/`origin` are for tests and tools: another region's `origin` makes it a
        remote change (no outbox); an explicit `hlc` that loses LWW changes nothing.
        """
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

    # --- replication ------------------------------------------------------------------

    def changes_since(self, after_seq: int, limit: int = 1000) -> list[Change]:
        """This file's outbox rows with seq > `after_seq`, in seq order, at most `limit`."""
        _check_count(after_seq, "after_seq")
        _check_count(limit, "limit")
        rows = self._all(
            "SELECT seq, key, value, tombstone, hlc, origin FROM outbox"
            " WHERE seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit),
        )
        return [
            Change(seq, key, None if value is None else bytes(value), bool(tomb), hlc, origin)
            for seq, key, value, tomb, hlc, origin in rows
        ]

    def apply(self, changes: Iterable[Change], conflicts: list[Conflict] | None = None) -> int:
        """Apply remote changes in one transaction; returns how many won and were stored.

        A change is stored only if it beats the entry it would replace (idempotent,
        order-independent). No outbox: every region sends its own writes to every peer.
        With `conflicts`, each change that lost to a different value from another
        region is added to it (runtime.stores.conflicts says why that is a conflict).
        """
        batch = list(changes)
        for change in batch:
            if not isinstance(change, Change):
                raise TypeError(f"apply takes Change objects, not {type(change).__name__}")
        if not batch:
            return 0
        applied = 0
        with self._transaction() as conn:
            # HLC receive rule: later local writes must go past what arrived.
            self._advance_clock(conn, max(change.hlc for change in batch))
            for change in batch:
                won = self._put(conn, change.key, change.value, change.hlc, change.origin)
                applied += won
                if not won and conflicts is not None:
                    lost = self._lost(conn, change)
                    if lost is not None:
                        conflicts.append(lost)
        return applied

    def _lost(self, conn: driver.Connection, change: Change) -> Conflict | None:
        """The conflict of a change that lost, if what beat it is another region's other value."""
        row = conn.execute(
            "SELECT origin, value FROM entries WHERE key = ?", (change.key,)
        ).fetchone()
        kept = None if row[1] is None else bytes(row[1])
        if row[0] == change.origin or kept == change.value:
            return None  # a duplicate, or the same value written twice
        return lost_change(self.region, change, row[0], kept)

    def acked(self, peer: str) -> int:
        """The highest seq `peer` has acknowledged (0 if it never did)."""
        _check_name(peer, "peer")
        row = self._one("SELECT acked FROM peers WHERE peer = ?", (peer,))
        return 0 if row is None else int(row[0])

    def ack(self, peer: str, seq: int) -> None:
        """Record that `peer` has applied every change up to `seq`; never moves back."""
        _check_name(peer, "peer")
        _check_count(seq, "seq")
        with self._transaction() as conn:
            # Acking past the end would make the peer skip writes not made yet.
            end = self._last_seq(conn)
            if seq > end:
                raise KVError(f"cannot ack seq {seq}: the outbox ends at {end}")
            conn.execute(
                "INSERT INTO peers (peer, acked) VALUES (?, ?) ON CONFLICT (peer)"
                " DO UPDATE SET acked = max(acked, excluded.acked)",
                (peer, seq),
            )

    def compact(self, peers: Iterable[str]) -> int:
        """Delete outbox rows every one of `peers` has acked (with no peers: all rows)."""
        names = [_check_name(peer, "peer") for peer in peers]
        with self._transaction() as conn:
            if not names:
                return conn.execute("DELETE FROM outbox").rowcount
            floor = min(
                conn.execute(
                    "SELECT coalesce((SELECT acked FROM peers WHERE peer = ?), 0)", (name,)
                ).fetchone()[0]
                for name in names
            )
            return conn.execute("DELETE FROM outbox WHERE seq <= ?", (floor,)).rowcount

    def outbox_len(self) -> int:
        return int(self._one("SELECT count(*) FROM outbox", ())[0])

    def last_seq(self) -> int:
        """The seq of the latest outbox row ever written (0 if none), compacted or not."""
        return int(self._one(_LAST_SEQ, ())[0])

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
        if hlc is not None and not valid_hlc(hlc):
            raise KVError(f"hlc must be an integer in 0..2**63-1, not {hlc!r}")
        writer = self.region if origin is None else _check_name(origin, "origin")
        # IMMEDIATE (in _transaction) takes the write lock up front, so reading
        # the clock, writing the row and its outbox entry are one step even
        # across processes.
        with self._transaction() as conn:
            row = conn.execute(_LAST_HLC).fetchone()
            last = 0 if row is None else int(row[0])
            # HLC rules: a local event goes past everything seen; a stamp
            # given from elsewhere is kept and moves the clock forward.
            stamp = max(self._physical(), last + 1) if hlc is None else hlc
            if stamp > HLC_MAX:
                raise KVError("hybrid logical clock overflow")
            self._advance_clock(conn, stamp)
            won = self._put(conn, key, value, stamp, writer)
            if hlc is None and not won:
                # Every stored stamp is <= last < stamp; losing means the file is corrupt.
                raise KVError(f"local write to {key!r} lost to a stored entry (clock broken)")
            if won and writer == self.region:
                conn.execute(
                    "INSERT INTO outbox (key, value, tombstone, hlc, origin)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (key, value, 1 if value is None else 0, stamp, writer),
                )
        return stamp

    @staticmethod
    def _put(conn: driver.Connection, key: str, value: bytes | None, hlc: int, origin: str) -> bool:
        """Store the write if it beats the current entry (a missing entry always loses)."""
        row = conn.execute("SELECT hlc, origin FROM entries WHERE key = ?", (key,)).fetchone()
        if row is not None and not wins(hlc, origin, row[0], row[1]):
            return False
        conn.execute(_UPSERT, (key, value, 1 if value is None else 0, hlc, origin))
        return True

    @staticmethod
    def _advance_clock(conn: driver.Connection, stamp: int) -> None:
        conn.execute(
            "INSERT INTO meta (name, value) VALUES ('hlc', ?) ON CONFLICT (name)"
            " DO UPDATE SET value = max(value, excluded.value)",
            (stamp,),
        )

    @staticmethod
    def _last_seq(conn: driver.Connection) -> int:
        return int(conn.execute(_LAST_SEQ).fetchone()[0])

    @contextmanager
    def _transaction(self) -> Iterator[driver.Connection]:
        with self._lock:
            conn = self._live()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except driver.Error as exc:
                raise KVError(f"key-value write failed: {exc}") from exc

    def _live(self) -> driver.Connection:
        if self._conn is None:
            raise KVError(f"key-value store {self.path} is closed")
        return self._conn

    # Rows are typed Any: the schema's CHECKs, not Python, guarantee their shape.
    def _one(self, sql: str, params: tuple[object, ...]) -> Any:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _all(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        with self._lock:
            try:
                rows = self._live().execute(sql, params).fetchall()
            except driver.Error as exc:
                raise KVError(f"key-value read failed: {exc}") from exc
        return rows

    def _migrate(self, conn: driver.Connection) -> None:
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
            # Read again under the lock: another process may have migrated meanwhile.
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version < SCHEMA_VERSION:
                for statement in _SCHEMA:
                    conn.execute(statement)
                if version == 1:
                    # A version-1 file had no outbox: queue this region's existing
                    # writes so they still reach the other regions.
                    conn.execute(
                        "INSERT INTO outbox (key, value, tombstone, hlc, origin)"
                        " SELECT key, value, tombstone, hlc, origin FROM entries"
                        " WHERE origin = ? ORDER BY hlc, key",
                        (self.region,),
                    )
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except driver.Error as exc:
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


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not name:
        raise KVError(f"{what} must be a non-empty region name, not {name!r}")
    return name


def _check_count(value: int, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise KVError(f"{what} must be a non-negative integer, not {value!r}")
