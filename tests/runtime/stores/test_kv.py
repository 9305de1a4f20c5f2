from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.stores import (
    MAX_KEY_BYTES,
    MAX_VALUE_BYTES,
    KVError,
    KVStore,
    TooLarge,
    pack_hlc,
    unpack_hlc,
)
from runtime.stores._sqlite import driver

REPO = Path(__file__).resolve().parents[3]


class FakeClock:
    """A settable clock in seconds, like the emulator's virtual clock."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "kv.sqlite"


@pytest.fixture
def store(path: Path) -> Iterator[KVStore]:
    with KVStore(path, region="us-east") as s:
        yield s


# --- basic operations -------------------------------------------------------------------


def test_get_of_a_missing_key_is_none(store: KVStore) -> None:
    assert store.get("nope") is None
    assert store.exists("nope") is False


def test_set_then_get_exists(store: KVStore) -> None:
    store.set("greeting", b"hello")
    assert store.get("greeting") == b"hello"
    assert store.exists("greeting") is True


def test_set_overwrites(store: KVStore) -> None:
    store.set("k", b"one")
    store.set("k", b"two")
    assert store.get("k") == b"two"
    assert store.keys() == ["k"]


def test_empty_value_is_not_absence(store: KVStore) -> None:
    store.set("empty", b"")
    assert store.get("empty") == b""
    assert store.exists("empty")


def test_binary_values_round_trip(store: KVStore) -> None:
    value = bytes(range(256)) * 3
    store.set("bin", value)
    assert store.get("bin") == value


def test_bytearray_and_memoryview_values_are_accepted(store: KVStore) -> None:
    store.set("a", bytearray(b"xy"))
    store.set("m", memoryview(b"zw"))
    assert (store.get("a"), store.get("m")) == (b"xy", b"zw")


def test_str_value_is_a_type_error(store: KVStore) -> None:
    with pytest.raises(TypeError, match="bytes, not str"):
        store.set("k", "text")  # type: ignore[arg-type]
    assert store.get("k") is None


def test_non_str_key_is_a_type_error(store: KVStore) -> None:
    with pytest.raises(TypeError, match="keys are str"):
        store.get(b"k")  # type: ignore[arg-type]


def test_delete_removes_the_key(store: KVStore) -> None:
    store.set("k", b"v")
    store.delete("k")
    assert store.get("k") is None
    assert store.exists("k") is False
    assert store.keys() == []


def test_delete_of_a_missing_key_is_fine_and_leaves_a_tombstone(store: KVStore) -> None:
    store.delete("never-set")
    assert store.get("never-set") is None
    entry = store.entry("never-set")
    assert entry is not None and entry.tombstone and entry.value is None


def test_set_after_delete_revives_the_key(store: KVStore) -> None:
    store.set("k", b"1")
    store.delete("k")
    store.set("k", b"2")
    assert store.get("k") == b"2"
    entry = store.entry("k")
    assert entry is not None and not entry.tombstone


def test_keys_are_sorted_and_skip_tombstones(store: KVStore) -> None:
    for key in ["pear", "apple", "fig", "banana"]:
        store.set(key, b"x")
    store.delete("fig")
    assert store.keys() == ["apple", "banana", "pear"]


def test_stats_count_live_keys_and_bytes(store: KVStore) -> None:
    assert store.stats().keys == 0 and store.stats().total_bytes == 0
    store.set("ab", b"12345")
    store.set("\u20ac", b"")  # 3 UTF-8 bytes of key, empty value
    store.set("gone", b"zzzz")
    store.delete("gone")
    stats = store.stats()
    assert (stats.keys, stats.key_bytes, stats.value_bytes, stats.tombstones) == (2, 5, 5, 1)
    assert stats.total_bytes == 10


# --- limits -----------------------------------------------------------------------------


def test_default_limits_are_spins() -> None:
    assert MAX_KEY_BYTES == 255
    assert MAX_VALUE_BYTES == 1024 * 1024


def test_key_exactly_at_the_limit_is_accepted(store: KVStore) -> None:
    key = "k" * 255
    store.set(key, b"v")
    assert store.get(key) == b"v"
    assert store.keys() == [key]


def test_key_one_byte_over_is_too_large(store: KVStore) -> None:
    with pytest.raises(TooLarge) as info:
        store.set("k" * 256, b"v")
    assert str(info.value).startswith(
        "too large: key of 256 bytes exceeds the maximum key size of 255 bytes"
    )
    assert store.keys() == []


def test_key_limit_counts_utf8_bytes_not_characters(store: KVStore) -> None:
    at_limit = "\u20ac" * 85  # 85 characters, 255 bytes
    store.set(at_limit, b"v")
    assert store.get(at_limit) == b"v"
    with pytest.raises(TooLarge, match=r"^too large: key of 258 bytes .* 255 bytes"):
        store.set("\u20ac" * 86, b"v")  # 86 characters, 258 bytes


def test_value_exactly_at_the_limit_is_accepted(store: KVStore) -> None:
    value = b"\xab" * 1_048_576
    store.set("big", value)
    assert store.get("big") == value


def test_value_one_byte_over_is_too_large_and_keeps_the_old_value(store: KVStore) -> None:
    store.set("big", b"old")
    with pytest.raises(TooLarge) as info:
        store.set("big", b"\x00" * 1_048_577)
    assert str(info.value).startswith(
        "too large: value of 1048577 bytes exceeds the maximum value size of 1048576 bytes"
    )
    assert store.get("big") == b"old"


def test_too_large_is_a_kv_error(store: KVStore) -> None:
    with pytest.raises(KVError):
        store.set("k" * 300, b"")


def test_oversized_key_reads_as_absent_and_cannot_be_deleted(store: KVStore) -> None:
    key = "k" * 256
    assert store.get(key) is None
    assert store.exists(key) is False
    with pytest.raises(TooLarge, match="^too large: key of 256 bytes"):
        store.delete(key)


def test_limits_are_configurable(path: Path) -> None:
    with KVStore(path, max_key_bytes=4, max_value_bytes=2) as small:
        small.set("abcd", b"12")
        with pytest.raises(TooLarge, match="key of 5 bytes exceeds the maximum key size of 4"):
            small.set("abcde", b"1")
        with pytest.raises(TooLarge, match="value of 3 bytes exceeds the maximum value size of 2"):
            small.set("a", b"123")
        assert small.keys() == ["abcd"]


# --- unicode ----------------------------------------------------------------------------


def test_unicode_keys(store: KVStore) -> None:
    keys = ["caf\u00e9", "cafe\u0301", "\u65e5\u672c", "\U0001f600", "a\x00b", "", " "]
    for i, key in enumerate(keys):
        store.set(key, str(i).encode())
    for i, key in enumerate(keys):
        assert store.get(key) == str(i).encode()
    # Composed and decomposed forms are different keys, as in Spin.
    assert store.get("caf\u00e9") != store.get("cafe\u0301")
    assert store.keys() == sorted(keys)


def test_lone_surrogate_key_is_rejected(store: KVStore) -> None:
    with pytest.raises(KVError, match="not valid Unicode"):
        store.set("\ud800", b"x")


# --- durability and sharing -------------------------------------------------------------


def test_data_survives_close_and_reopen(path: Path) -> None:
    with KVStore(path, region="us-east") as first:
        first.set("kept", b"1")
        first.set("gone", b"2")
        first.delete("gone")
        stamp = first.last_hlc()
    with KVStore(path, region="us-east") as second:
        assert second.get("kept") == b"1"
        assert second.get("gone") is None
        tomb = second.entry("gone")
        assert tomb is not None and tomb.tombstone
        assert second.last_hlc() == stamp
        assert second.keys() == ["kept"]


def test_file_is_in_wal_mode(store: KVStore, path: Path) -> None:
    store.set("k", b"v")
    conn = driver.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_two_stores_on_one_file_see_each_others_writes(path: Path) -> None:
    with KVStore(path, region="us-east") as a, KVStore(path, region="us-east") as b:
        a.set("from-a", b"1")
        assert b.get("from-a") == b"1"
        b.set("from-b", b"2")
        b.delete("from-a")
        assert a.get("from-a") is None
        assert a.keys() == ["from-b"]


def test_hlc_is_monotonic_across_handles_sharing_a_file(path: Path) -> None:
    clock_a, clock_b = FakeClock(1000.0), FakeClock(500.0)  # b's clock lags far behind
    with KVStore(path, clock=clock_a) as a, KVStore(path, clock=clock_b) as b:
        first = a.set("k", b"a")
        second = b.set("k", b"b")
        assert second > first
        assert b.get("k") == b"b"


def test_concurrent_writers_on_one_file_lose_nothing(path: Path) -> None:
    stores = [KVStore(path) for _ in range(4)]
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(100):
                stores[n].set(f"w{n}-{i:03d}", str(i).encode())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert len(stores[0].keys()) == 400
        assert stores[3].get("w0-099") == b"99"
        assert stores[1].outbox_len() == stores[2].last_seq() == 400  # one row per write
    finally:
        for s in stores:
            s.close()


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_another_process_writing_at_the_same_time(path: Path) -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            from pathlib import Path
            from runtime.stores import KVStore
            with KVStore(Path({str(path)!r}), region="eu-west") as s:
                for i in range(200):
                    s.set(f"child-{{i:03d}}", b"c")
        """),
        ],
        cwd=REPO,
    )
    with KVStore(path, region="us-east") as mine:
        for i in range(200):
            mine.set(f"parent-{i:03d}", b"p")
        assert child.wait(timeout=60) == 0
        keys = mine.keys()
        assert len(keys) == 400
        entry = mine.entry("child-199")
        assert entry is not None and entry.origin == "eu-west"


