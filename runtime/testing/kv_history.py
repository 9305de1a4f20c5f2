"""A recorded history of key-value operations per region, and checkers over it.

The Emulator wraps every store a component opens in a `RecordingKV`, which
appends one `Op` to a shared `History` for each get/set/delete/exists/keys the
guest makes, stamped with the virtual time and the (hlc, origin) of what was
read or written. The checkers then state the guarantees of the design
("Regions and eventual consistency") as properties of that history:

- `read_your_writes`: once a region has written a key, its reads of that key
  return that write or one that wins over it by last-writer-wins;
- `monotonic_reads`: a region's successive reads of a key never go back to a
  write that loses to one it already read;
- `convergence`: after replication settles, every region holds the same rows,
  and each key holds the LWW winner of all recorded writes to it, so no
  acknowledged write was lost.

Each checker returns a list of `Violation`s (empty when the history is fine);
the `assert_*` forms raise AssertionError listing them. The replicator uses the
raw stores, not the proxy, so only what the guests did is recorded.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..stores.changes import unpack_hlc, wins
from ..stores.kv import Entry, KVStore
from .violations import Violation, differing, raise_violations

OpKind = Literal["get", "set", "delete", "exists", "keys"]
READS: frozenset[str] = frozenset({"get", "exists"})
WRITES: frozenset[str] = frozenset({"set", "delete"})


@dataclass(frozen=True)
class Op:
    """One key-value operation as a region's guest made it.

    `value` is the bytes read (None if the key was absent or deleted) or written
    (None for a delete). `hlc`/`origin` identify the write involved: for a write,
    the stamp the store gave it and the writing region; for a read, the stored
    entry's (a tombstone's, if the key was deleted), None if there was no entry.
    `found` says whether a read saw a live value; `keys` is what a `keys` op
    listed (its `key` is None). For a write, `prior_hlc`/`prior_origin` stamp
    the entry it replaced in its region (None if the key had none): what the
    writer knew of the key. `source` says what ran the guest: "http" for a
    request, "redis:<channel>" or "cron:<job>" for a trigger (None if the
    recorder was not told). `index` is the op's position in its History.
    """

    region: str
    time: float
    label: str
    key: str | None
    kind: OpKind
    value: bytes | None = None
    hlc: int | None = None
    origin: str | None = None
    found: bool | None = None
    keys: tuple[str, ...] | None = None
    prior_hlc: int | None = None
    prior_origin: str | None = None
    source: str | None = None
    index: int = -1

    @property
    def is_read(self) -> bool:
        return self.kind in READS

    @property
    def is_write(self) -> bool:
        return self.kind in WRITES

    def __str__(self) -> str:
        return self._describe() + source_suffix(self.source)

    def _describe(self) -> str:
        where = f"#{self.index} t={self.time:.3f}s {self.region} {self.label}"
        if self.kind == "keys":
            return f"{where} keys() -> {list(self.keys or ())}"
        stamp = _fmt_stamp(self.hlc, self.origin)
        if self.kind == "set":
            return f"{where} set({self.key!r}, {_fmt_value(self.value)}) @ {stamp}"
        if self.kind == "delete":
            return f"{where} delete({self.key!r}) @ {stamp}"
        shown = _fmt_value(self.value) if self.kind == "get" else str(self.found)
        return f"{where} {self.kind}({self.key!r}) -> {shown} @ {stamp}"


class History:
    """Ops in the order they happened, across every region (safe to share between threads)."""

    def __init__(self, ops: Sequence[Op] = ()) -> None:
        self._ops: list[Op] = []
        self._lock = threading.Lock()
        for op in ops:
            self.append(op)

    def append(self, op: Op) -> Op:
        """Add `op` at the end; returns it with its `index` set."""
        with self._lock:
            stored = dataclasses.replace(op, index=len(self._ops))
            self._ops.append(stored)
        return stored

    def ops(
        self,
        region: str | None = None,
        key: str | None = None,
        *,
        label: str | None = None,
        kind: str | None = None,
    ) -> list[Op]:
        """The ops in order, optionally only one region's, one key's, one store's or one kind."""
        with self._lock:
            ops = list(self._ops)
        return [
            op
            for op in ops
            if (region is None or op.region == region)
            and (key is None or op.key == key)
            and (label is None or op.label == label)
            and (kind is None or op.kind == kind)
        ]

    def writes(self) -> list[Op]:
        return [op for op in self.ops() if op.is_write]

    def reads(self) -> list[Op]:
        return [op for op in self.ops() if op.is_read]

    def clear(self) -> None:
        with self._lock:
            self._ops.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._ops)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops())


