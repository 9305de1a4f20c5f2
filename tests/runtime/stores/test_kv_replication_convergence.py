"""Replicas that exchange their outboxes in any order converge to the LWW state."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.regions.clock import VirtualClock
from runtime.stores import KVStore, wins


def test_stores_converge_whatever_order_they_exchange_in(
    stores: dict[str, KVStore], clock: VirtualClock
) -> None:
    a, b, c = stores["a"], stores["b"], stores["c"]
    a.set("shared", b"a1")
    b.set("shared", b"b1")  # same millisecond as a's: b wins the tie
    c.delete("shared")  # and c's beats both
    clock.advance(0.010)
    a.set("only-a", b"x")
    b.delete("only-a")  # b never saw it, but its later delete wins
    c.set("c", b"1")
    clock.advance(0.001)
    a.set("c", b"from-a")
    outboxes = {name: s.changes_since(0) for name, s in stores.items()}
    a.apply(outboxes["b"] + outboxes["c"])
    b.apply(list(reversed(outboxes["c"])))
    b.apply(list(reversed(outboxes["a"])))
    for change in outboxes["b"][::-1] + outboxes["a"]:
        c.apply([change])
    assert a.digest() == b.digest() == c.digest()
    assert a.snapshot() == b.snapshot() == c.snapshot() == {"c": b"from-a"}
    shared = a.entry("shared")
    assert shared is not None and shared.tombstone and shared.origin == "c"


# --- the property: any writes, any delivery order -> one state, the LWW one ----------------

REGIONS = ("a", "b", "c")
op = st.one_of(
    st.tuples(
        st.just("write"),
        st.sampled_from(REGIONS),
        st.sampled_from(["x", "y", "z"]),
        st.one_of(st.none(), st.binary(max_size=3)),  # None: delete
        st.sampled_from([0, 0, 0, 0.0004, 0.001, 0.0015, 0.25]),  # zero: same-ms ties
    ),
    # Partial replication along the way, as the replicator would do it.
    st.tuples(
        st.just("deliver"),
        st.sampled_from(REGIONS),
        st.sampled_from(REGIONS),
        st.integers(1, 5),
        st.none(),
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, max_size=30), data=st.data())
def test_replicas_converge_to_the_lww_winner(ops: list[tuple[Any, ...]], data: Any) -> None:
    clock = VirtualClock()
    written: list[tuple[str, str, bytes | None, int]] = []  # (origin, key, value, hlc)
    with tempfile.TemporaryDirectory() as tmp:
        stores = {r: KVStore(Path(tmp) / f"{r}.sqlite", region=r, clock=clock) for r in REGIONS}
        try:
            for kind, first, second, third, advance in ops:
                if kind == "write":
                    clock.advance(advance)
                    store = stores[first]
                    stamp = store.delete(second) if third is None else store.set(second, third)
                    written.append((first, second, third, stamp))
                    assert store.get(second) == third  # a local write wins locally
                elif first != second:
                    src, dst = stores[first], stores[second]
                    batch = src.changes_since(src.acked(second), third)
                    dst.apply(batch)
                    if batch:
                        src.ack(second, batch[-1].seq)

            # Every acknowledged write is in its origin's outbox, exactly as made.
            outboxes = {r: s.changes_since(0, 10_000) for r, s in stores.items()}
            for origin, key, value, stamp in written:
                assert (key, value, value is None, stamp, origin) in {
                    (c.key, c.value, c.tombstone, c.hlc, c.origin) for c in outboxes[origin]
                }
            assert sum(len(o) for o in outboxes.values()) == len(written)

            # Full exchange in a random order, with duplicates, in random batches.
            for name, store in stores.items():
                incoming = [c for r, o in outboxes.items() if r != name for c in o]
                dupes = []
                if incoming:
                    dupes = data.draw(st.lists(st.sampled_from(incoming), max_size=5))
                order = data.draw(st.permutations(incoming + dupes))
                while order:
                    size = data.draw(st.integers(1, max(1, len(order))))
                    store.apply(order[:size])
                    order = order[size:]

            assert len({s.digest() for s in stores.values()}) == 1
            oracle: dict[str, tuple[int, str, bytes | None]] = {}
            for origin, key, value, stamp in written:
                best = oracle.get(key)
                if best is None or wins(stamp, origin, best[0], best[1]):
                    oracle[key] = (stamp, origin, value)
            live = {k: v for k, (_, _, v) in oracle.items() if v is not None}
            for store in stores.values():
                assert store.snapshot() == live
                for key, (stamp, origin, _) in oracle.items():
                    entry = store.entry(key)
                    assert entry is not None and (entry.hlc, entry.origin) == (stamp, origin)
                # And no store is behind anything it received.
                assert store.last_hlc() >= max((w[3] for w in written), default=0)
        finally:
            for s in stores.values():
                s.close()
