"""SQL in the Turso model: reads from the region's replica, writes on the primary.

One region holds the primary of every database. A connection opened in another
region reads its own region's replica, which refuses anything that would write
(SQLite's authorizer decides, before the statement runs). Such a statement is
sent to the primary instead, paying the round trip of the latency matrix, and
so is everything after a BEGIN until the transaction ends: a transaction runs
whole on the primary. When the primary is no longer in a transaction the
writer's replica is synced at once, so the region reads its own write; the
other replicas catch up later (runtime.regions.sql_replication).

A region cut off from the primary still reads its replica. A statement for the
primary waits up to the write timeout for the link to come back, then fails
with a clear error; an open transaction is rolled back on the primary, so
nothing half-applied remains.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping

from framework.sql import statement_kind

from ..stores import (
    QueryResult,
    ReplicaSync,
    ReplicaWriteError,
    SqlConnection,
    SqlError,
    SqlParams,
    StatementInterrupted,
    StoreRegistry,
    deadlines,
)
from ..stores.closeable import Closeable
from ..stores.events import NO_EVENTS, EventSink
from ..stores.readonly import WRITE_VERBS
from .clock import Clock
from .network import Network
from .sql_replication import synced_reporting

log = logging.getLogger("edge.sql")

DEFAULT_WRITE_TIMEOUT = 2.0
_LINK_POLL = 0.05  # how often a waiting write looks whether the link is back


class PrimaryUnreachable(SqlError):
    """The primary region could not be reached in time; the statement did not run."""


class SqlRouter:
    """Opens connections that follow the Turso model, for every region of the host."""

    def __init__(
        self,
        regions: Mapping[str, StoreRegistry],
        primary: str,
        *,
        network: Callable[[], Network],
        clock: Clock,
        sync: ReplicaSync,
        write_timeout: float = DEFAULT_WRITE_TIMEOUT,
        events: EventSink = NO_EVENTS,
    ) -> None:
        if primary not in regions:
            raise ValueError(f"primary region {primary!r} is not one of {', '.join(regions)}")
        self.regions = regions
        self.primary = primary
        self.network = network
        self.clock = clock
        self.sync = sync
        self.write_timeout = write_timeout
        self.events = events

    def connect(self, region: str, label: str) -> SqlConnection | RoutedConnection:
        if region == self.primary:
            return self.regions[region].sql(label).connect()
        return RoutedConnection(self, region, label)

    def reach_primary(self, region: str) -> None:
        """Wait for the link to the primary (up to the timeout), then pay the round trip."""
        network = self.network()
        if not network.is_up(region, self.primary):
            deadline = self.clock.now() + self.write_timeout
            while not network.is_up(region, self.primary):
                remaining = deadline - self.clock.now()
                if remaining <= 0:
                    raise PrimaryUnreachable(
                        f"cannot reach the primary region {self.primary} from {region} "
                        f"(partitioned): gave up after {self.write_timeout:g}s; "
                        "the statement was not run",
                        "SQLITE_IOERR",
                    )
                self._check_deadline(region)  # else the write could run after its 504
                self.clock.sleep(min(_LINK_POLL, remaining))
                network = self.network()
        self.clock.sleep(2 * network.latency(region, self.primary))

    def _check_deadline(self, region: str) -> None:
        """StatementInterrupted once the caller's deadline (a request's) has passed."""
        limit = deadlines.current()
        if limit is not None and limit.passed():
            limit.cut = f"a write waiting for the primary region {self.primary}, which was not run"
            raise StatementInterrupted(
                f"interrupted: the statement ran past {limit.what} while {region} waited for "
                f"the primary region {self.primary}; it was not run",
                "SQLITE_INTERRUPT",
            )

    def caught_up(self, label: str, region: str) -> None:
        """Sync the writer's replica so its region reads its own write."""
        try:
            synced_reporting(self.sync, self.events, label, region)
        except Exception:  # the write itself committed; the replica catches up later
            log.exception("could not sync %s's replica of %r after a write", region, label)


class RoutedConnection(Closeable):
    """A guest's connection in a region that is not the primary's."""

    def __init__(self, router: SqlRouter, region: str, label: str) -> None:
        self._router = router
        self.region = region
        self.label = label
        self._local: SqlConnection | None = (
            router.regions[region].sql(label, read_only=True).connect()
        )
        self._primary: SqlConnection | None = None
        self._changes = 0
        self._last_insert_rowid = 0

    @property
    def closed(self) -> bool:
        return self._local is None

    @property
    def in_transaction(self) -> bool:
        return self._primary is not None and self._primary.in_transaction

    def execute(self, sql: str, params: SqlParams = ()) -> QueryResult:
        local = self._local
        if local is None:
            raise SqlError("connection is closed")
        # A statement whose verb writes (WITH looked through) goes straight to
        # the primary: on a replica that has not yet seen a table, `DROP TABLE
        # IF EXISTS` would be a silent no-op and `INSERT` a "no such table". The
        # authorizer catches any write the verb does not show.
        if self.in_transaction or (isinstance(sql, str) and statement_kind(sql) in WRITE_VERBS):
            return self._on_primary(sql, params)
        try:
            result = local.execute(sql, params)
        except ReplicaWriteError:
            return self._on_primary(sql, params)
        # As on one connection: a read reports the values the last write left.
        return dataclasses.replace(
            result, changes=self._changes, last_insert_rowid=self._last_insert_rowid
        )

    def _on_primary(self, sql: str, params: SqlParams) -> QueryResult:
        try:
            self._router.reach_primary(self.region)
        except PrimaryUnreachable as exc:
            if self.in_transaction:
                assert self._primary is not None
                self._primary.execute("ROLLBACK")
                raise PrimaryUnreachable(
                    f"{exc.message}; the open transaction was rolled back", exc.code
                ) from None
            raise
        if self._primary is None:
            self._primary = self._router.regions[self._router.primary].sql(self.label).connect()
        primary = self._primary
        try:
            result = primary.execute(sql, params)
        finally:
            if not primary.in_transaction:
                self._router.caught_up(self.label, self.region)
        # As on one connection: reads do not reset these, writes set them.
        self._changes, self._last_insert_rowid = result.changes, result.last_insert_rowid
        return result

    def last_insert_rowid(self) -> int:
        return self._last_insert_rowid

    def changes(self) -> int:
        return self._changes

    def close(self) -> None:
        """Give both connections back; an open transaction on the primary rolls back."""
        local, self._local = self._local, None
        primary, self._primary = self._primary, None
        if local is not None:
            local.close()
        if primary is not None:
            primary.close()
