"""Replication between regions: the key-value and SQL replicators on one clock.

`Replication` drives both together (the Emulator's virtual clock calls it);
`ReplicationLoop` runs them on the real clock in a thread of `edge up`, with
the network settings that the other processes change re-read before each step.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from ..stores import ReplicaSync, StateLayout, StoreRegistry
from ..stores.events import NO_EVENTS, EventSink
from .clock import RealClock
from .control import ControlFile
from .kv_replication import KVReplicator
from .network import Network
from .sql_replication import SqlReplicator

log = logging.getLogger("edge.replication")


class Replication:
    """The key-value and the SQL replicators, driven together on one clock."""

    def __init__(self, kv: KVReplicator, sql: SqlReplicator) -> None:
        self.kv = kv
        self.sql = sql

    @property
    def network(self) -> Network:
        return self.kv.network

    @network.setter
    def network(self, network: Network) -> None:
        self.kv.network = self.sql.network = network

    def step(self) -> int:
        return self.kv.step() + self.sql.step()

    def next_due(self) -> float | None:
        times = [t for t in (self.kv.next_due(), self.sql.next_due()) if t is not None]
        return min(times, default=None)

    def pending(self) -> int:
        return self.kv.pending() + self.sql.pending()

    def agree(self, label: str) -> bool:
        """Whether every region holds the same data for the store and/or database `label`."""
        if label not in self.kv.labels and label not in self.sql.labels:
            raise KeyError(f"no key-value store or database labelled {label!r}")
        kv = label not in self.kv.labels or self.kv.agree(label)
        return kv and (label not in self.sql.labels or self.sql.agree(label))

    def status(self) -> dict[str, Any]:
        return {**self.kv.status(), **self.sql.status()}


class ReplicationLoop:
    """Runs the replicators on the real clock in a background thread (for `edge up`).

    It opens its own store connections, re-reads the shared network settings
    (partitions, lag) before each step, and sleeps until the next change is due
    (at most POLL seconds, so writes from the serving processes are seen soon).
    """

    POLL = 0.05
    COMPACT_EVERY = 10.0

    def __init__(
        self,
        layout: StateLayout,
        regions: Sequence[str],
        kv_labels: Sequence[str],
        sql_labels: Sequence[str],
        primary: str,
        control: ControlFile,
        events: EventSink = NO_EVENTS,
    ) -> None:
        clock = RealClock()
        registries = {name: StoreRegistry(layout, name, clock=clock.now) for name in regions}
        self.control = control
        network = control.load()
        self._sync = ReplicaSync(layout, primary, clock.now)
        self.replication = Replication(
            KVReplicator(registries, kv_labels, network, clock, events),
            SqlReplicator(registries, sql_labels, primary, network, clock, self._sync, events),
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-replication", daemon=True)
        self._reported_at = 0.0
        self._last_line = ""

    def start(self) -> None:
        self._thread.start()

    def status_line(self) -> str:
        """One line for the terminal: regions, cut links, backlog, agreement."""
        network = self.replication.network
        parts = []
        for name in network.regions:
            mark = " (partitioned)" if network.partitioned(name) else ""
            parts.append(f"{name}{mark}")
        cut = network.cut_names()
        line = "regions: " + ", ".join(parts)
        if cut:
            line += f"; cut: {', '.join(cut)}"
        for store in self.replication.kv.status()["kv"]:
            agree = "agree" if store["replicas_agree"] else "differ"
            backlog = sum(link["backlog"] for link in store["links"])
            line += f"; kv {store['store']}: backlog {backlog}, replicas {agree}"
        for database in self.replication.sql.status()["sql"]:
            behind = [s["region"] for s in database["regions"] if not s["current"]]
            state = f"behind: {', '.join(behind)}" if behind else "replicas agree"
            line += f"; sql {database['database']}: primary {database['primary']}, {state}"
        return line

    def _report(self) -> None:
        # Log the state only when it changes, at most once a second.
        now = time.monotonic()
        if now - self._reported_at < 1.0:
            return
        self._reported_at = now
        line = self.status_line()
        if line != self._last_line:
            self._last_line = line
            log.info("%s", line)

    def _run(self) -> None:
        last_compact = time.monotonic()
        try:
            # Replicas left behind by a previous run catch up before anything else.
            self.replication.sql.catch_up()
        except Exception:
            log.exception("could not sync the SQL replicas at start-up")
        while not self._stop.is_set():
            try:
                self.replication.network = self.control.load()
                self.replication.step()
                self._report()
                if time.monotonic() - last_compact > self.COMPACT_EVERY:
                    self.replication.kv.compact()
                    last_compact = time.monotonic()
                due = self.replication.next_due()
            except Exception:  # keep replicating; the outbox still holds every change
                log.exception("replication step failed")
                due = None
            wait = self.POLL if due is None else min(self.POLL, max(0.0, due - time.time()))
            self._stop.wait(wait)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sync.close()
        for registry in self.replication.kv.regions.values():
            registry.close_all()
