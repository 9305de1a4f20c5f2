"""A recorded history of SQL statements per region, and checkers over it.

The key-value history (kv_history) can compare stamps; SQL has none, so
this one compares database states. The primary's committed states are numbered
in the order they appear (by a digest of their pages, equal for a replica
synced to that state), and every statement a guest runs is recorded with the
number of the state its region's copy was in right after it: for a read, the
state it read; for a write, the state the region caught up to once it was
acknowledged. Statements inside a transaction run on the primary's uncommitted
state and get no number; the statement that ends the transaction does.

The guarantees of the Turso model then read:

- `sql_read_your_writes`: after a statement that committed a change in a
  region, that region never sees a state older than the one it made;
- `sql_monotonic_reads`: a region's states never go back, and every state a
  region sees is one the primary had (a replica is an exact earlier state);
- `sql_convergence`: once replication settles, every region's copy equals the
  primary, in its last recorded state.

The Emulator runs guests and replication on one thread, so nothing lands
between a statement and the digests taken after it.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..stores import QueryResult, SqlDatabase, SqlError, SqlParams
from .kv_history import source_suffix
from .violations import Violation, differing, raise_violations


class _Connection(Protocol):
    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, params: SqlParams = ()) -> QueryResult: ...


@dataclass(frozen=True)
class SqlOp:
    """One statement as a region's guest ran it.

    `state` numbers the primary state the region's copy held just after the
    statement (None inside a transaction, or if the copy held a state the
    primary never had: then `unknown` is True). `made` numbers the primary
    state the statement committed, if it changed the primary. `error` is the
    message of a statement that failed. `source` is what ran the guest, as
    for key-value ops: "http", "redis:<channel>", "cron:<job>".
    """

    region: str
    time: float
    label: str
    sql: str
    state: int | None
    made: int | None = None
    unknown: bool = False
    error: str | None = None
    source: str | None = None
    index: int = -1

    @property
    def wrote(self) -> bool:
        return self.made is not None

    def __str__(self) -> str:
        return self._describe() + source_suffix(self.source)

    def _describe(self) -> str:
        text = " ".join(self.sql.split())
        shown = text if len(text) <= 60 else text[:57] + "..."
        where = f"#{self.index} t={self.time:.3f}s {self.region} {self.label} {shown!r}"
        if self.error is not None:
            where += f" failed ({self.error[:60]})"
        if self.unknown:
            return f"{where} saw a state the primary never had"
        if self.state is None:
            return f"{where} (in a transaction)"
        made = f", made state {self.made}" if self.made is not None else ""
        return f"{where} saw state {self.state}{made}"


class SqlHistory:
    """Statements in the order they ran, and the primary's states (thread-safe)."""

    def __init__(self) -> None:
        self._ops: list[SqlOp] = []
        self._states: dict[str, list[str]] = {}  # label -> digests, oldest first
        self._numbers: dict[str, dict[str, list[int]]] = {}  # label -> digest -> its numbers
        self._newest: dict[tuple[str, str], int] = {}  # (region, label) -> newest state seen
        self._lock = threading.Lock()

    def observe(self, label: str, digest: str) -> int:
        """Note the primary's current state; returns its number."""
        with self._lock:
            states = self._states.setdefault(label, [])
            if not states or states[-1] != digest:
                self._numbers.setdefault(label, {}).setdefault(digest, []).append(len(states))
                states.append(digest)
            return len(states) - 1

    def resolve(self, label: str, digest: str, floor: int) -> int | None:
        """The number of a state by digest: the first at or after `floor`, else the latest."""
        with self._lock:
            numbers = list(self._numbers.get(label, {}).get(digest, ()))
        if not numbers:
            return None
        return next((n for n in numbers if n >= floor), numbers[-1])

    def states(self, label: str) -> list[str]:
        with self._lock:
            return list(self._states.get(label, ()))

    def append(self, op: SqlOp) -> SqlOp:
        with self._lock:
            stored = dataclasses.replace(op, index=len(self._ops))
            self._ops.append(stored)
            if op.state is not None:
                slot = (op.region, op.label)
                self._newest[slot] = max(op.state, self._newest.get(slot, -1))
        return stored

    def ops(self, region: str | None = None, *, label: str | None = None) -> list[SqlOp]:
        with self._lock:
            ops = list(self._ops)
        return [
            op
            for op in ops
            if (region is None or op.region == region) and (label is None or op.label == label)
        ]

    def last_state(self, region: str, label: str) -> int:
        """The newest state `region` has seen of `label` (-1: none yet)."""
        with self._lock:
            return self._newest.get((region, label), -1)

    def clear(self) -> None:
        with self._lock:
            self._ops.clear()
            self._states.clear()
            self._numbers.clear()
            self._newest.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._ops)


