"""The record of trigger runs, shared by the processes of one `edge up`.

A small SQLite file in the state directory (`triggers.sqlite`, WAL mode). The
process that runs the triggers writes each run (when, whether it went well,
how long it took, its error), each skipped or dropped firing, each cron job's
next due time and the state of each Redis subscription; a manual cron run
(`POST /_edge/cron/...`) is written by the worker that ran it. Any worker
reads it to answer `/_edge/triggers`, so the answer is the same whichever
worker the kernel hands the request to. `edge up` empties it when it starts:
the counts are those of the running `edge up`.

A row is one trigger (`redis:<channel>` or `cron:<job>`), component and region
(and for Redis the server's address).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..stores._sqlite import driver

FILE_NAME = "triggers.sqlite"
BUSY_TIMEOUT_SECONDS = 5.0
MAX_ERROR_CHARS = 2000  # of an error kept in the record (the log has it whole)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    trigger TEXT NOT NULL,
    component TEXT NOT NULL,
    region TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    runs INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    dropped INTEGER NOT NULL DEFAULT 0,
    last_at REAL,
    last_ok INTEGER,
    last_seconds REAL,
    last_error TEXT,
    last_failure_at REAL,
    last_failure TEXT,
    last_skipped_at REAL,
    next_at REAL,
    PRIMARY KEY (trigger, component, region, address)
);
CREATE TABLE IF NOT EXISTS subscriptions (
    address TEXT PRIMARY KEY,
    channels TEXT NOT NULL,
    connected INTEGER NOT NULL,
    since REAL,
    reconnects INTEGER NOT NULL,
    last_error TEXT,
    pid INTEGER
);
"""


@dataclass(frozen=True)
class RowKey:
    trigger: str  # redis:<channel> or cron:<job name>
    component: str
    region: str
    address: str = ""  # the Redis server of a redis trigger


class RunRecord:
    """One process's handle on the record; safe to use from several threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = driver.connect(
            self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> RunRecord:
        return cls(Path(state_dir) / FILE_NAME)

    @contextmanager
    def _write(self) -> Iterator[driver.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _row(self, db: driver.Connection, key: RowKey) -> None:
        db.execute(
            "INSERT OR IGNORE INTO runs (trigger, component, region, address) VALUES (?, ?, ?, ?)",
            (key.trigger, key.component, key.region, key.address),
        )

    _WHERE = "WHERE trigger = ? AND component = ? AND region = ? AND address = ?"

    def ran(self, key: RowKey, *, at: float, ok: bool, error: str | None, seconds: float) -> None:
        """One run that started at `at` (Unix time) and took `seconds`."""
        error = None if error is None else error[:MAX_ERROR_CHARS]
        with self._write() as db:
            self._row(db, key)
            db.execute(
                "UPDATE runs SET runs = runs + 1, failures = failures + ?, last_at = ?, "
                "last_ok = ?, last_seconds = ?, last_error = ?, "
                "last_failure_at = CASE WHEN ? THEN last_failure_at ELSE ? END, "
                "last_failure = CASE WHEN ? THEN last_failure ELSE ? END " + self._WHERE,
                (0 if ok else 1, at, int(ok), seconds, error, ok, at, ok, error, *_key(key)),
            )

    def skipped(self, key: RowKey, *, at: float) -> None:
        """A cron firing skipped because the previous one had not finished."""
        with self._write() as db:
            self._row(db, key)
            db.execute(
                "UPDATE runs SET skipped = skipped + 1, last_skipped_at = ? " + self._WHERE,
                (at, *_key(key)),
            )

    def dropped(self, key: RowKey) -> None:
        """A message not run because too much was already waiting."""
        with self._write() as db:
            self._row(db, key)
            db.execute("UPDATE runs SET dropped = dropped + 1 " + self._WHERE, _key(key))

    def next_due(self, key: RowKey, at: float) -> None:
        with self._write() as db:
            self._row(db, key)
            db.execute("UPDATE runs SET next_at = ? " + self._WHERE, (at, *_key(key)))

    def subscription(
        self,
        address: str,
        channels: list[str],
        *,
        connected: bool,
        since: float | None,
        reconnects: int,
        last_error: str | None,
        pid: int,
    ) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO subscriptions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (address, ",".join(channels), int(connected), since, reconnects, last_error, pid),
            )

    def rows(self) -> dict[RowKey, dict[str, Any]]:
        with self._lock:
            cursor = self._db.execute("SELECT * FROM runs")
            names = [d[0] for d in cursor.description]
            found = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
        out = {}
        for row in found:
            key = RowKey(*(row.pop(name) for name in ("trigger", "component", "region", "address")))
            out[key] = _stats(row)
        return out

    def subscriptions(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            cursor = self._db.execute("SELECT * FROM subscriptions")
            names = [d[0] for d in cursor.description]
            found = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
        return {
            row["address"]: {
                "channels": row["channels"].split(",") if row["channels"] else [],
                "connected": bool(row["connected"]),
                "since": row["since"],
                "reconnects": row["reconnects"],
                "last_error": row["last_error"],
                "pid": row["pid"],
            }
            for row in found
        }

    def reset(self) -> None:
        with self._write() as db:
            db.execute("DELETE FROM runs")
            db.execute("DELETE FROM subscriptions")

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _key(key: RowKey) -> tuple[str, str, str, str]:
    return key.trigger, key.component, key.region, key.address


def empty_stats() -> dict[str, Any]:
    """What a trigger's row says before anything happened."""
    return _stats({})


def _stats(row: dict[str, Any]) -> dict[str, Any]:
    last = None
    if row.get("last_at") is not None:
        last = {
            "at": row["last_at"],
            "ok": bool(row["last_ok"]),
            "seconds": row["last_seconds"],
            "error": row["last_error"],
        }
    failure = None
    if row.get("last_failure_at") is not None:
        failure = {"at": row["last_failure_at"], "error": row["last_failure"]}
    return {
        "runs": row.get("runs", 0),
        "failures": row.get("failures", 0),
        "skipped": row.get("skipped", 0),
        "dropped": row.get("dropped", 0),
        "last_run": last,
        "last_failure": failure,
        "last_skipped_at": row.get("last_skipped_at"),
        "next_run": row.get("next_at"),
    }
