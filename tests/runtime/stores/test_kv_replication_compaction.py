"""Peers' acks of a KVStore's outbox, and compaction of what every peer acked."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.stores import KVError, KVStore


def test_ack_is_monotonic_and_durable(tmp_path: Path) -> None:
    path = tmp_path / "kv.sqlite"
    with KVStore(path, region="a") as a:
        for i in range(5):
            a.set(f"k{i}", b"v")
        assert a.acked("b") == 0
        a.ack("b", 3)
        a.ack("b", 1)  # a late, stale ack does not move it back
        a.ack("c", 5)
        assert (a.acked("b"), a.acked("c"), a.acked("d")) == (3, 5, 0)
    with KVStore(path, region="a") as reopened:
        assert (reopened.acked("b"), reopened.acked("c")) == (3, 5)


def test_ack_refuses_seqs_past_the_end_and_bad_input(stores: dict[str, KVStore]) -> None:
    a = stores["a"]
    a.set("k", b"v")
    with pytest.raises(KVError, match="outbox ends at 1"):
        a.ack("b", 2)
    with pytest.raises(KVError, match="non-negative"):
        a.ack("b", -1)
    with pytest.raises(KVError, match="peer"):
        a.ack("", 1)
    assert a.acked("b") == 0


def test_compact_drops_rows_every_peer_acked(stores: dict[str, KVStore]) -> None:
    a = stores["a"]
    for i in range(5):
        a.set(f"k{i}", b"v")
    a.ack("b", 3)
    a.ack("c", 2)
    assert a.compact(["b", "c"]) == 2
    assert [c.seq for c in a.changes_since(0)] == [3, 4, 5]
    assert a.compact(["b", "c"]) == 0
    assert a.compact(["b", "c", "new-peer"]) == 0  # a peer that acked nothing holds all
    a.ack("b", 5)
    a.ack("c", 5)
    assert a.compact(iter(["b", "c"])) == 3
    assert (a.outbox_len(), a.last_seq()) == (0, 5)  # the high-water mark stays
    assert a.changes_since(0) == []


def test_compact_with_no_peers_drops_everything(stores: dict[str, KVStore]) -> None:
    a = stores["a"]
    a.set("k", b"v")
    a.set("j", b"v")
    assert a.compact([]) == 2
    assert a.outbox_len() == 0


def test_seqs_are_never_reused_after_compaction_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "kv.sqlite"
    with KVStore(path, region="a") as a:
        a.set("k", b"1")
        a.set("k", b"2")
        a.compact([])
    with KVStore(path, region="a") as a:
        assert a.last_seq() == 2
        a.set("k", b"3")
        assert [c.seq for c in a.changes_since(0)] == [3]
