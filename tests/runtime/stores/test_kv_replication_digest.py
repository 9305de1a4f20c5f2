"""KVStore.digest and snapshot: what replicas compare to know they agree."""

from __future__ import annotations

from runtime.stores import KVStore

from .kv_replication_helpers import T0, put


def test_digest_of_empty_stores_match(stores: dict[str, KVStore]) -> None:
    assert stores["a"].digest() == stores["b"].digest()
    assert len(stores["a"].digest()) == 64


def test_digest_covers_tombstones_stamps_and_origins(stores: dict[str, KVStore]) -> None:
    a, b, c = stores["a"], stores["b"], stores["c"]
    a.apply([put(1, "k", None, T0, "x")])
    assert a.digest() != b.digest() and a.snapshot() == b.snapshot() == {}
    b.apply([put(1, "k", None, T0 + 1, "x")])
    c.apply([put(1, "k", None, T0, "y")])
    assert len({a.digest(), b.digest(), c.digest()}) == 3


def test_snapshot_and_entries_count(stores: dict[str, KVStore]) -> None:
    a = stores["a"]
    a.set("x", b"1")
    a.set("y", b"")
    a.delete("z")
    assert a.snapshot() == {"x": b"1", "y": b""}
    assert a.entries_count() == 3


def test_digest_is_recomputed_after_any_write_to_the_file(stores: dict[str, KVStore]) -> None:
    a = stores["a"]
    a.set("x", b"1")
    first = a.digest()
    assert a.digest() == first  # cached: nothing changed
    a.set("x", b"2")  # this connection's own write
    second = a.digest()
    assert second != first
    other = KVStore(a.path, region="a")  # another connection, as another process would be
    try:
        other.set("x", b"1", hlc=a.last_hlc() + 1)
    finally:
        other.close()
    assert a.digest() not in (first, second)
