"""A small cluster of regions for SQL routing tests (stores, router, replicator; no wasm)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from runtime.regions.clock import VirtualClock
from runtime.regions.network import Network
from runtime.regions.sql_replication import SqlReplicator
from runtime.regions.sql_routing import SqlRouter
from runtime.stores import ReplicaSync, StateLayout, StoreRegistry

REGIONS = ["us-east", "eu-west", "ap-south"]


class Cluster:
    """Regions' stores on a virtual clock, a router and a replicator: the Turso model, no wasm."""

    def __init__(self, root: Path, regions: Sequence[str] = REGIONS) -> None:
        self.clock = VirtualClock()
        self.layout = StateLayout(root)
        self.network = Network(list(regions), lag=1.0, jitter=0.0)
        self.registries = {
            name: StoreRegistry(self.layout, name, clock=self.clock.now) for name in regions
        }
        self.sync = ReplicaSync(self.layout, "us-east", self.clock.now)
        self.router = SqlRouter(
            self.registries,
            "us-east",
            network=lambda: self.network,
            clock=self.clock,
            sync=self.sync,
            write_timeout=2.0,
        )
        self.replicator = SqlReplicator(
            self.registries, ["default"], "us-east", self.network, self.clock, self.sync
        )

    def run(self, region: str, sql: str, params: tuple = ()) -> list[tuple]:
        with self.router.connect(region, "default") as conn:
            return conn.execute(sql, params).rows

    def close(self) -> None:
        self.sync.close()
        for registry in self.registries.values():
            registry.close_all()
