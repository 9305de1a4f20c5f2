"""The LWW rule, HLC stamps, and KVStore.apply of remote changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.regions.clock import VirtualClock
from runtime.stores import KVStore, hlc_millis, pack_hlc, unpack_hlc, wins

from .kv_replication_helpers import T0, put

# --- the LWW rule and the clock -------------------------------------------------------------


def test_wins_compares_hlc_then_origin() -> None:
    assert wins(2, "a", 1, "z")
    assert not wins(1, "z", 2, "a")
    assert wins(5, "b", 5, "a")  # same stamp: the larger region name wins
    assert not wins(5, "a", 5, "b")
    assert not wins(5, "a", 5, "a")  # equal is not newer: re-applying changes nothing


def test_hlc_millis_is_the_physical_part() -> None:
    stamp = pack_hlc(1_234_567, 89)
    assert hlc_millis(stamp) == 1_234_567
    assert unpack_hlc(stamp) == (1_234_567, 89)


def test_a_virtual_clock_object_drives_the_stamps(tmp_path: Path, clock: VirtualClock) -> None:
    with KVStore(tmp_path / "kv.sqlite", region="a", clock=clock) as s:
        first = s.set("k", b"1")
        assert hlc_millis(first) == int(clock.now() * 1000)
        clock.advance(2.5)
        second = s.set("k", b"2")
        assert unpack_hlc(second) == (int(clock.now() * 1000), 0)
        assert hlc_millis(second) - hlc_millis(first) == 2500


# --- apply ----------------------------------------------------------------------------------


def test_apply_stores_a_change_for_a_new_key(stores: dict[str, KVStore]) -> None:
    b = stores["b"]
    assert b.apply([put(1, "k", b"v", T0, "a")]) == 1
    entry = b.entry("k")
    assert entry is not None and (entry.value, entry.hlc, entry.origin) == (b"v", T0, "a")


def test_apply_newer_wins_older_loses(stores: dict[str, KVStore]) -> None:
    b = stores["b"]
    assert b.apply([put(1, "k", b"new", T0 + 2, "a")]) == 1
    assert b.apply([put(2, "k", b"old", T0 + 1, "c")]) == 0
    assert b.get("k") == b"new"
    assert b.apply([put(3, "k", b"newer", T0 + 3, "a")]) == 1
    assert b.get("k") == b"newer"


def test_apply_ties_are_broken_by_origin(stores: dict[str, KVStore]) -> None:
    b = stores["b"]
    from_a, from_c = put(1, "k", b"from-a", T0, "a"), put(1, "k", b"from-c", T0, "c")
    assert b.apply([from_c, from_a]) == 1
    assert b.get("k") == b"from-c"
    c = stores["c"]
    assert c.apply([from_a]) == 1
    assert c.apply([from_c]) == 1
    assert c.get("k") == b"from-c"


def test_apply_of_tombstones(stores: dict[str, KVStore]) -> None:
    b = stores["b"]
    b.apply([put(1, "k", b"v", T0 + 5, "a")])
    assert b.apply([put(2, "k", None, T0 + 4, "c")]) == 0  # an older delete loses
    assert b.get("k") == b"v"
    assert b.apply([put(3, "k", None, T0 + 6, "c")]) == 1  # a newer delete wins
    tomb = b.entry("k")
    assert tomb is not None and tomb.tombstone and tomb.value is None and tomb.origin == "c"
    assert b.apply([put(4, "k", b"stale", T0 + 5, "c")]) == 0  # the tombstone beats older sets
    assert b.get("k") is None
    assert b.apply([put(5, "k", b"back", T0 + 7, "a")]) == 1  # a newer set revives
    assert b.get("k") == b"back"
    assert b.apply([put(6, "never-seen", None, T0, "a")]) == 1  # kept as a tombstone
    assert b.entry("never-seen") is not None and b.keys() == ["k"]


def test_apply_is_idempotent(stores: dict[str, KVStore]) -> None:
    a, b = stores["a"], stores["b"]
    a.set("x", b"1")
    a.delete("y")
    a.set("x", b"2")
    changes = a.changes_since(0)
    assert b.apply(changes) == 3
    digest, clock = b.digest(), b.last_hlc()
    assert b.apply(changes) == 0
    assert b.apply(changes + changes) == 0
    assert (b.digest(), b.last_hlc()) == (digest, clock)
    assert b.snapshot() == {"x": b"2"}


def test_duplicates_within_one_batch_count_once(stores: dict[str, KVStore]) -> None:
    change = put(1, "k", b"v", T0, "a")
    assert stores["b"].apply([change, change, change]) == 1


def test_apply_of_an_empty_batch(stores: dict[str, KVStore]) -> None:
    assert stores["b"].apply([]) == 0
    assert stores["b"].apply(iter(())) == 0


def test_apply_does_not_write_the_outbox(stores: dict[str, KVStore]) -> None:
    b = stores["b"]
    b.set("mine", b"1")
    b.apply([put(1, "k", b"v", T0 + 100, "a"), put(2, "j", None, T0 + 101, "c")])
    assert (b.outbox_len(), b.last_seq()) == (1, 1)
    assert [c.key for c in b.changes_since(0)] == ["mine"]


def test_a_remote_origin_given_to_set_is_not_queued(stores: dict[str, KVStore]) -> None:
    b = stores["b"]
    b.set("k", b"v", hlc=T0, origin="a")
    b.delete("j", origin="c")
    assert b.outbox_len() == 0
    assert b.set("k", b"older", hlc=T0 - 1, origin="c") == T0 - 1  # loses: LWW as in apply
    assert b.get("k") == b"v"


def test_a_losing_explicit_local_stamp_changes_nothing(stores: dict[str, KVStore]) -> None:
    b = stores["b"]
    b.apply([put(1, "k", b"remote", T0 + 10, "c")])
    b.set("k", b"stale", hlc=T0 + 1)
    assert b.get("k") == b"remote"
    assert b.outbox_len() == 0  # never shipped, so no peer can disagree


def test_apply_rejects_things_that_are_not_changes(stores: dict[str, KVStore]) -> None:
    b = stores["b"]
    with pytest.raises(TypeError, match="Change"):
        b.apply([put(1, "k", b"v", T0, "a"), ("k", b"v")])  # type: ignore[list-item]
    assert b.entries_count() == 0  # checked before anything is written


def test_apply_advances_the_clock(stores: dict[str, KVStore]) -> None:
    b = stores["b"]
    far = pack_hlc(9_000_000_000_000, 3)
    b.apply([put(1, "k", b"v", T0, "a"), put(2, "j", b"v", far, "a")])
    assert b.last_hlc() == far
    b.apply([put(3, "old", b"v", T0 - 5, "c")])
    assert b.last_hlc() == far  # max, never back


def test_local_write_after_a_far_future_remote_change_still_wins(
    stores: dict[str, KVStore],
) -> None:
    b = stores["b"]
    far = pack_hlc(9_000_000_000_000, 3)
    # "zz" > "b": even with equal stamps the remote write would win a tie.
    assert b.apply([put(1, "k", b"remote", far, "zz")]) == 1
    stamp = b.set("k", b"local")
    assert stamp == far + 1
    assert b.get("k") == b"local"
    tomb_stamp = b.delete("k")
    assert tomb_stamp == far + 2 and b.get("k") is None
    # ... and it wins everywhere else too, once shipped.
    c = stores["c"]
    c.apply([put(1, "k", b"remote", far, "zz")])
    c.apply(b.changes_since(0))
    assert c.digest() == b.digest()


def test_local_writes_always_win_locally_whatever_arrived(
    stores: dict[str, KVStore], clock: VirtualClock
) -> None:
    b = stores["b"]
    for i in range(20):
        # Remote stamps at, just ahead of, and far ahead of b's clock.
        remote = pack_hlc(int(clock.now() * 1000) + (0, 1, 10_000)[i % 3], i)
        b.apply([put(i + 1, f"k{i % 4}", b"remote", remote, "zzz")])
        b.set(f"k{i % 4}", str(i).encode())
        assert b.get(f"k{i % 4}") == str(i).encode()
        clock.advance(0.001 * (i % 2))
