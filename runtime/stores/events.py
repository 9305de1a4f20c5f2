"""The event log of `edge up`: what happened, in order, shared by all its processes.

Requests (in the workers), replication (in the supervisor) and admin changes
(in whichever worker took them) all go to one SQLite file in the state
directory (`events.sqlite`, WAL mode), so that every worker can serve every
event and the terminal can show them. The table's INTEGER PRIMARY KEY is the
sequence number that the explorer's feed (`/_edge/events`) hands out; SQLite
serialises the writers of all processes, so ids are unique and a reader sees
them as a prefix, never with a hole that fills later. AUTOINCREMENT keeps an
id from being used twice, even after `reset` empties the table, so a page that
reconnects with the last id it saw gets only newer events. Only the newest
KEEP rows are kept.

Emitting must not slow a request: `EventWriter.emit` appends to a list in
memory and a background thread writes what gathered, in one transaction, every
FLUSH_SECONDS. If the disk stalls, at most MAX_PENDING events wait; the ones
after are dropped and counted, and a warning says how many.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ._sqlite import driver, open_connection

log = logging.getLogger("edge.events")

FILE_NAME = "events.sqlite"
KEEP = 10_000
FLUSH_SECONDS = 0.1
MAX_PENDING = 10_000
PREVIEW_BYTES = 256  # of a value (or a key, a path) shown in an event
WRITE_BUSY_SECONDS = 2.0  # a writer waits this long for another process's lock

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    fields TEXT NOT NULL
)
"""

Fields = Mapping[str, Any]


class EventSink(Protocol):
    """Where the runtime's parts report what happened (`kind` and its fields)."""

    def emit(self, kind: str, fields: Fields) -> None: ...


class NoEvents:
    """The sink of parts run without an event log (unit tests, tools)."""

    def emit(self, kind: str, fields: Fields) -> None:
        return None


NO_EVENTS: EventSink = NoEvents()


@dataclass(frozen=True)
class Event:
    id: int
    at: float  # Unix seconds, the host's clock when it was emitted
    kind: str
    fields: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The event as the feed sends it: id, at, kind, then the fields of its kind."""
        return {"id": self.id, "at": self.at, "kind": self.kind, **self.fields}


def preview(value: bytes | None) -> dict[str, Any]:
    """A value as events show it: at most PREVIEW_BYTES, as text when it is UTF-8."""
    if value is None:  # a delete
        return {"text": None, "hex": "", "size": 0}
    data = value
    cut = data[:PREVIEW_BYTES]
    text: str | None
    try:
        text = cut.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A character cut in two by the limit still leaves text; other bytes do not.
        cut_inside = len(data) > PREVIEW_BYTES and exc.reason == "unexpected end of data"
        text = cut[: exc.start].decode("utf-8") if cut_inside else None
    return {"text": text, "hex": cut.hex(), "size": len(data)}


def clip(text: str, limit: int = PREVIEW_BYTES) -> str:
    """`text` cut to at most `limit` bytes of UTF-8 (a key or a path in an event)."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


class EventLog:
    """One connection to the log file; safe to use from several threads."""

    def __init__(self, path: Path, *, keep: int = KEEP, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.keep = keep
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = open_connection(self.path, busy_timeout=busy_timeout)
        self._db.execute(_SCHEMA)

    @classmethod
    def in_state_dir(cls, state_dir: Path, **options: Any) -> EventLog:
        return cls(Path(state_dir) / FILE_NAME, **options)

    def write(self, batch: list[tuple[float, str, str]]) -> None:
        """(at, kind, fields as JSON) rows in one transaction, then the oldest trimmed."""
        if not batch:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO events (at, kind, fields) VALUES (?, ?, ?)", batch
                )
                (last,) = self._db.execute("SELECT max(id) FROM events").fetchone()
                # Ids are consecutive: this keeps the newest `keep` rows.
                self._db.execute("DELETE FROM events WHERE id <= ?", (last - self.keep,))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def after(self, cursor: int, limit: int = 1000) -> list[Event]:
        """Events with id > `cursor`, oldest first, at most `limit`."""
        return self._select(
            "SELECT id, at, kind, fields FROM events WHERE id > ? ORDER BY id LIMIT ?",
            (cursor, limit),
        )

    def recent(self, limit: int) -> list[Event]:
        """The newest `limit` events, oldest first."""
        newest = self._select(
            "SELECT id, at, kind, fields FROM events ORDER BY id DESC LIMIT ?", (limit,)
        )
        return newest[::-1]

    def last_id(self) -> int:
        """The newest id given out (0 if none), kept or since emptied away by `reset`."""
        with self._lock:
            row = self._db.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'events'"
            ).fetchone()
        return 0 if row is None else int(row[0])

    def count(self) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT count(*) FROM events").fetchone()
        return int(n)

    def reset(self) -> None:
        """Forget every event (ids go on from where they were)."""
        with self._lock:
            self._db.execute("DELETE FROM events")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _select(self, sql: str, params: tuple[int, ...]) -> list[Event]:
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [Event(int(i), float(at), kind, json.loads(fields)) for i, at, kind, fields in rows]