def test_acknowledged_write_survives_a_killed_process(path: Path) -> None:
    result = _run_python(f"""
        import os, signal
        from pathlib import Path
        from runtime.stores import KVStore
        s = KVStore(Path({str(path)!r}))
        s.set("acked", b"durable")
        print("acknowledged", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no cleanup
    """)
    assert result.stdout.strip() == "acknowledged"
    assert result.returncode == -9
    with KVStore(path) as reopened:
        assert reopened.get("acked") == b"durable"
        assert [(c.key, c.value) for c in reopened.changes_since(0)] == [("acked", b"durable")]


def test_closed_store_refuses_operations(path: Path) -> None:
    s = KVStore(path)
    s.close()
    s.close()  # idempotent
    assert s.closed
    with pytest.raises(KVError, match="is closed"):
        s.get("k")
    with pytest.raises(KVError, match="is closed"):
        s.set("k", b"v")


def test_newer_schema_is_refused(path: Path) -> None:
    KVStore(path).close()
    conn = driver.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(KVError, match="schema version 99 is newer"):
        KVStore(path)


# --- replication metadata ---------------------------------------------------------------


def test_writes_are_stamped_with_region_and_clock(path: Path) -> None:
    clock = FakeClock(1_700_000_000.123)
    with KVStore(path, region="eu-west", clock=clock) as s:
        stamp = s.set("k", b"v")
        entry = s.entry("k")
        assert entry is not None
        assert (entry.hlc, entry.origin, entry.tombstone) == (stamp, "eu-west", False)
        assert unpack_hlc(stamp) == (1_700_000_000_123, 0)


