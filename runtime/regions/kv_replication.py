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
from ..stores.conflicts import Conflict, Version
from ..stores.events import NO_EVENTS, EventSink, clip, preview
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
        events: EventSink = NO_EVENTS,
    ) -> None:
        self.regions = regions
        self.labels = sorted(set(labels))
        self.network = network
        self.clock = clock
        self.events = events
        self.stats: dict[tuple[str, str, str], LinkStats] = {}
        # (label, src, dst) -> the last seq reported as sent on that link.
        self._sent: dict[tuple[str, str, str], int] = {}

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
                    if self.events is not NO_EVENTS:
                        self._announce(label, src, dst)
                    delivered += self._deliver(label, src, dst, now)
        return delivered

    def _announce(self, label: str, src: str, dst: str) -> None:
        """Report the changes that left `src` for `dst` since the last look (link up)."""
        sender = self.regions[src].kv(label)
        link = (label, src, dst)
        last = sender.last_seq()
        if last <= self._sent.get(link, 0):
            return  # the usual case, in one query: nothing written since
        mark = max(self._sent.get(link, 0), sender.acked(dst))
        if last <= mark:
            self._sent[link] = mark
            return
        for change in sender.changes_since(mark, BATCH):
            self.events.emit("kv.sent", _change_fields(label, src, dst, change))
            mark = change.seq
        self._sent[link] = mark

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
            conflicts: list[Conflict] = []
            applied = receiver.apply(decode_changes(message), conflicts)
            sender.ack(dst, due[-1].seq)
            self._report(label, src, dst, due, conflicts)
            stats = self.stats.setdefault((label, src, dst), LinkStats())
            stats.delivered += len(due)
            stats.applied += applied
            stats.messages += 1
            stats.last_seq = due[-1].seq
            stats.last_delivered_at = now
            total += len(due)
            if len(due) < len(pending) or len(pending) < BATCH:
                return total

    def _report(
        self, label: str, src: str, dst: str, due: list[Change], conflicts: list[Conflict]
    ) -> None:
        if self.events is NO_EVENTS:
            return
        for change in due:
            self.events.emit("kv.applied", _change_fields(label, src, dst, change))
        for conflict in conflicts:
            self.events.emit(
                "kv.conflict",
                {
                    "store": label,
                    "key": clip(conflict.key),
                    "region": conflict.region,
                    "winner": _version(conflict.winner),
                    "loser": _version(conflict.loser),
                },
            )

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


def _change_fields(label: str, src: str, dst: str, change: Change) -> dict[str, Any]:
    op = "delete" if change.tombstone else "set"
    return {"store": label, "key": clip(change.key), "from": src, "to": dst, "op": op}


def _version(version: Version) -> dict[str, Any]:
    # "deleted" is ours, beside the contract's fields: a tombstone has no value.
    return {
        "region": version.region,
        "value": preview(version.value),
        "deleted": version.value is None,
    }
