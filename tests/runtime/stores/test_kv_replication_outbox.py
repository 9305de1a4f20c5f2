"""KVStore's outbox of local writes: order, atomicity, durability, sharing, upgrade."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from runtime.stores import Change, KVError, KVStore
from runtime.stores._sqlite import driver
from runtime.stores.kv import SCHEMA_VERSION

REPO = Path(__file__).resolve().parents[3]


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
        raw = driver.connect(path)
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
    raw = driver.connect(path)
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
    raw = driver.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()
