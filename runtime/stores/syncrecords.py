"""What replication writes down beside the SQL files, so that every process agrees.

Beside a replica, `<label>.sqlite.sync` is both the lock that syncs into it
take turns under and the record of where the replica stands: when it was last
synced, from which primary, how many pages it has and its position in the
primary's WAL (runtime.stores.wal), or, when the primary had no WAL then, which
database file it equals.

Beside the primary, `<label>.sqlite.checkpoints` records the last checkpoint
replication made of the primary's WAL: the generation and frame it ended at,
the checksum there, and the frames before it that were kept aside (the
"tail", `<label>.sqlite.wal-tail`) for replicas not yet at the end.

A record that is missing, unreadable or from another primary counts as none:
the replica is then compared page by page with the primary.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .wal import WalPosition


@dataclass(frozen=True)
class FileState:
    """A database file that nothing has written since (identity, size, modification)."""

    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileState | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        return cls(st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class ReplicaRecord:
    synced_at: float
    primary: str
    pages: int  # the replica's size in pages after the sync
    position: WalPosition | None  # in the primary's WAL, when it had one
    file: FileState | None = None  # the primary's file, when it had no WAL
    token: str = ""  # new at every sync: whether the last one was this process's

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "synced_at": self.synced_at,
            "primary": self.primary,
            "pages": self.pages,
            "token": self.token,
        }
        if self.position is not None:
            data["wal"] = position_json(self.position)
        if self.file is not None:
            data["file"] = [self.file.inode, self.file.size, self.file.mtime_ns]
        return data


@dataclass(frozen=True)
class CheckpointEnd:
    """Replication checkpointed the primary's WAL to `end` (the whole log then)."""

    end: WalPosition
    tail_from: int  # frames after this one, up to `end`, are in the tail file
    file: FileState  # the database file the checkpoint left

    def to_json(self) -> dict[str, Any]:
        return {
            "end": position_json(self.end),
            "tail_from": self.tail_from,
            "file": [self.file.inode, self.file.size, self.file.mtime_ns],
        }


def position_json(position: WalPosition) -> dict[str, Any]:
    return {
        "salts": [position.salt1, position.salt2],
        "frame": position.frame,
        "checksum": list(position.checksum),
        "big_endian": position.big_endian,
        "page_size": position.page_size,
    }


def position_from(data: Any) -> WalPosition:
    salt1, salt2 = data["salts"]
    c1, c2 = data["checksum"]
    return WalPosition(
        int(salt1),
        int(salt2),
        int(data["frame"]),
        (int(c1), int(c2)),
        bool(data["big_endian"]),
        int(data["page_size"]),
    )


@contextmanager
def locked(path: Path, *, shared: bool = False) -> Iterator[IO[str]]:
    """The file at `path` (created if missing), under flock until the block ends."""
    with os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o644), "r+") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        handle.seek(0)
        yield handle


def rewrite(handle: IO[str], data: dict[str, Any]) -> None:
    """Replace the content of a file opened with `locked`."""
    # Written over, then cut to length: cheaper than emptying the file first.
    handle.seek(0)
    handle.write(json.dumps(data))
    handle.truncate()
    handle.flush()


def parse_replica(text: str, primary: str) -> ReplicaRecord | None:
    """The record, or None if it is missing, unreadable or of another primary."""
    try:
        data = json.loads(text)
        if data.get("primary") != primary:
            return None
        position = position_from(data["wal"]) if "wal" in data else None
        file = FileState(*(int(x) for x in data["file"])) if "file" in data else None
        return ReplicaRecord(
            float(data["synced_at"]),
            primary,
            int(data["pages"]),
            position,
            file,
            str(data.get("token", "")),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def peek_replica(path: Path, primary: str) -> ReplicaRecord | None:
    """Another replica's record, read without its lock.

    Its writer truncates and rewrites it, so a read may catch it half written:
    that reads as unreadable (None), which callers treat as not known.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return parse_replica(text, primary)


def read_synced_at(path: Path) -> float | None:
    try:
        with open(path) as record:
            fcntl.flock(record, fcntl.LOCK_SH)
            text = record.read()
    except FileNotFoundError:
        return None
    try:
        return float(json.loads(text)["synced_at"])
    except (ValueError, KeyError, TypeError):
        return None


def read_checkpoint(path: Path) -> CheckpointEnd | None:
    """The last checkpoint replication recorded beside the primary, if readable."""
    if not path.exists():
        return None
    with locked(path, shared=True) as handle:
        return parse_checkpoint(handle.read())


def parse_checkpoint(text: str) -> CheckpointEnd | None:
    try:
        data = json.loads(text)
        file = FileState(*(int(x) for x in data["file"]))
        return CheckpointEnd(position_from(data["end"]), int(data["tail_from"]), file)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def stage_tail(path: Path, frames: bytes) -> Path:
    """Frames to keep aside, in a file beside the tail that `os.replace` makes it."""
    staged = path.with_name(path.name + ".new")
    staged.write_bytes(frames)
    return staged
