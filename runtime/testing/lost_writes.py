"""Acknowledged key-value writes that last-writer-wins silently threw away.

Every region takes writes locally, so two regions can write a key at once,
each unaware of the other; after replication only the LWW winner is left. The
loser was acknowledged to its guest, and nothing that came after it ever knew
of it: its write is lost without a trace (two "create" requests handed the
same id, for instance, leave one object).

Each recorded write knows the entry it replaced in its region (`Op.prior_*`),
so the writes the final value descends from are a chain: the winner, the
write it replaced, the one that one replaced, and so on. A write of the key
that is not on that chain, and that no other write replaced knowingly, was
overwritten by a write that had not seen it.
SQL writes are not checked: they all run on one primary, in one order.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..stores.changes import wins
from .kv_history import History, Op
from .violations import Violation, raise_violations

Stamp = tuple[int, str]


def lost_writes(history: History) -> list[Violation]:
    """Each recorded write that no later write knew of and that lost by LWW."""
    by_key: dict[tuple[str, str], list[Op]] = {}
    for op in history.writes():
        assert op.key is not None
        by_key.setdefault((op.label, op.key), []).append(op)
    violations = []
    for writes in by_key.values():
        chain = _ancestry(writes)
        kept = {_stamp(op) for op in chain}
        known = {(op.prior_hlc, op.prior_origin) for op in writes}  # what later writes saw
        for lost in writes:
            if _stamp(lost) in kept or _stamp(lost) in known:
                continue
            # The first write of the chain that beats it is the one that did not see it.
            winner = next(op for op in reversed(chain) if _beats(op, lost))
            violations.append(_violation(lost, winner))
    return violations


def assert_no_lost_writes(history: History) -> None:
    raise_violations("lost write", lost_writes(history))


def _ancestry(writes: Iterable[Op]) -> list[Op]:
    """The LWW winner and the writes it replaced, one after another, newest first."""
    by_stamp = {_stamp(op): op for op in writes}
    current: Op | None = by_stamp[max(by_stamp)]  # `wins` is this order of stamps
    chain: list[Op] = []
    while current is not None and current not in chain:
        chain.append(current)
        if current.prior_hlc is None or current.prior_origin is None:
            break
        current = by_stamp.get((current.prior_hlc, current.prior_origin))
    return chain


def _stamp(op: Op) -> Stamp:
    assert op.hlc is not None and op.origin is not None
    return op.hlc, op.origin


def _beats(a: Op, b: Op) -> bool:
    return wins(*_stamp(a), *_stamp(b))


def _violation(lost: Op, winner: Op) -> Violation:
    message = (
        f"{lost.region}'s acknowledged {lost.kind}({lost.key!r}) at t={lost.time:.3f}s "
        f"(op #{lost.index}) was overwritten by {winner.region}'s {winner.kind} at "
        f"t={winner.time:.3f}s (op #{winner.index}), made without having seen it; "
        "last-writer-wins kept the latter, so the former is gone"
    )
    return Violation("no-lost-writes", message, (lost, winner))