def start_afresh(state_dir: Path) -> None:
    """Empty the log for a new `edge up`; a file that is no database is only a log: replaced."""
    path = Path(state_dir) / FILE_NAME
    try:
        events = EventLog(path)
    except driver.DatabaseError as exc:
        log.warning("%s is unreadable (%s): starting a new one", path, exc)
        for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)
        events = EventLog(path)
    try:
        events.reset()
    finally:
        events.close()


class EventWriter:
    """The sink of one process: events gathered in memory, written by a thread of its own."""

    def __init__(
        self,
        path: Path,
        *,
        flush_seconds: float = FLUSH_SECONDS,
        max_pending: int = MAX_PENDING,
        keep: int = KEEP,
    ) -> None:
        self.path = Path(path)
        self.flush_seconds = flush_seconds
        self.max_pending = max_pending
        self.dropped = 0  # events never written: too many waiting, or a failed write
        self.written = 0
        self.batches = 0  # transactions that wrote them
        self._log = EventLog(self.path, keep=keep, busy_timeout=WRITE_BUSY_SECONDS)
        self._pending: deque[tuple[float, str, Fields]] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reported = 0  # of `dropped`, already warned about
        self._thread = threading.Thread(target=self._run, name="edge-events", daemon=True)

    @classmethod
    def in_state_dir(cls, state_dir: Path, **options: Any) -> EventWriter:
        return cls(Path(state_dir) / FILE_NAME, **options)

    def start(self) -> EventWriter:
        self._thread.start()
        return self

    def emit(self, kind: str, fields: Fields) -> None:
        """Queue one event (never blocks on the disk); dropped if too many wait."""
        at = time.time()
        with self._lock:
            if len(self._pending) >= self.max_pending:
                self.dropped += 1
                return
            self._pending.append((at, kind, fields))

    def flush(self) -> int:
        """Write what waits now; how many were written."""
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
        if not batch:
            return 0
        try:
            rows = [
                (at, kind, json.dumps(fields, separators=(",", ":"))) for at, kind, fields in batch
            ]
            self._log.write(rows)
        except (driver.Error, TypeError, ValueError) as exc:
            with self._lock:
                self.dropped += len(batch)
            log.warning("could not write %d events to %s: %s", len(batch), self.path, exc)
            return 0
        self.written += len(batch)
        self.batches += 1
        return len(batch)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()
            self._warn_dropped()

    def _warn_dropped(self) -> None:
        dropped = self.dropped
        if dropped > self._reported:
            log.warning(
                "the event log dropped %d events (%d in all): its disk did not keep up",
                dropped - self._reported,
                dropped,
            )
            self._reported = dropped

    def close(self, timeout: float = 1.0) -> None:
        """Stop the thread and write what is left (unless the disk holds it up)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self.flush()
            self._warn_dropped()
            self._log.close()


class MemoryEvents:
    """An event log in memory, for the Emulator (no processes to share it with)."""

    def __init__(self, keep: int = KEEP, clock: Any = time.time) -> None:
        self._events: deque[Event] = deque(maxlen=keep)
        self._next = 1
        self._clock = clock
        self._lock = threading.Lock()

    def emit(self, kind: str, fields: Fields) -> None:
        with self._lock:
            self._events.append(Event(self._next, self._clock(), kind, dict(fields)))
            self._next += 1

    def events(self, kind: str | None = None) -> list[Event]:
        with self._lock:
            kept = list(self._events)
        return [e for e in kept if kind is None or e.kind == kind]
