"""Key-value replication between regions: outboxes delivered over the network, LWW.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..stores import StoreRegistry
from ..stores.changes import Change, decode_changes, encode_changes, hlc_millis
from .clock import Clock
from .network import Network

BATCH = 500


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