class RecordingKV:
    """A KVStore as one region's guests see it, recording every operation in `history`.

    Same methods as the store the key-value bindings call; anything else
    (entry, digest, closed, ...) is passed through unrecorded. A read is
    followed by `store.entry(key)` to learn the stamp of what was read; the
    Emulator runs guests and replication on one thread, so nothing lands between.
    """

    def __init__(
        self,
        store: KVStore,
        history: History,
        *,
        label: str,
        clock: Callable[[], float],
        region: str | None = None,
        source: str | None = None,
    ) -> None:
        self.store = store
        self.history = history
        self.label = label
        self.region = region if region is not None else store.region
        self.source = source
        self._clock = clock

    def __repr__(self) -> str:
        return f"RecordingKV({self.store!r}, label={self.label!r})"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def _record(self, kind: OpKind, key: str | None, **fields: Any) -> None:
        self.history.append(
            Op(self.region, self._clock(), self.label, key, kind, source=self.source, **fields)
        )

    def _read_stamp(self, key: str) -> dict[str, Any]:
        entry: Entry | None = self.store.entry(key)
        if entry is None:
            return {"hlc": None, "origin": None}
        return {"hlc": entry.hlc, "origin": entry.origin}

    def get(self, key: str) -> bytes | None:
        value = self.store.get(key)
        self._record("get", key, value=value, found=value is not None, **self._read_stamp(key))
        return value

    def exists(self, key: str) -> bool:
        found = self.store.exists(key)
        self._record("exists", key, found=found, **self._read_stamp(key))
        return found

    def keys(self) -> list[str]:
        keys = self.store.keys()
        self._record("keys", None, keys=tuple(keys))
        return keys

    def set(self, key: str, value: bytes | bytearray | memoryview) -> int:
        prior = self._prior(key)
        stamp = self.store.set(key, value)
        self._record("set", key, value=bytes(value), hlc=stamp, origin=self.store.region, **prior)
        return stamp

    def delete(self, key: str) -> int:
        prior = self._prior(key)
        stamp = self.store.delete(key)
        self._record("delete", key, hlc=stamp, origin=self.store.region, **prior)
        return stamp

    def _prior(self, key: str) -> dict[str, Any]:
        entry: Entry | None = self.store.entry(key)
        if entry is None:
            return {}
        return {"prior_hlc": entry.hlc, "prior_origin": entry.origin}


# --- checkers -------------------------------------------------------------------------


def read_your_writes(history: History) -> list[Violation]:
    """Reads of a key in a region after its own write return that write or a later winner."""
    violations: list[Violation] = []
    last_write: dict[tuple[str, str, str | None], Op] = {}
    for op in history.ops():
        slot = (op.label, op.region, op.key)
        if op.is_write:
            last_write[slot] = op
            continue
        written = last_write.get(slot)
        if not op.is_read or written is None:
            continue
        assert written.hlc is not None and written.origin is not None
        problem = None
        if op.hlc is None or op.origin is None:
            problem = "found no entry at all"
        elif wins(written.hlc, written.origin, op.hlc, op.origin):
            problem = f"returned an older write @ {_fmt_stamp(op.hlc, op.origin)}"
        elif (op.hlc, op.origin) == (written.hlc, written.origin):
            problem = _mismatch(op, written)
        if problem is not None:
            violations.append(
                Violation(
                    "read-your-writes",
                    f"in {op.region}, {op.kind}({op.key!r}) at t={op.time:.3f}s {problem}, "
                    f"after the region's own write [{written}]",
                    (written, op),
                )
            )
    return violations


def monotonic_reads(history: History) -> list[Violation]:
    """A region's reads of a key never return a write losing to one it read before."""
    violations: list[Violation] = []
    best: dict[tuple[str, str, str | None], Op] = {}
    for op in history.ops():
        if not op.is_read:
            continue
        slot = (op.label, op.region, op.key)
        before = best.get(slot)
        problem = None
        if before is None or wins(*_stamp(op), *_stamp(before)):
            best[slot] = op
        elif wins(*_stamp(before), *_stamp(op)):
            problem = f"returned {_fmt_read(op)}, older than"
        elif (problem := _mismatch(op, before)) is not None:
            problem += ", unlike"
        if before is not None and problem is not None:
            violations.append(
                Violation(
                    "monotonic-reads",
                    f"in {op.region}, {op.kind}({op.key!r}) at t={op.time:.3f}s {problem} "
                    f"the earlier read [{before}]",
                    (before, op),
                )
            )
    return violations


