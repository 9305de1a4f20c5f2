"""KVStore's side of replication: outbox, apply (LWW), acks, compaction, digest, wire form."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.clock import VirtualClock
from runtime.stores import (
    Change,
    KVError,
    KVStore,
    decode_changes,
    encode_changes,
    hlc_millis,
    pack_hlc,
    unpack_hlc,
    wins,
)
from runtime.stores.kv import SCHEMA_VERSION

REPO = Path(__file__).resolve().parents[3]
T0 = pack_hlc(1_767_225_600_000)  # the virtual clock's epoch, in HLC form


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def stores(tmp_path: Path, clock: VirtualClock) -> Iterator[dict[str, KVStore]]:
    """Regions a, b and c of one store, sharing a virtual clock."""
    opened = {r: KVStore(tmp_path / f"{r}.sqlite", region=r, clock=clock) for r in "abc"}
    yield opened
    for s in opened.values():
        s.close()


def put(seq: int, key: str, value: bytes | None, hlc: int, origin: str) -> Change:
    return Change(seq, key, value, value is None, hlc, origin)


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


# --- the outbox -----------------------------------------------------------------------------


def test_local_writes_are_appended_to_the_outbox(stores: dict[str, KVStore]) -> None:
    a = stores["a"]
    s1 = a.set("k", b"v")
    s2 = a.delete("k")
    s3 = a.set("j", b"")
    assert a.changes_since(0) == [
        Change(1, "k", b"v", False, s1, "a"),
        Change(2, "k", None, True, s2, "a"),
        Change(3, "j", b"", False, s3, "a"),
    ]
    assert (a.outbox_len(), a.last_seq()) == (3, 3)


def test_fresh_store_has_an_empty_outbox(stores: dict[str, KVStore]) -> None:
    a = stores["a"]
    assert (a.changes_since(0), a.outbox_len(), a.last_seq()) == ([], 0, 0)


def test_changes_since_is_in_seq_order_and_limited(stores: dict[str, KVStore]) -> None:
    a = stores["a"]
    for i in range(5):
        a.set(f"k{i}", str(i).encode())
    assert [c.seq for c in a.changes_since(0)] == [1, 2, 3, 4, 5]
    assert [c.seq for c in a.changes_since(0, 2)] == [1, 2]
    assert [c.key for c in a.changes_since(2, 2)] == ["k2", "k3"]
    assert [c.seq for c in a.changes_since(4, 100)] == [5]
    assert a.changes_since(5) == []
    assert a.changes_since(0, 0) == []


@pytest.mark.parametrize(("after", "limit"), [(-1, 10), (0, -1), (True, 10), (0, 1.5)])
def test_changes_since_rejects_bad_arguments(
    stores: dict[str, KVStore], after: Any, limit: Any
) -> None:
    with pytest.raises(KVError, match="non-negative integer"):
        stores["a"].changes_since(after, limit)


def test_outbox_row_and_entry_are_one_transaction(tmp_path: Path) -> None:
    path = tmp_path / "kv.sqlite"
    with KVStore(path, region="a") as s:
        before = s.set("k", b"old")
        # Make the outbox insert fail: the entry write must be rolled back with it.
        raw = sqlite3.connect(path)
        raw.execute(
            "CREATE TRIGGER no_outbox BEFORE INSERT ON outbox"
            " BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )
        raw.close()
        with pytest.raises(KVError, match="boom"):
            s.set("k", b"new")
        with pytest.raises(KVError, match="boom"):
            s.delete("gone")
        assert s.get("k") == b"old"
        assert s.entry("gone") is None
        assert s.last_hlc() == before  # the clock did not move either
        assert [c.value for c in s.changes_since(0)] == [b"old"]


def test_a_second_handle_sees_entry_and_outbox_without_a_close(tmp_path: Path) -> None:
    path = tmp_path / "kv.sqlite"
    writer = KVStore(path, region="a")  # never closed before the reader looks
    stamp = writer.set("k", b"v")
    with KVStore(path, region="a") as reader:
        assert reader.get("k") == b"v"
        assert reader.changes_since(0) == [Change(1, "k", b"v", False, stamp, "a")]
    writer.close()


def test_outbox_survives_a_killed_process(tmp_path: Path) -> None:
    path = tmp_path / "kv.sqlite"
    code = f"""
        import os, signal
        from pathlib import Path
        from runtime.stores import KVStore
        s = KVStore(Path({str(path)!r}), region="a")
        s.set("acked", b"durable")
        s.delete("also-acked")
        print("acknowledged", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no cleanup
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "acknowledged", result.stderr
    assert result.returncode == -9
    with KVStore(path, region="a") as reopened:
        assert reopened.get("acked") == b"durable"
        changes = reopened.changes_since(0)
        assert [(c.seq, c.key, c.value, c.tombstone) for c in changes] == [
            (1, "acked", b"durable", False),
            (2, "also-acked", None, True),
        ]


def test_handles_sharing_a_file_share_one_outbox(tmp_path: Path) -> None:
    path = tmp_path / "kv.sqlite"
    handles = [KVStore(path, region="a") for _ in range(4)]

    def write(n: int) -> None:
        for i in range(50):
            handles[n].set(f"w{n}-{i:02d}", b"x")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        changes = handles[0].changes_since(0, 1000)
        assert [c.seq for c in changes] == list(range(1, 201))
        assert len({c.key for c in changes}) == 200
        stamps = [c.hlc for c in changes]
        assert stamps == sorted(stamps) and len(set(stamps)) == 200  # commit order = HLC order
    finally:
        for h in handles:
            h.close()


def test_a_version_1_file_queues_its_own_writes_when_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "kv.sqlite"
    raw = sqlite3.connect(path)
    raw.executescript("""
        CREATE TABLE entries (key TEXT PRIMARY KEY NOT NULL, value BLOB,
            tombstone INTEGER NOT NULL DEFAULT 0, hlc INTEGER NOT NULL, origin TEXT NOT NULL);
        CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
        INSERT INTO entries VALUES ('late', x'02', 0, 30, 'a'), ('early', NULL, 1, 10, 'a'),
                                   ('theirs', x'03', 0, 20, 'b');
        INSERT INTO meta VALUES ('hlc', 30);
        PRAGMA user_version = 1;
    """)
    raw.close()
    with KVStore(path, region="a") as s:
        assert s.changes_since(0) == [
            Change(1, "early", None, True, 10, "a"),
            Change(2, "late", b"\x02", False, 30, "a"),
        ]
        assert s.snapshot() == {"late": b"\x02", "theirs": b"\x03"}
    with KVStore(path, region="a") as again:  # upgraded once, not on every open
        assert again.outbox_len() == 2
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()


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


# --- acks and compaction --------------------------------------------------------------------


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


# --- digest and snapshot --------------------------------------------------------------------


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


# --- wire form ------------------------------------------------------------------------------


def test_changes_round_trip_through_msgpack() -> None:
    changes = [
        Change(1, "k", b"v", False, T0, "us-east"),
        Change(2, "caf\u00e9 \U0001f600", b"", False, T0 + 1, "eu-west"),
        Change(3, "gone", None, True, 2**63 - 1, "ap-south"),
        Change(4, "bin", bytes(range(256)), False, 0, "a"),
    ]
    data = encode_changes(changes)
    assert decode_changes(data) == changes
    assert decode_changes(bytearray(data)) == changes
    assert decode_changes(encode_changes([])) == []
    envelope = msgpack.unpackb(data)
    assert envelope["v"] == 1
    assert envelope["changes"][0] == [1, "k", b"v", False, T0, "us-east"]


def test_encoded_values_are_msgpack_bin_not_str() -> None:
    data = encode_changes([Change(1, "k", b"text", False, 1, "a")])
    assert msgpack.unpackb(data, raw=True)[b"changes"][0][2] == b"text"
    assert b"\xc4\x04text" in data  # bin 8 with length 4


def _message(*rows: Any, v: Any = 1) -> bytes:
    packed: bytes = msgpack.packb({"v": v, "changes": list(rows)}, use_bin_type=True)
    return packed


GOOD = [1, "k", b"v", False, 5, "a"]


def _with(index: int, value: Any) -> list[Any]:
    row = list(GOOD)
    row[index] = value
    return row


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not msgpack"),
        (b"\xc1", "not msgpack"),
        (_message(GOOD) + b"\x00", "not msgpack"),
        (msgpack.packb([1, []]), "expected a map"),
        (msgpack.packb({"v": 1}), "expected fields v and changes"),
        (msgpack.packb({"v": 1, "changes": [], "x": 0}), "expected fields"),
        (_message(GOOD, v=2), "unsupported version 2"),
        (_message(GOOD, v="1"), "unsupported version '1'"),
        (_message(GOOD, v=True), "unsupported version True"),
        (msgpack.packb({"v": 1, "changes": {}}), "changes is dict"),
        (_message(GOOD[:5]), "change #0 must be an array of 6"),
        (_message(GOOD, "k"), "change #1 must be an array"),
        (_message(_with(0, "1")), "change #0: seq must be"),
        (_message(_with(0, -1)), "seq must be"),
        (_message(_with(1, b"k")), "key must be str"),
        (_message(_with(2, "v")), "value must be bytes"),
        (_message(_with(2, None)), "value must be bytes"),
        (_message(_with(3, 1)), "tombstone must be a bool"),
        (_message(_with(3, True)), "a tombstone carries no value"),
        (_message(_with(4, -1)), "hlc must be"),
        (_message(_with(4, 2**63)), "hlc must be"),
        (_message(_with(4, 1.5)), "hlc must be"),
        (_message(_with(5, "")), "origin must be"),
        (_message(_with(5, None)), "origin must be"),
    ],
)
def test_malformed_messages_are_value_errors(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        decode_changes(data)
    assert str(info.value).startswith("malformed change message")


def test_invalid_utf8_in_a_key_is_malformed() -> None:
    raw_key = msgpack.packb({"v": 1, "changes": [[1, "K", b"v", False, 5, "a"]]})
    data = raw_key.replace(b"\xa1K", b"\xa1\xff")
    with pytest.raises(ValueError, match="malformed change message"):
        decode_changes(data)


def test_decode_wants_bytes_and_encode_wants_changes() -> None:
    with pytest.raises(TypeError):
        decode_changes("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected Change"):
        encode_changes([GOOD])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "fields",
    [
        (1, "k", None, False, 5, "a"),
        (1, "k", b"v", True, 5, "a"),
        (1, "k", bytearray(b"v"), False, 5, "a"),
        (1, "\ud800", b"v", False, 5, "a"),
        (True, "k", b"v", False, 5, "a"),
        (1, "k", b"v", False, 5, ""),
    ],
)
def test_inconsistent_changes_cannot_be_built(fields: tuple[Any, ...]) -> None:
    with pytest.raises(ValueError):
        Change(*fields)


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
