"""Replication between regions: key-value outboxes with LWW, and the loop of `edge up`.

Every region writes locally and records each write in its store's outbox, in
the same SQLite transaction. The replicator delivers each region's outbox to
every other region over the emulated network: a change leaves when it is
written (or when its link comes back up), arrives after the link's lag plus a
seeded jitter, in order per link, and is applied last-writer-wins. Delivery is
acknowledged in the sender's file only after the receiver has applied it, and
applying is idempotent, so a crash anywhere loses nothing and duplicates
nothing.

`step()` does what is due at the clock's current time; `next_due()` says when
something will next be due. The virtual clock of the tests drives both exactly;
`edge up` calls them from a loop on the real clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .clock import Clock, RealClock
from .control import ControlFile
from .network import Network
from .sql_replication import SqlReplicator
from .stores import ReplicaSync, StateLayout, StoreRegistry
from .stores.changes import Change, decode_changes, encode_changes, hlc_millis

BATCH = 500

log = logging.getLogger("edge.replication")


@dataclass
class LinkStats:
    delivered: int = 0
    applied: int = 0
    messages: int = 0
    last_seq: int = 0
    last_delivered_at: float | None = None


class KVReplicator:
    def __init__(
        self,
        regions: Mapping[str, StoreRegistry],
        labels: Sequence[str],
        network: Network,
        clock: Clock,
    ) -> None:
        self.regions = regions
        self.labels = sorted(set(labels))
        self.network = network
        self.clock = clock
        self.stats: dict[tuple[str, str, str], LinkStats] = {}

    def _pairs(self) -> list[tuple[str, str]]:
        names = list(self.regions)
        return [(src, dst) for src in names for dst in names if src != dst]

    def _due(self, src: str, dst: str, change: Change) -> float:
        written_at = hlc_millis(change.hlc) / 1000
        return self.network.delivery_time(src, dst, written_at, change.seq)

    def step(self) -> int:
        """Deliver every change that is due now; returns how many were delivered."""
        now = self.clock.now()
        delivered = 0
        for label in self.labels:
            for src, dst in self._pairs():
                if self.network.is_up(src, dst):
                    delivered += self._deliver(label, src, dst, now)
        return delivered

    def _deliver(self, label: str, src: str, dst: str, now: float) -> int:
        sender = self.regions[src].kv(label)
        receiver = self.regions[dst].kv(label)
        total = 0
        while True:
            acked = sender.acked(dst)
            # Look at the oldest change first: with a long lag it is usually not
            # due, and reading a whole batch on every poll would be wasted.
            head = sender.changes_since(acked, 1)
            if not head or self._due(src, dst, head[0]) > now:
                return total
            pending = sender.changes_since(acked, BATCH)
            # In order per link: a change never overtakes an earlier one.
            due: list[Change] = []
            for change in pending:
                if self._due(src, dst, change) > now:
                    break
                due.append(change)
            if not due:
                return total
            message = encode_changes(due)  # what crosses the emulated wire
            applied = receiver.apply(decode_changes(message))
            sender.ack(dst, due[-1].seq)
            stats = self.stats.setdefault((label, src, dst), LinkStats())
            stats.delivered += len(due)
            stats.applied += applied
            stats.messages += 1
            stats.last_seq = due[-1].seq
            stats.last_delivered_at = now
            total += len(due)
            if len(due) < len(pending) or len(pending) < BATCH:
                return total

    def next_due(self) -> float | None:
        """The earliest time a pending change can be delivered over an up link."""
        earliest: float | None = None
        for label in self.labels:
            for src, dst in self._pairs():
                if not self.network.is_up(src, dst):
                    continue
                sender = self.regions[src].kv(label)
                head = sender.changes_since(sender.acked(dst), 1)
                if head:
                    when = self._due(src, dst, head[0])
                    earliest = when if earliest is None else min(earliest, when)
        return earliest

    def backlog(self, label: str, src: str, dst: str) -> int:
        sender = self.regions[src].kv(label)
        return sender.last_seq() - sender.acked(dst)

    def pending(self) -> int:
        """Changes not yet delivered on any link, partitioned or not."""
        return sum(
            self.backlog(label, src, dst) for label in self.labels for src, dst in self._pairs()
        )

    def agree(self, label: str) -> bool:
        return len({registry.kv(label).digest() for registry in self.regions.values()}) == 1

    def compact(self) -> int:
        """Drop outbox rows every peer has acknowledged."""
        removed = 0
        for label in self.labels:
            for name, registry in self.regions.items():
                peers = [other for other in self.regions if other != name]
                removed += registry.kv(label).compact(peers)
        return removed

    def status(self) -> dict[str, Any]:
        """Per store and link: backlog, last applied change, and whether replicas agree."""
        stores = []
        for label in self.labels:
            links = []
            for src, dst in self._pairs():
                # Read from the stores, not from this object's counters: the
                # replicator that delivers may run in another process.
                sender = self.regions[src].kv(label)
                acked = sender.acked(dst)
                links.append(
                    {
                        "from": src,
                        "to": dst,
                        "backlog": sender.last_seq() - acked,
                        "last_applied_seq": acked,
                        "partitioned": not self.network.is_up(src, dst),
                    }
                )
            stores.append({"store": label, "replicas_agree": self.agree(label), "links": links})
        return {"kv": stores}


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
    ) -> None:
        clock = RealClock()
        registries = {name: StoreRegistry(layout, name, clock=clock.now) for name in regions}
        self.control = control
        network = control.load()
        self._sync = ReplicaSync(layout, primary, clock.now)
        self.replication = Replication(
            KVReplicator(registries, kv_labels, network, clock),
            SqlReplicator(registries, sql_labels, primary, network, clock, self._sync),
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
