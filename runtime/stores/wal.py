"""Reading the committed transactions of a SQLite WAL file, from a known position on.

SQLite's write-ahead log (sqlite.org/walformat.html, fileformat2.html §4) is a
32-byte header and then frames, each a 24-byte frame header and one page. The
header's magic number says in which byte order the checksums are computed;
its two salts name the log's current generation (they change every time
SQLite starts writing the log from its beginning again). A frame belongs to
the generation when its salts equal the header's and its checksum, computed
over the header and every frame before it, matches. A frame whose "database
size" field is not zero ends a committed transaction.

This module only reads the file, never writes it and never locks it: SQLite
keeps its locks on the database and -shm files, so opening and closing the
-wal file here does not disturb them. What it returns is the pages of the
transactions committed after a position, up to the last valid commit frame;
frames after that (a transaction still being written, one rolled back, a
frame torn by a crash) are left for a later read, or forever.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

HEADER_SIZE = 32
FRAME_HEADER_SIZE = 24
MAGIC_LITTLE = 0x377F0682  # checksums over little-endian 32-bit words
MAGIC_BIG = 0x377F0683  # checksums over big-endian words
FORMAT_VERSION = 3007000
_MASK = 0xFFFFFFFF
_FIRST_READ = 4  # frames read at first (a sync after one write needs one or two)
_READ_FRAMES = 256  # at most, at once


class WalError(Exception):
    """The WAL file cannot be read as a WAL of this page size."""


@dataclass(frozen=True)
class WalHeader:
    big_endian: bool
    page_size: int
    sequence: int  # SQLite's checkpoint sequence number
    salt1: int
    salt2: int
    checksum: tuple[int, int]

    @property
    def generation(self) -> tuple[int, int]:
        """The salts: equal for every frame written since the log last started over."""
        return (self.salt1, self.salt2)


@dataclass(frozen=True)
class WalPosition:
    """Where a reader of one generation of the log stands.

    `frame` counts the frames read (the index of the last commit frame taken,
    from 1; 0 before the first), `checksum` is the running checksum after it
    (the header's own checksum at frame 0), needed to check the frames after.
    """

    salt1: int
    salt2: int
    frame: int
    checksum: tuple[int, int]
    big_endian: bool
    page_size: int

    @property
    def generation(self) -> tuple[int, int]:
        return (self.salt1, self.salt2)

    @classmethod
    def start(cls, header: WalHeader) -> WalPosition:
        """Before the first frame of the header's generation."""
        return cls(
            header.salt1, header.salt2, 0, header.checksum, header.big_endian, header.page_size
        )


@dataclass
class WalChanges:
    """The committed transactions read after a position."""

    end: WalPosition  # after the last commit frame read (the start position if none)
    pages: dict[int, bytes] = field(default_factory=dict)  # page number -> newest version
    db_size: int | None = None  # pages in the database after the last commit read
    frames: int = 0  # frames of those transactions

    @property
    def committed(self) -> bool:
        return self.db_size is not None


def checksum(data: bytes, big_endian: bool, s0: int = 0, s1: int = 0) -> tuple[int, int]:
    """SQLite's WAL checksum of `data` (a multiple of 8 bytes), continuing from (s0, s1)."""
    words = struct.unpack(f"{'>' if big_endian else '<'}{len(data) // 4}I", data)
    pairs = iter(words)
    for a, b in zip(pairs, pairs, strict=True):
        s0 = (s0 + a + s1) & _MASK
        s1 = (s1 + b + s0) & _MASK
    return s0, s1


def wal_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + "-wal")


def read_header(path: Path) -> WalHeader | None:
    """The header of the WAL file, or None when there is none or it is not valid.

    SQLite itself ignores a log whose header is not valid, so such a log holds
    nothing: every committed page is in the database file.
    """
    try:
        with open(path, "rb") as wal:
            raw = wal.read(HEADER_SIZE)
    except FileNotFoundError:
        return None
    return parse_header(raw)


