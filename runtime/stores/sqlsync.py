"""Bringing a region's replica of a SQL database up to date: a copy of the primary's pages.

A sync copies every page of the primary into the replica with SQLite's backup
API in a single step: it reads one consistent snapshot of the primary and
writes it in one transaction of the replica. A replica is therefore always
exactly some state the primary was in, and its readers see the old state or the
new one, never a mix. Copies into one replica can come from several processes
(the writer's worker right after a write, the replicator on its interval); they
take turns under an exclusive lock on a file beside the replica and take their
snapshot under it, so a replica never goes back to an older state.
"""

from __future__ import annotations

import fcntl
import json
import threading
from collections.abc import Callable
from pathlib import Path

from ._sqlite import DEFAULT_BUSY_TIMEOUT, data_version, driver, open_connection
from .layout import StateLayout


class ReplicaSync:
    """Copies the primary region's databases into other regions' replicas."""

    def __init__(
        self,
        layout: StateLayout,
        primary: str,
        clock: Callable[[], float],
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        self.layout = layout
        self.primary = primary
        self._clock = clock
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._sources: dict[str, driver.Connection] = {}
        self._targets: dict[tuple[str, str], driver.Connection] = {}
        # The primary's data version (as our source connection sees it) at the
        # last copy into each replica: equal now means the replica is current.
        self._copied: dict[tuple[str, str], int] = {}

    def sync(self, label: str, region: str, *, force: bool = False) -> bool:
        """Copy the primary into `region`'s replica unless it has not changed since."""
        if region == self.primary:
            return False
        key = (label, region)
        with self._lock:
            source = self._source(label)
            version = data_version(source)
            if not force and self._copied.get(key) == version:
                return False
            with open(self.layout.sql_sync_path(region, label), "a+") as record:
                fcntl.flock(record, fcntl.LOCK_EX)
                version = data_version(source)
                source.backup(self._target(label, region), pages=-1)
                record.seek(0)
                record.truncate()
                json.dump({"synced_at": self._clock(), "primary": self.primary}, record)
                record.flush()
            self._copied[key] = version
        return True

    def synced_at(self, label: str, region: str) -> float | None:
        """When `region`'s replica was last copied from the primary (None: never)."""
        return read_synced_at(self.layout.sql_sync_path(region, label))

    def close(self) -> None:
        with self._lock:
            connections = [*self._sources.values(), *self._targets.values()]
            self._sources.clear()
            self._targets.clear()
            self._copied.clear()
        for conn in connections:
            conn.close()

    def _source(self, label: str) -> driver.Connection:
        conn = self._sources.get(label)
        if conn is None:
            path = self.layout.sql_path(self.primary, label)
            conn = self._sources[label] = open_connection(path, busy_timeout=self._busy_timeout)
        return conn

    def _target(self, label: str, region: str) -> driver.Connection:
        conn = self._targets.get((label, region))
        if conn is None:
            path = self.layout.sql_path(region, label)
            conn = open_connection(path, busy_timeout=self._busy_timeout)
            self._targets[(label, region)] = conn
        return conn


def read_synced_at(path: Path) -> float | None:
    try:
        with open(path) as record:
            fcntl.flock(record, fcntl.LOCK_SH)
            text = record.read()
    except FileNotFoundError:
        return None
    try:
        return float(json.loads(text)["synced_at"])
    except (ValueError, KeyError, TypeError):
        return None