class RecordingSql:
    """A guest's SQL connection in one region, recording every statement in `history`.

    `local` is the region's copy of the database (the primary itself in the
    primary region), `primary` the primary's. Anything but `execute` passes
    through unrecorded.
    """

    def __init__(
        self,
        conn: _Connection,
        history: SqlHistory,
        *,
        region: str,
        label: str,
        local: SqlDatabase,
        primary: SqlDatabase,
        clock: Callable[[], float],
        source: str | None = None,
    ) -> None:
        self.conn = conn
        self.history = history
        self.region = region
        self.label = label
        self.source = source
        self._local = local
        self._primary = primary
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)

    def execute(self, sql: str, params: SqlParams = ()) -> QueryResult:
        before = self.history.observe(self.label, self._primary.content_digest())
        error: SqlError | None = None
        try:
            result = self.conn.execute(sql, params)
        except SqlError as exc:
            error = exc
        self._record(sql, before, error)
        if error is not None:
            raise error
        return result

    def _record(self, sql: str, before: int, error: SqlError | None) -> None:
        after = self.history.observe(self.label, self._primary.content_digest())
        op = SqlOp(
            self.region,
            self._clock(),
            self.label,
            sql if isinstance(sql, str) else repr(sql),
            None,
            error=None if error is None else error.message,
            source=self.source,
        )
        if not self.conn.in_transaction:
            floor = self.history.last_state(self.region, self.label)
            state = self.history.resolve(self.label, self._local.content_digest(), floor)
            made = after if after != before else None
            op = dataclasses.replace(op, state=state, made=made, unknown=state is None)
        self.history.append(op)


# --- checkers -------------------------------------------------------------------------


def sql_read_your_writes(history: SqlHistory) -> list[Violation]:
    """After a region commits a change, it never sees a state older than the one it made.

    That starts with the committing statement itself: the region's copy must
    hold the new state by the time the write is acknowledged.
    """
    violations: list[Violation] = []
    writes: dict[tuple[str, str], SqlOp] = {}
    for op in history.ops():
        slot = (op.label, op.region)
        if op.made is not None:
            writes[slot] = op
        written = writes.get(slot)
        if op.state is None or written is None or written.made is None:
            continue
        if op.state < written.made:
            own = "its own write" if written is op else f"the region's own write [{written}]"
            violations.append(
                Violation(
                    "read-your-writes",
                    f"in {op.region}, [{op}] is older than {own}",
                    (written, op),
                )
            )
    return violations


def sql_monotonic_reads(history: SqlHistory) -> list[Violation]:
    """A region's states never go back, and each is a state the primary had."""
    violations: list[Violation] = []
    newest: dict[tuple[str, str], SqlOp] = {}
    for op in history.ops():
        if op.unknown:
            violations.append(
                Violation(
                    "exact-state",
                    f"in {op.region}, [{op}]: a replica must be an earlier state of the primary",
                    (op,),
                )
            )
            continue
        if op.state is None:
            continue
        slot = (op.label, op.region)
        before = newest.get(slot)
        if before is not None and before.state is not None and op.state < before.state:
            violations.append(
                Violation(
                    "monotonic-reads",
                    f"in {op.region}, [{op}] went back from the earlier [{before}]",
                    (before, op),
                )
            )
        else:
            newest[slot] = op
    return violations


def sql_convergence(
    history: SqlHistory, replicas: Mapping[str, Mapping[str, SqlDatabase]]
) -> list[Violation]:
    """Every region's copy equals the primary's last recorded state (call once settled).

    `replicas` maps a database label to its copy in each region.
    """
    violations: list[Violation] = []
    for label, copies in sorted(replicas.items()):
        states = history.states(label)
        digests = {region: db.content_digest() for region, db in copies.items()}
        groups = differing(digests, functools.partial(_state_name, states=states))
        if groups is not None:
            violations.append(
                Violation("convergence", f"database {label!r}: copies differ ({groups})")
            )
        elif states and digests and next(iter(digests.values())) != states[-1]:
            shown = _state_name(next(iter(digests.values())), states)
            violations.append(
                Violation(
                    "convergence",
                    f"database {label!r}: every copy holds {shown}, "
                    f"not the last recorded state {len(states) - 1}",
                )
            )
    return violations


def assert_sql_read_your_writes(history: SqlHistory) -> None:
    raise_violations("read-your-writes", sql_read_your_writes(history))


def assert_sql_monotonic_reads(history: SqlHistory) -> None:
    raise_violations("monotonic reads", sql_monotonic_reads(history))


def assert_sql_convergence(
    history: SqlHistory, replicas: Mapping[str, Mapping[str, SqlDatabase]]
) -> None:
    raise_violations("convergence", sql_convergence(history, replicas))


def _state_name(digest: str, states: list[str]) -> str:
    numbers = [n for n, d in enumerate(states) if d == digest]
    return f"state {numbers[-1]}" if numbers else f"an unrecorded state {digest[:12]}"