def parse_header(raw: bytes) -> WalHeader | None:
    if len(raw) < HEADER_SIZE:
        return None
    magic, version, page_size, sequence, salt1, salt2, c1, c2 = struct.unpack(">8I", raw[:32])
    if magic not in (MAGIC_LITTLE, MAGIC_BIG) or version != FORMAT_VERSION:
        return None
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        return None
    big_endian = magic == MAGIC_BIG
    if checksum(raw[:24], big_endian) != (c1, c2):
        return None
    return WalHeader(big_endian, page_size, sequence, salt1, salt2, (c1, c2))


def frame_offset(index: int, page_size: int) -> int:
    """Where frame `index` (from 1) starts in the file."""
    return HEADER_SIZE + (index - 1) * (FRAME_HEADER_SIZE + page_size)


def read_changes(
    path: Path, position: WalPosition, *, first: int = 1, offset: int = HEADER_SIZE
) -> WalChanges:
    """The transactions committed in the file after `position`, in its generation.

    Later versions of a page replace earlier ones. Reading stops at the first
    frame that is missing, of another generation or fails its checksum; the
    frames of a transaction whose commit frame was not reached are not
    returned, so the result is always whole transactions. `first` and
    `offset` say where frame `first` starts, for a file of frames kept aside.
    """
    changes = WalChanges(end=position)
    size = FRAME_HEADER_SIZE + position.page_size
    s0, s1 = position.checksum
    pending: dict[int, bytes] = {}
    pending_frames = 0
    index = position.frame
    if index + 1 < first:
        return changes
    try:
        wal = open(path, "rb")  # noqa: SIM115 (closed by the with below)
    except FileNotFoundError:
        return changes
    with wal:
        wal.seek(offset + (index + 1 - first) * size)
        frames = _FIRST_READ
        while True:
            wanted = size * frames
            chunk = wal.read(wanted)
            frames = min(frames * 4, _READ_FRAMES)
            for start in range(0, len(chunk) - size + 1, size):
                frame = chunk[start : start + size]
                pgno, db_size, salt1, salt2, c1, c2 = struct.unpack(">6I", frame[:24])
                if (salt1, salt2) != position.generation or pgno == 0:
                    return changes
                s0, s1 = checksum(frame[:8], position.big_endian, s0, s1)
                s0, s1 = checksum(frame[24:], position.big_endian, s0, s1)
                if (s0, s1) != (c1, c2):
                    return changes
                index += 1
                pending[pgno] = frame[24:]
                pending_frames += 1
                if db_size:
                    changes.pages.update(pending)
                    changes.frames += pending_frames
                    pending.clear()
                    pending_frames = 0
                    changes.db_size = db_size
                    changes.end = WalPosition(
                        salt1,
                        salt2,
                        index,
                        (s0, s1),
                        position.big_endian,
                        position.page_size,
                    )
            if len(chunk) < wanted:
                return changes


def continues_after(path: Path, position: WalPosition) -> bool | None:
    """Whether the file still shows `position`'s frame, and a valid frame after it.

    None: the frame at `position` is no longer in the file (or never was), so
    nothing can be said. False: it is there and the generation ends with it.
    True: the generation has a valid frame after it (committed or not).
    """
    if position.frame < 1:
        return None
    size = FRAME_HEADER_SIZE + position.page_size
    try:
        with open(path, "rb") as wal:
            wal.seek(frame_offset(position.frame, position.page_size))
            raw = wal.read(2 * size)
    except FileNotFoundError:
        return None
    if len(raw) < FRAME_HEADER_SIZE:
        return None
    _, _, salt1, salt2, c1, c2 = struct.unpack(">6I", raw[:24])
    if (salt1, salt2) != position.generation or (c1, c2) != position.checksum:
        return None
    after = raw[size:]
    if len(after) < size:
        return False
    pgno, _, salt1, salt2, c1, c2 = struct.unpack(">6I", after[:24])
    if (salt1, salt2) != position.generation or pgno == 0:
        return False
    s0, s1 = checksum(after[:8], position.big_endian, *position.checksum)
    return checksum(after[24:], position.big_endian, s0, s1) == (c1, c2)


def read_frames(path: Path, after: int, last: int, page_size: int) -> bytes:
    """The raw bytes of frames after+1 to last, as they are in the file."""
    with open(path, "rb") as wal:
        wal.seek(frame_offset(after + 1, page_size))
        return wal.read((last - after) * (FRAME_HEADER_SIZE + page_size))