def _stamp(op: Op) -> tuple[int, str]:
    """An op's (hlc, origin); a read that found no entry sorts below every write."""
    return (-1, "") if op.hlc is None or op.origin is None else (op.hlc, op.origin)


def convergence(history: History, replicas: Mapping[str, Mapping[str, KVStore]]) -> list[Violation]:
    """Replicas agree, and each written key holds the LWW winner of its recorded writes.

    `replicas` maps a store label to that store's replica in each region. Call
    it once replication has settled. A recorded write that is neither the final
    value nor beaten by another recorded write was lost.
    """
    violations: list[Violation] = []
    writes: dict[str, dict[str, list[Op]]] = {}
    for op in history.writes():
        assert op.key is not None
        writes.setdefault(op.label, {}).setdefault(op.key, []).append(op)
    for label in sorted(set(replicas) | set(writes)):
        stores = replicas.get(label)
        if not stores:
            violations.append(
                Violation("convergence", f"store {label!r} was written but has no replicas")
            )
            continue
        groups = differing(
            {region: store.digest() for region, store in stores.items()}, lambda d: d[:12]
        )
        if groups is not None:
            violations.append(
                Violation("convergence", f"store {label!r}: replicas differ ({groups})")
            )
        for key, ops in sorted(writes.get(label, {}).items()):
            winner = ops[0]
            for op in ops[1:]:
                assert op.hlc is not None and op.origin is not None
                assert winner.hlc is not None and winner.origin is not None
                if wins(op.hlc, op.origin, winner.hlc, winner.origin):
                    winner = op
            for region, store in sorted(stores.items()):
                problem = _final_mismatch(store.entry(key), winner)
                if problem is not None:
                    violations.append(
                        Violation(
                            "convergence",
                            f"store {label!r} in {region}: {key!r} {problem}, but the LWW "
                            f"winner of its {len(ops)} recorded write(s) is [{winner}]",
                            (winner,),
                        )
                    )
    return violations


def assert_read_your_writes(history: History) -> None:
    raise_violations("read-your-writes", read_your_writes(history))


def assert_monotonic_reads(history: History) -> None:
    raise_violations("monotonic reads", monotonic_reads(history))


def assert_convergence(history: History, replicas: Mapping[str, Mapping[str, KVStore]]) -> None:
    raise_violations("convergence", convergence(history, replicas))


def _mismatch(read: Op, other: Op) -> str | None:
    """What differs between a read and a write (or read) with the same stamp, if anything."""
    live: bool | None
    if other.kind == "set":
        live, value, value_known = True, other.value, True
    elif other.kind == "delete":
        live, value, value_known = False, None, True
    else:
        live, value, value_known = other.found, other.value, other.kind == "get"
    if read.found is not None and live is not None and read.found != live:
        return f"returned {_fmt_read(read)} for the same stamp"
    if read.kind == "get" and value_known and read.value != value:
        return f"returned {_fmt_read(read)} for the same stamp"
    return None


def _final_mismatch(entry: Entry | None, winner: Op) -> str | None:
    if entry is None:
        return "has no entry"
    shown = f"{_fmt_value(entry.value)} @ {_fmt_stamp(entry.hlc, entry.origin)}"
    if (entry.hlc, entry.origin) != (winner.hlc, winner.origin):
        return f"holds {shown}"
    if entry.tombstone != (winner.kind == "delete") or entry.value != winner.value:
        return f"holds {shown} (same stamp, different value)"
    return None


def _fmt_read(op: Op) -> str:
    shown = _fmt_value(op.value) if op.kind == "get" else f"exists={op.found}"
    return f"{shown} @ {_fmt_stamp(op.hlc, op.origin)}"


def _fmt_stamp(hlc: int | None, origin: str | None) -> str:
    if hlc is None:
        return "(no entry)"
    millis, logical = unpack_hlc(hlc)
    return f"hlc {millis / 1000:.3f}s+{logical} from {origin}"


def source_suffix(source: str | None) -> str:
    """A trigger's name after its ops (a request's ops, the most, go unmarked)."""
    return "" if source in (None, "http") else f" [{source}]"


def _fmt_value(value: bytes | None) -> str:
    if value is None:
        return "None"
    return repr(value if len(value) <= 60 else value[:60] + b"...")
