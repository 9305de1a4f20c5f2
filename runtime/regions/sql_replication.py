"""SQL replication in the Turso model: replicas catch up with the primary after the lag.

Writes run on the primary (runtime.regions.sql_routing). The replicator notices that
the primary changed (SQLite's data version moves on every commit, whichever
process made it) and brings each other region's replica up to the primary
once that region's link lag has passed since the change, with the pages of
the transactions the primary committed since (runtime.stores.sqlsync). A
replica therefore jumps from one exact state of the primary to a later one:
reads in a region may be stale but never go back in time. A partitioned replica waits
until its link comes back, like a key-value change.

Like the key-value replicator, `step()` does what is due at the clock's time
and `next_due()` says when something next will be, for the virtual clock of the
tests and for the loop of `edge up` alike.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..stores import ReplicaSync, StoreRegistry
from ..stores.events import NO_EVENTS, EventSink
from ..stores.sqlsync import read_synced_at
from .clock import Clock
from .network import Network


class SqlReplicator:
    def __init__(
        self,
        regions: Mapping[str, StoreRegistry],
        labels: Sequence[str],
        primary: str,
        network: Network,
        clock: Clock,
        sync: ReplicaSync,
        events: EventSink = NO_EVENTS,
    ) -> None:
        self.regions = regions
        self.events = events
        self.labels = sorted(set(labels))
        self.primary = primary
        self.network = network
        self.clock = clock
        self.sync = sync
        self.replicas = [name for name in regions if name != primary]
        # The primary's data version when last looked at, per database.
        self._seen = {label: self._version(label) for label in self.labels}
        # (label, region) -> when the replica first fell behind the primary.
        self._behind: dict[tuple[str, str], float] = {}
        # Syncs done per replica: the sequence number that seeds its jitter.
        self._rounds: dict[tuple[str, str], int] = {}

    def _version(self, label: str) -> int:
        return self.regions[self.primary].sql(label).data_version()

    def poll(self) -> None:
        """Note which databases the primary changed since the last look."""
        now = self.clock.now()
        for label in self.labels:
            version = self._version(label)
            if version != self._seen[label]:
                self._seen[label] = version
                for region in self.replicas:
                    self._behind.setdefault((label, region), now)

    def catch_up(self) -> int:
        """Sync every reachable replica now (at start-up: a restart may have left them behind)."""
        synced = 0
        for label in self.labels:
            for region in self.replicas:
                if self.network.is_up(self.primary, region):
                    synced += self._sync(label, region)
                    self._behind.pop((label, region), None)
        return synced

    def _sync(self, label: str, region: str) -> bool:
        return synced_reporting(self.sync, self.events, label, region)

    def _due(self, label: str, region: str, since: float) -> float:
        seq = self._rounds.get((label, region), 0)
        return self.network.delivery_time(self.primary, region, since, seq)

    def step(self) -> int:
        """Sync every replica whose lag has passed; returns how many were synced."""
        self.poll()
        now = self.clock.now()
        synced = 0
        for (label, region), since in sorted(self._behind.items()):
            if not self.network.is_up(self.primary, region):
                continue
            if self._due(label, region, since) <= now:
                self._sync(label, region)
                del self._behind[(label, region)]
                self._rounds[(label, region)] = self._rounds.get((label, region), 0) + 1
                synced += 1
        return synced

    def next_due(self) -> float | None:
        """When the next replica may be synced, over a link that is up."""
        times = [
            self._due(label, region, since)
            for (label, region), since in self._behind.items()
            if self.network.is_up(self.primary, region)
        ]
        return min(times, default=None)

    def pending(self) -> int:
        """Replicas known to be behind the primary, partitioned or not."""
        return len(self._behind)

    def agree(self, label: str) -> bool:
        return all(replicas_current(self.regions, label, self.primary).values())

    def status(self) -> dict[str, Any]:
        return {"sql": sql_status(self.regions, self.labels, self.primary, self.network)}


def synced_reporting(sync: ReplicaSync, events: EventSink, label: str, region: str) -> bool:
    """`sync.sync(label, region)`, with a `sql.synced` event if it wrote any page."""
    started = time.perf_counter()
    if not sync.sync(label, region):
        return False
    report = sync.last
    if report is not None and report.pages_written:
        ms = (time.perf_counter() - started) * 1000
        events.emit(
            "sql.synced",
            {
                "database": label,
                "region": region,
                "pages": report.pages_written,
                "ms": round(ms, 3),
            },
        )
    return True


def replicas_current(
    regions: Mapping[str, StoreRegistry], label: str, primary: str
) -> dict[str, bool]:
    """Replica region -> whether its copy equals the primary (page digests, cached)."""
    primary_digest = regions[primary].sql(label).content_digest()
    return {
        name: registry.sql(label, read_only=True).content_digest() == primary_digest
        for name, registry in regions.items()
        if name != primary
    }


def sql_status(
    regions: Mapping[str, StoreRegistry],
    labels: Sequence[str],
    primary: str,
    network: Network,
) -> list[dict[str, Any]]:
    """Per database and region: role, whether the replica equals the primary, last sync.

    Read from the files, so any process can answer (the replicator may run in another).
    """
    databases = []
    for label in labels:
        current = replicas_current(regions, label, primary)
        states: list[dict[str, Any]] = []
        for name, registry in regions.items():
            if name == primary:
                states.append({"region": name, "role": "primary", "current": True})
                continue
            states.append(
                {
                    "region": name,
                    "role": "replica",
                    "current": current[name],
                    "synced_at": read_synced_at(registry.layout.sql_sync_path(name, label)),
                    "lag_ms": round(network.replication_lag(primary, name) * 1000, 3),
                    "latency_ms": round(network.latency(primary, name) * 1000, 3),
                    "partitioned": not network.is_up(primary, name),
                }
            )
        databases.append(
            {
                "database": label,
                "primary": primary,
                "replicas_agree": all(s["current"] for s in states),
                "regions": states,
            }
        )
    return databases