def test_same_millisecond_bumps_the_logical_counter(path: Path) -> None:
    with KVStore(path, clock=FakeClock(2000.0)) as s:
        stamps = [s.set("k", b"v"), s.delete("k"), s.set("j", b"v")]
        assert [unpack_hlc(h) for h in stamps] == [(2_000_000, 0), (2_000_000, 1), (2_000_000, 2)]


def test_clock_going_backwards_does_not_reorder_writes(path: Path) -> None:
    clock = FakeClock(5000.0)
    with KVStore(path, clock=clock) as s:
        before = s.set("k", b"1")
        clock.now = 4000.0
        after = s.set("k", b"2")
        assert after > before


def test_explicit_stamp_and_origin_are_kept_and_move_the_clock(path: Path) -> None:
    far_future = pack_hlc(9_000_000_000_000, 7)
    with KVStore(path, region="us-east", clock=FakeClock(1000.0)) as s:
        assert s.set("k", b"remote", hlc=far_future, origin="ap-south") == far_future
        entry = s.entry("k")
        assert entry is not None and (entry.hlc, entry.origin) == (far_future, "ap-south")
        assert s.last_hlc() == far_future
        # A later local write must win over what it has seen, whatever the wall clock says.
        assert s.delete("k") == far_future + 1
        tomb = s.entry("k")
        assert tomb is not None and tomb.origin == "us-east" and tomb.tombstone
        # Only the local delete is queued for the other regions.
        assert [(c.key, c.tombstone, c.origin) for c in s.changes_since(0)] == [
            ("k", True, "us-east")
        ]


def test_explicit_older_stamp_does_not_move_the_clock_back(path: Path) -> None:
    with KVStore(path, clock=FakeClock(1000.0)) as s:
        latest = s.set("a", b"1")
        s.set("b", b"2", hlc=5, origin="eu-west")
        assert s.last_hlc() == latest


@pytest.mark.parametrize("bad", [-1, 2**63, True, 1.5])
def test_invalid_stamps_are_rejected(store: KVStore, bad: object) -> None:
    with pytest.raises(KVError, match="hlc must be an integer"):
        store.set("k", b"v", hlc=bad)  # type: ignore[arg-type]
    assert store.get("k") is None


def test_a_clock_object_with_now_is_accepted(path: Path) -> None:
    class Clock:
        def now(self) -> float:
            return 3000.0

    with KVStore(path, clock=Clock()) as s:
        assert unpack_hlc(s.set("k", b"v")) == (3_000_000, 0)


def test_empty_origin_is_rejected(store: KVStore) -> None:
    with pytest.raises(KVError, match="origin"):
        store.set("k", b"v", origin="")
