"""The event log: batched writes off the caller's thread, trimming, ids shared by processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from runtime.stores._sqlite import open_connection
from runtime.stores.events import (
    PREVIEW_BYTES,
    EventLog,
    EventWriter,
    MemoryEvents,
    clip,
    preview,
    start_afresh,
)

ROOT = Path(__file__).resolve().parents[3]


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("not within the time allowed")


def test_events_are_written_in_batches_by_the_writers_thread(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    writer = EventWriter(path, flush_seconds=0.1).start()
    reader = EventLog(path)
    try:
        for n in range(500):
            writer.emit("request", {"n": n})
        # emit only queued them: the thread writes them together a moment later.
        wait_for(lambda: reader.count() == 500)
        assert writer.batches <= 3
        events = reader.after(0, 1000)
        assert [e.fields["n"] for e in events] == list(range(500))
        assert [e.id for e in events] == list(range(1, 501))
        assert all(e.kind == "request" for e in events)
        assert events[0].at <= events[-1].at <= time.time()
        assert events[0].to_json() == {"id": 1, "at": events[0].at, "kind": "request", "n": 0}
    finally:
        writer.close()
        reader.close()


def test_close_writes_what_is_still_waiting(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    writer = EventWriter(path, flush_seconds=60).start()
    writer.emit("network", {"action": "heal"})
    writer.close()
    reader = EventLog(path)
    assert [e.fields for e in reader.after(0)] == [{"action": "heal"}]
    reader.close()


def test_the_log_keeps_only_the_newest_rows_and_ids_never_repeat(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.sqlite", keep=100)
    for start in range(0, 350, 50):
        log.write([(time.time(), "k", json.dumps({"n": n})) for n in range(start, start + 50)])
    assert log.count() == 100
    kept = log.after(0, 1000)
    assert [e.id for e in kept] == list(range(251, 351))
    assert [e.id for e in log.recent(3)] == [348, 349, 350]  # newest, oldest first
    assert log.last_id() == 350
    log.reset()
    assert log.count() == 0 and log.last_id() == 350
    log.write([(time.time(), "k", "{}")])
    assert [e.id for e in log.after(0)] == [351]  # a reconnecting page's cursor stays valid
    log.close()


def test_a_stalled_disk_drops_events_instead_of_blocking_or_growing(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    writer = EventWriter(path, flush_seconds=0.05, max_pending=100).start()
    blocker = open_connection(path)
    blocker.execute("BEGIN EXCLUSIVE")  # as a disk that does not answer: writes wait
    try:
        time.sleep(0.1)
        started = time.perf_counter()
        for n in range(1000):
            writer.emit("request", {"n": n})
        assert time.perf_counter() - started < 0.5  # never waited on the disk
        assert writer.dropped >= 900  # at most max_pending wait; the rest are counted
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    wait_for(lambda: writer.written == 100)  # what waited goes out once the disk answers
    writer.emit("request", {"n": "after"})
    reader = EventLog(path)
    wait_for(lambda: any(e.fields["n"] == "after" for e in reader.after(0, 2000)))
    writer.close()
    assert writer.written + writer.dropped == 1001
    assert reader.count() == writer.written
    reader.close()


_EMITTER = textwrap.dedent(
    """
    import sys, time
    from runtime.stores.events import EventWriter

    path, name, count, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    writer = EventWriter(path, flush_seconds=0.01).start()
    time.sleep(max(0.0, start - time.time()))  # both begin together
    for n in range(count):
        writer.emit("test", {"writer": name, "n": n})
        if n % 20 == 0:
            time.sleep(0.002)  # spread over a while: many batches from each process
    writer.close(timeout=30)
    assert writer.dropped == 0, writer.dropped
    """
)


def test_two_processes_writing_at_once_share_one_sequence(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    EventLog(path).close()  # the schema exists before the two race
    start = str(time.time() + 3)
    procs = [
        subprocess.Popen([sys.executable, "-c", _EMITTER, str(path), name, "3000", start], cwd=ROOT)
        for name in ("a", "b")
    ]
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    log = EventLog(path)
    events = log.after(0, 10_000)
    log.close()
    assert [e.id for e in events] == list(range(1, 6001))  # unique, no holes
    for name in ("a", "b"):
        mine = [e.fields["n"] for e in events if e.fields["writer"] == name]
        assert mine == list(range(3000))  # each process's events in the order it emitted
    writers = [e.fields["writer"] for e in events]
    switches = sum(1 for x, y in zip(writers, writers[1:], strict=False) if x != y)
    assert switches > 10  # they did write at the same time


def test_values_are_shown_cut_to_256_bytes_as_text_when_they_are_utf8() -> None:
    assert preview(b"hello") == {"text": "hello", "hex": b"hello".hex(), "size": 5}
    assert preview(b"\xff\x00") == {"text": None, "hex": "ff00", "size": 2}
    assert preview(None) == {"text": None, "hex": "", "size": 0}
    long = "é" * 200  # 400 bytes: the cut falls inside a character
    shown = preview(long.encode())
    assert shown["size"] == 400
    assert len(bytes.fromhex(shown["hex"])) == PREVIEW_BYTES
    assert shown["text"] == "é" * 128
    assert clip("k" * 300) == "k" * 256
    assert clip("ü" * 200) == "ü" * 128


def test_the_emulators_log_in_memory_is_bounded() -> None:
    memory = MemoryEvents(keep=3, clock=lambda: 12.5)
    for n in range(5):
        memory.emit("kv.sent", {"n": n})
    memory.emit("kv.applied", {"n": 5})
    assert [e.id for e in memory.events()] == [4, 5, 6]
    assert [e.to_json() for e in memory.events("kv.applied")] == [
        {"id": 6, "at": 12.5, "kind": "kv.applied", "n": 5}
    ]


def test_a_new_edge_up_replaces_a_log_that_is_no_database(tmp_path: Path) -> None:
    (tmp_path / "events.sqlite").write_bytes(b"not a database at all, " * 100)
    start_afresh(tmp_path)
    log = EventLog.in_state_dir(tmp_path)
    log.write([(time.time(), "k", "{}")])
    assert [e.id for e in log.after(0)] == [1]
    log.close()
    start_afresh(tmp_path)  # a log that is fine is emptied, its ids go on
    log = EventLog.in_state_dir(tmp_path)
    assert log.count() == 0 and log.last_id() == 1
    log.close()
