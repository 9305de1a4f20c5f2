"""The recorded key-value history and its checkers, on real KVStores and a virtual clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.regions.clock import VirtualClock
from runtime.stores import KVStore
from runtime.stores.changes import pack_hlc
from runtime.testing.kv_history import (
    History,
    Op,
    OpKind,
    RecordingKV,
    assert_convergence,
    assert_monotonic_reads,
    assert_read_your_writes,
    convergence,
    monotonic_reads,
    read_your_writes,
)

T0 = 1_000_000.0  # virtual seconds


def stamp(millis: int, logical: int = 0) -> int:
    return pack_hlc(millis, logical)


def write(region: str, key: str, value: bytes | None, hlc: int, t: float = T0) -> Op:
    kind: OpKind = "set" if value is not None else "delete"
    return Op(region, t, "default", key, kind, value=value, hlc=hlc, origin=region)


def read(
    region: str, key: str, value: bytes | None, hlc: int | None, origin: str | None, t: float = T0
) -> Op:
    return Op(
        region, t, "default", key, "get", value=value, hlc=hlc, origin=origin,
        found=value is not None,
    )  # fmt: skip


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
def stores(tmp_path: Path, clock: VirtualClock) -> Iterator[dict[str, KVStore]]:
    opened = {
        region: KVStore(tmp_path / f"{region}.db", region=region, clock=clock)
        for region in ("us-east", "eu-west")
    }
    yield opened
    for store in opened.values():
        store.close()


def replicate(stores: dict[str, KVStore]) -> None:
    """Deliver every outbox to every other replica (what the replicator does, minus the lag)."""
    for src, sender in stores.items():
        for dst, receiver in stores.items():
            if src != dst:
                receiver.apply(sender.changes_since(0))


def recorders(
    stores: dict[str, KVStore], history: History, clock: VirtualClock
) -> dict[str, RecordingKV]:
    return {
        region: RecordingKV(store, history, label="default", clock=clock.now)
        for region, store in stores.items()
    }


# --- recording ------------------------------------------------------------------------


def test_recording_kv_records_every_op_with_time_and_stamp(
    stores: dict[str, KVStore], clock: VirtualClock
) -> None:
    history = History()
    us = recorders(stores, history, clock)["us-east"]
    assert us.get("k") is None
    first = us.set("k", b"v1")
    clock.advance(0.5)
    assert us.get("k") == b"v1"
    assert us.exists("k") is True
    assert us.keys() == ["k"]
    gone = us.delete("k")
    assert us.get("k") is None and us.exists("k") is False

    ops = history.ops()
    assert [op.kind for op in ops] == [
        "get", "set", "get", "exists", "keys", "delete", "get", "exists",
    ]  # fmt: skip
    assert [op.index for op in ops] == list(range(8))
    assert ops[0].hlc is None and ops[0].found is False
    assert ops[1] == Op(
        "us-east", T0, "default", "k", "set", value=b"v1", hlc=first, origin="us-east", index=1
    )
    assert ops[2].time == T0 + 0.5 and ops[2].value == b"v1" and ops[2].hlc == first
    assert ops[3].found is True and ops[3].hlc == first
    assert ops[4].keys == ("k",) and ops[4].key is None
    assert ops[5].hlc == gone > first and ops[5].value is None
    # A deleted key reads as absent, stamped with its tombstone.
    assert ops[6].found is False and ops[6].hlc == gone and ops[6].origin == "us-east"
    assert ops[7].found is False and ops[7].hlc == gone
    # Everything else goes to the store, unrecorded.
    assert us.digest() == stores["us-east"].digest()
    assert len(history) == 8


def test_history_filters_by_region_key_and_kind(
    stores: dict[str, KVStore], clock: VirtualClock
) -> None:
    history = History()
    rec = recorders(stores, history, clock)
    rec["us-east"].set("a", b"1")
    rec["eu-west"].set("b", b"2")
    rec["eu-west"].get("a")
    assert [op.key for op in history.ops(region="eu-west")] == ["b", "a"]
    assert [op.region for op in history.ops(key="a")] == ["us-east", "eu-west"]
    assert [op.kind for op in history.ops(region="eu-west", key="a")] == ["get"]
    assert len(history.writes()) == 2 and len(history.reads()) == 1


def test_a_real_replicated_history_passes_every_check(
    stores: dict[str, KVStore], clock: VirtualClock
) -> None:
    history = History()
    rec = recorders(stores, history, clock)
    us, eu = rec["us-east"], rec["eu-west"]
    us.set("k", b"from us")
    assert eu.get("k") is None  # not replicated yet: allowed
    clock.advance(1)
    replicate(stores)
    assert eu.get("k") == b"from us"
    eu.set("k", b"from eu")
    assert eu.get("k") == b"from eu"
    us.delete("other")
    clock.advance(1)
    replicate(stores)
    assert us.get("k") == b"from eu"

    assert read_your_writes(history) == []
    assert monotonic_reads(history) == []
    replicas = {"default": dict(stores)}
    assert convergence(history, replicas) == []
    assert_read_your_writes(history)
    assert_monotonic_reads(history)
    assert_convergence(history, replicas)


# --- read-your-writes -----------------------------------------------------------------


def test_read_your_writes_accepts_own_write_and_later_winners() -> None:
    w = write("us-east", "k", b"mine", stamp(100))
    history = History(
        [
            read("us-east", "k", None, None, None),  # before the write: anything goes
            w,
            read("us-east", "k", b"mine", stamp(100), "us-east"),
            read("us-east", "k", b"theirs", stamp(200), "eu-west"),  # a later winner
            read("eu-west", "k", None, None, None),  # another region: not its write
        ]
    )
    assert read_your_writes(history) == []


def test_read_your_writes_catches_a_read_that_misses_the_write() -> None:
    w = write("us-east", "k", b"mine", stamp(100))
    history = History(
        [
            w,
            read("us-east", "k", None, None, None, t=T0 + 1),
            read("us-east", "k", b"old", stamp(50), "eu-west", t=T0 + 2),
            # Same millisecond, but eu-west < us-east: it loses the tie.
            read("us-east", "k", b"tie", stamp(100), "eu-west", t=T0 + 3),
            read("us-east", "k", b"not mine", stamp(100), "us-east", t=T0 + 4),
        ]
    )
    violations = read_your_writes(history)
    assert [v.ops[1].index for v in violations] == [1, 2, 3, 4]
    assert all(v.check == "read-your-writes" and v.ops[0].index == 0 for v in violations)
    assert "found no entry" in violations[0].message
    assert "older write" in violations[1].message
    assert "same stamp" in violations[3].message
    with pytest.raises(AssertionError, match=r"4 read-your-writes violation\(s\)") as err:
        assert_read_your_writes(history)
    assert "us-east" in str(err.value) and "'k'" in str(err.value)


def exists(region: str, key: str, found: bool, hlc: int, origin: str) -> Op:
    return Op(region, T0, "default", key, "exists", hlc=hlc, origin=origin, found=found)


def test_read_your_writes_after_a_delete_must_not_see_the_old_value() -> None:
    history = History(
        [
            write("us-east", "k", b"v", stamp(100)),
            write("us-east", "k", None, stamp(200)),
            exists("us-east", "k", False, stamp(200), "us-east"),
            read("us-east", "k", b"v", stamp(100), "us-east"),
            exists("us-east", "k", True, stamp(200), "us-east"),  # same stamp, but live
        ]
    )
    assert [v.ops[1].index for v in read_your_writes(history)] == [3, 4]


# --- monotonic reads ------------------------------------------------------------------


def test_monotonic_reads_accepts_reads_moving_forward() -> None:
    history = History(
        [
            read("eu-west", "k", None, None, None),
            read("eu-west", "k", b"a", stamp(100), "us-east"),
            read("eu-west", "k", b"a", stamp(100), "us-east"),
            read("eu-west", "k", b"b", stamp(100), "us-west"),  # tie won by origin
            read("eu-west", "k", None, stamp(300), "ap-south"),  # a newer tombstone
            read("us-east", "k", None, None, None),  # another region starts afresh
        ]
    )
    assert monotonic_reads(history) == []


def test_monotonic_reads_catches_going_back() -> None:
    history = History(
        [
            read("eu-west", "k", b"new", stamp(200), "us-east"),
            read("eu-west", "other", b"x", stamp(1), "us-east"),  # another key: unrelated
            read("eu-west", "k", b"old", stamp(100), "us-east", t=T0 + 1),
            read("eu-west", "k", None, None, None, t=T0 + 2),
            read("eu-west", "k", b"forged", stamp(200), "us-east", t=T0 + 3),
        ]
    )
    violations = monotonic_reads(history)
    assert [(v.ops[0].index, v.ops[1].index) for v in violations] == [(0, 2), (0, 3), (0, 4)]
    assert "older than the earlier read" in violations[0].message
    with pytest.raises(AssertionError, match="3 monotonic reads violation") as err:
        assert_monotonic_reads(history)
    assert "b'old'" in str(err.value)


# --- convergence ----------------------------------------------------------------------


def test_convergence_catches_replicas_that_differ(
    stores: dict[str, KVStore], clock: VirtualClock
) -> None:
    history = History()
    rec = recorders(stores, history, clock)
    rec["us-east"].set("k", b"v")
    violations = convergence(history, {"default": dict(stores)})  # never replicated
    messages = [v.message for v in violations]
    assert any("replicas differ" in m for m in messages)
    assert any("in eu-west: 'k' has no entry" in m for m in messages)
    replicate(stores)
    assert convergence(history, {"default": dict(stores)}) == []


def test_convergence_catches_a_lost_acknowledged_write(
    stores: dict[str, KVStore], clock: VirtualClock
) -> None:
    history = History()
    rec = recorders(stores, history, clock)
    rec["us-east"].set("k", b"kept")
    clock.advance(1)
    rec["eu-west"].set("k", b"newer")
    replicate(stores)
    assert convergence(history, {"default": dict(stores)}) == []
    # A write acknowledged to a guest that no replica holds, stamped past the rest.
    lost = history.append(write("ap-south", "k", b"lost", stamp(10**12)))
    violations = convergence(history, {"default": dict(stores)})
    assert len(violations) == 2  # both regions hold a write that loses to it
    assert all(v.ops == (lost,) for v in violations)
    assert "b'newer'" in violations[0].message and "b'lost'" in violations[0].message
    with pytest.raises(AssertionError, match="2 convergence violation"):
        assert_convergence(history, {"default": dict(stores)})


def test_convergence_catches_a_value_that_does_not_match_its_stamp(
    stores: dict[str, KVStore], clock: VirtualClock
) -> None:
    history = History()
    rec = recorders(stores, history, clock)
    hlc = rec["us-east"].set("k", b"real")
    replicate(stores)
    # The same stamp recorded with another value: the stores hold something else.
    forged = History([write("us-east", "k", b"forged", hlc)])
    violations = convergence(forged, {"default": dict(stores)})
    assert len(violations) == 2 and "different value" in violations[0].message


def test_convergence_reports_a_written_store_without_replicas() -> None:
    history = History([write("us-east", "k", b"v", stamp(1))])
    violations = convergence(history, {})
    assert [v.message for v in violations] == ["store 'default' was written but has no replicas"]
