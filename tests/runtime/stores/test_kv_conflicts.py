"""KVStore.apply reports the changes that lost to another region's different value."""

from __future__ import annotations

from runtime.stores import KVStore
from runtime.stores.conflicts import Conflict, Version

from .kv_replication_helpers import T0, put


def test_a_change_losing_to_another_regions_value_is_a_conflict(stores: dict[str, KVStore]) -> None:
    b = stores["b"]
    b.set("k", b"b's", hlc=T0 + 10, origin="b")  # b's own write, newer
    conflicts: list[Conflict] = []
    assert b.apply([put(1, "k", b"a's", T0 + 5, "a")], conflicts) == 0
    assert conflicts == [Conflict("k", "b", Version("b", b"b's"), Version("a", b"a's"))]
    assert b.get("k") == b"b's"


def test_a_lost_delete_and_a_third_regions_winner_are_conflicts_too(
    stores: dict[str, KVStore],
) -> None:
    b = stores["b"]
    b.apply([put(1, "k", b"c's", T0 + 10, "c")])
    conflicts: list[Conflict] = []
    b.apply([put(1, "k", None, T0 + 5, "a")], conflicts)
    assert conflicts == [Conflict("k", "b", Version("c", b"c's"), Version("a", None))]


def test_overwrites_duplicates_and_equal_values_are_not_conflicts(
    stores: dict[str, KVStore],
) -> None:
    b = stores["b"]
    conflicts: list[Conflict] = []
    first = put(1, "k", b"1", T0 + 1, "a")
    b.apply([first], conflicts)  # a new key
    b.apply([put(2, "k", b"2", T0 + 2, "a")], conflicts)  # an ordinary overwrite: it wins
    b.apply([first], conflicts)  # a duplicate of an older change of the same region
    b.apply([put(1, "k", b"2", T0 + 1, "c")], conflicts)  # lost, but to the same value
    b.apply([put(1, "k", b"3", T0 + 3, "c")], conflicts)  # wins over a's value
    assert conflicts == []
    assert b.get("k") == b"3"


def test_without_a_list_apply_reports_nothing_and_stores_the_same(
    stores: dict[str, KVStore],
) -> None:
    b = stores["b"]
    b.set("k", b"b's", hlc=T0 + 10, origin="b")
    assert b.apply([put(1, "k", b"a's", T0 + 5, "a")]) == 0
    assert b.get("k") == b"b's"
