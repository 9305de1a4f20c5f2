"""Reading committed transactions out of real SQLite WAL files (runtime.stores.wal)."""

from __future__ import annotations

import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.stores import wal
from runtime.stores._sqlite import driver, open_connection
from runtime.stores.wal import WalPosition, checksum, read_changes, read_header, wal_path


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[driver.Connection]:
    db = open_connection(tmp_path / "p.sqlite")
    db.execute("PRAGMA wal_autocheckpoint = 0")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
    yield db
    db.close()


def log_of(conn: driver.Connection) -> Path:
    (_, _, file), *_ = conn.execute("PRAGMA database_list").fetchall()
    return wal_path(Path(file))


def pages_of(conn: driver.Connection) -> dict[int, bytes]:
    return dict(conn.execute("SELECT pgno, data FROM sqlite_dbpage").fetchall())


def start(log: Path) -> WalPosition:
    header = read_header(log)
    assert header is not None
    return WalPosition.start(header)


def test_the_committed_pages_are_the_database_s(conn: driver.Connection) -> None:
    for size in (10, 5000, 300):
        conn.execute("INSERT INTO t (v) VALUES (randomblob(?))", (size,))
    conn.execute("UPDATE t SET v = x'01' WHERE id = 2")
    changes = read_changes(log_of(conn), start(log_of(conn)))
    pages = pages_of(conn)
    assert changes.db_size == len(pages)
    assert changes.pages == {n: pages[n] for n in changes.pages}
    assert changes.end.frame == changes.frames  # nothing uncommitted after the last commit
    # From the end on, nothing more; one write later, just its pages.
    assert not read_changes(log_of(conn), changes.end).committed
    conn.execute("UPDATE t SET v = x'02' WHERE id = 1")
    after = read_changes(log_of(conn), changes.end)
    assert after.committed and len(after.pages) == after.frames == 1
    assert after.end.frame == changes.end.frame + 1


def test_a_rolled_back_transaction_that_spilled_is_not_returned(
    conn: driver.Connection,
) -> None:
    conn.execute("INSERT INTO t (v) VALUES ('kept')")
    committed = read_changes(log_of(conn), start(log_of(conn)))
    conn.execute("PRAGMA cache_size = 10")  # small: the transaction writes frames early
    conn.execute("BEGIN")
    for _ in range(200):
        conn.execute("INSERT INTO t (v) VALUES (randomblob(3000))")
    conn.execute("ROLLBACK")
    log = log_of(conn)
    assert log.stat().st_size > wal.frame_offset(committed.end.frame + 50, 4096)
    again = read_changes(log, start(log))
    assert again.end == committed.end and again.pages == committed.pages


def test_reading_stops_before_a_torn_or_foreign_frame(
    conn: driver.Connection, tmp_path: Path
) -> None:
    conn.execute("INSERT INTO t (v) VALUES ('one')")
    first = read_changes(log_of(conn), start(log_of(conn)))
    conn.execute("INSERT INTO t (v) VALUES ('two')")
    conn.execute("INSERT INTO t (v) VALUES ('three')")
    whole = read_changes(log_of(conn), first.end)
    assert whole.end.frame == first.end.frame + 2
    copy = tmp_path / "copy-wal"
    # A byte changed in the second transaction's page: that one and all after are not valid.
    shutil.copy(log_of(conn), copy)
    with open(copy, "r+b") as f:
        f.seek(wal.frame_offset(first.end.frame + 2, 4096) + wal.FRAME_HEADER_SIZE + 100)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    torn = read_changes(copy, first.end)
    assert torn.end.frame == first.end.frame + 1
    # A frame with other salts (a later generation's) ends the reading too.
    shutil.copy(log_of(conn), copy)
    with open(copy, "r+b") as f:
        f.seek(wal.frame_offset(first.end.frame + 1, 4096) + 8)
        f.write(struct.pack(">I", first.end.salt1 + 1))
    assert not read_changes(copy, first.end).committed
    # A file cut in the middle of a frame: the frames before it still count.
    shutil.copy(log_of(conn), copy)
    with open(copy, "r+b") as f:
        f.truncate(wal.frame_offset(first.end.frame + 2, 4096) + 1000)
    assert read_changes(copy, first.end).end.frame == first.end.frame + 1


def test_a_header_must_be_whole_and_valid(conn: driver.Connection, tmp_path: Path) -> None:
    conn.execute("INSERT INTO t (v) VALUES (1)")
    raw = log_of(conn).read_bytes()[:32]
    header = wal.parse_header(raw)
    assert header is not None and header.page_size == 4096 and not header.big_endian
    assert wal.parse_header(raw[:31]) is None
    assert wal.parse_header(raw[:20] + bytes(4) + raw[24:]) is None  # salt changed
    assert read_header(tmp_path / "missing-wal") is None


def test_big_endian_checksums_are_followed_too(conn: driver.Connection, tmp_path: Path) -> None:
    # SQLite writes this machine's (little-endian) order; a log written on a
    # big-endian machine has the other magic number and word order.
    for _ in range(3):
        conn.execute("INSERT INTO t (v) VALUES (randomblob(2000))")
    native = read_changes(log_of(conn), start(log_of(conn)))
    copy = tmp_path / "big-wal"
    copy.write_bytes(_with_big_endian_checksums(log_of(conn).read_bytes(), native.end.frame))
    header = read_header(copy)
    assert header is not None and header.big_endian
    big = read_changes(copy, WalPosition.start(header))
    assert big.pages == native.pages and big.end.frame == native.end.frame


def test_continues_after_tells_an_end_from_a_generation_that_went_on(
    conn: driver.Connection,
) -> None:
    conn.execute("INSERT INTO t (v) VALUES (1)")
    end = read_changes(log_of(conn), start(log_of(conn))).end
    assert wal.continues_after(log_of(conn), end) is False
    conn.execute("INSERT INTO t (v) VALUES (2)")
    assert wal.continues_after(log_of(conn), end) is True
    other = WalPosition(end.salt1, end.salt2, end.frame, (1, 2), end.big_endian, end.page_size)
    assert wal.continues_after(log_of(conn), other) is None  # not that frame any more


def _with_big_endian_checksums(data: bytes, frames: int) -> bytes:
    page_size = 4096
    header = bytearray(data[:32])
    header[0:4] = struct.pack(">I", wal.MAGIC_BIG)
    s = checksum(bytes(header[:24]), True)
    header[24:32] = struct.pack(">2I", *s)
    out = bytearray(header)
    size = wal.FRAME_HEADER_SIZE + page_size
    for i in range(frames):
        frame = bytearray(data[32 + i * size : 32 + (i + 1) * size])
        s = checksum(bytes(frame[:8]), True, *s)
        s = checksum(bytes(frame[24:]), True, *s)
        frame[16:24] = struct.pack(">2I", *s)
        out += frame
    return bytes(out)
