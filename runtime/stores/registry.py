"""The stores of one region, opened on first use and shared by label."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ._sqlite import DEFAULT_BUSY_TIMEOUT
from .kv import KVStore
from .layout import StateLayout, check_name
from .limits import MAX_KEY_BYTES, MAX_VALUE_BYTES
from .sql import SqlDatabase


class StoreRegistry:
    """Opens and caches one region's `KVStore`s and `SqlDatabase`s by label.

    The host asks for a store by label on every request; opening a SQLite file
    each time would dominate the request, so objects are kept until
    `close_all()`. Safe to call from several threads.
    """

    def __init__(
        self,
        layout: StateLayout,
        region: str,
        *,
        max_key_bytes: int = MAX_KEY_BYTES,
        max_value_bytes: int = MAX_VALUE_BYTES,
        clock: Callable[[], float] = time.time,
        sql_pool_size: int = 4,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        self.layout = layout
        self.region = check_name(region, "region name")
        self.max_key_bytes = max_key_bytes
        self.max_value_bytes = max_value_bytes
        self._clock = clock
        self._sql_pool_size = sql_pool_size
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._kv: dict[str, KVStore] = {}
        self._sql: dict[tuple[str, bool], SqlDatabase] = {}

    def __repr__(self) -> str:
        return f"StoreRegistry({self.layout!r}, {self.region!r})"

    def kv(self, label: str) -> KVStore:
        with self._lock:
            store = self._kv.get(label)
            # Whoever held a handle may have closed the shared object; a closed
            # store is reopened rather than handed out broken.
            if store is None or store.closed:
                store = KVStore(
                    self.layout.kv_path(self.region, label),
                    max_key_bytes=self.max_key_bytes,
                    max_value_bytes=self.max_value_bytes,
                    region=self.region,
                    clock=self._clock,
                    busy_timeout=self._busy_timeout,
                )
                self._kv[label] = store
            return store

    def sql(self, label: str, *, read_only: bool = False) -> SqlDatabase:
        """The region's copy of a database; `read_only` refuses writes (a replica)."""
        with self._lock:
            db = self._sql.get((label, read_only))
            if db is None or db.closed:
                db = SqlDatabase(
                    self.layout.sql_path(self.region, label),
                    pool_size=self._sql_pool_size,
                    busy_timeout=self._busy_timeout,
                    read_only=read_only,
                )
                self._sql[(label, read_only)] = db
            return db

    def open_kv_labels(self) -> list[str]:
        with self._lock:
            return sorted(label for label, s in self._kv.items() if not s.closed)

    def open_sql_labels(self) -> list[str]:
        with self._lock:
            return sorted({label for (label, _), db in self._sql.items() if not db.closed})

    def close_all(self) -> None:
        with self._lock:
            kv, self._kv = list(self._kv.values()), {}
            sql, self._sql = list(self._sql.values()), {}
        for store in kv:
            store.close()
        for db in sql:
            db.close()
