"""Bringing a region's replica of a SQL database up to date: the primary's WAL, shipped.

Every commit on the primary appends its pages to the primary's write-ahead
log. A sync reads the frames committed since the replica's last position
(runtime.stores.wal) and writes the newest version of each page into the
replica in one transaction of the replica (runtime.stores.replica_pages), so
its cost follows what changed, not the size of the database. Applying whole
committed transactions in order leaves the replica exactly in a state the
primary was in; its readers see the old state or the new one, never a mix.
Syncs into one replica can come from several processes (the writer's worker
right after a write, the replicator on its interval): they take turns under
an exclusive lock on a file beside the replica, which also records its
position (runtime.stores.syncrecords), so a replica never goes back.

The log must not start over under a replica that has not read it: the
connections that write a primary leave checkpoints to replication (their own
SQLite autocheckpoint is only a far backstop), and a sync checkpoints the log
once it is long enough and every replica is near its end, keeping aside the
frames the ones behind still need (the tail). The checkpoint's end is
recorded before the log can start over, so a replica at that end, or in the
tail, continues with the next generation of the log. While a sync reads the
log it holds a read transaction on the primary, under which SQLite does not
start the log over.

Whenever that chain is broken (the first sync, a record missing or from
another primary, a log started over or deleted unseen, a replica far behind
when the log grew past its hard limit), the sync compares every page of the
primary's snapshot (and the committed frames after it) with the replica's and
writes those that differ: still one transaction, reads in proportion to the
size, writes to the difference.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from ._sqlite import DEFAULT_BUSY_TIMEOUT, data_version, driver, open_connection
from .layout import StateLayout
from .replica_pages import ReplicaWriter
from .syncrecords import (
    CheckpointEnd,
    FileState,
    ReplicaRecord,
    locked,
    parse_checkpoint,
    parse_replica,
    peek_replica,
    read_checkpoint,
    read_synced_at,
    rewrite,
    stage_tail,
)
from .wal import (
    WalChanges,
    WalError,
    WalHeader,
    WalPosition,
    continues_after,
    read_changes,
    read_frames,
    read_header,
    wal_path,
)

__all__ = ["ReplicaSync", "SyncReport", "read_synced_at"]

SOFT_FRAMES = 1000
"""A log this long is checkpointed once every replica is near its end."""

HARD_FRAMES = 16384
"""A log this long (64 MiB of 4 KiB pages) is checkpointed even with replicas far behind."""

TAIL_FRAMES = 4096
"""At most this many frames before a checkpoint's end are kept aside for replicas."""

_QUIET_NS = 1_000_000_000
"""A file untouched this long gets a visibly later mtime from its next write."""

_STABLE_READS = 5  # tries at reading the log while it does not start over


@dataclass(frozen=True)
class SyncReport:
    """What one sync did."""

    label: str
    region: str
    method: Literal["wal", "compare"]  # frames of the log, or every page compared
    pages_written: int  # into the replica: follows the change, not the size
    frames: int  # frames of the committed transactions applied
    db_pages: int  # the replica's size after the sync
    checkpointed: bool  # this sync checkpointed the primary's log


@dataclass(frozen=True)
class _Files:
    """The primary's files of one database."""

    db: Path
    log: Path  # its -wal
    checkpoints: Path
    tail: Path


@dataclass
class _Plan:
    method: Literal["wal", "compare"]
    changes: WalChanges | None  # frames of the log as it is now
    before: WalChanges | None = None  # frames of the generation before it


class ReplicaSync:
    """Brings other regions' replicas up to the primary region's databases."""

    def __init__(
        self,
        layout: StateLayout,
        primary: str,
        clock: Callable[[], float],
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        self.layout = layout
        self.primary = primary
        self._clock = clock
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        # Open for as long as this object lives: SQLite deletes a database's
        # log when its last connection closes, and with it every position.
        self._sources: dict[str, driver.Connection] = {}
        self._checkpointers: dict[str, driver.Connection] = {}
        self._writers: dict[tuple[str, str], ReplicaWriter] = {}
        # The primary's data version (as our source connection sees it) at the
        # last sync of each replica: equal now means the replica is current.
        self._synced: dict[tuple[str, str], int] = {}
        # The token of our last record of each replica and the replica's data
        # version right after: both unchanged means nobody else wrote it since.
        self._wrote: dict[tuple[str, str], tuple[str, int]] = {}
        self._files: dict[str, _Files] = {}
        self._records: dict[tuple[str, str], Path] = {}
        self.last: SyncReport | None = None
        self.pages_written = 0  # over every sync of this object
        self.compares = 0  # syncs that had to compare every page

    def sync(self, label: str, region: str, *, force: bool = False) -> bool:
        """Bring `region`'s replica up to the primary unless it has not changed since."""
        if region == self.primary:
            return False
        key = (label, region)
        with self._lock:
            source = self._source(label)
            if not force and self._synced.get(key) == data_version(source):
                return False
            with locked(self._record(label, region)) as record:
                version = data_version(source)
                previous = parse_replica(record.read(), self.primary)
                known: list[WalPosition] | None = None
                while True:
                    with _read_transaction(source):
                        report = self._sync(label, region, record, previous, known)
                    if report is not None:
                        break
                    # Pages are to be compared: first learn, outside the read
                    # transaction, up to where the log is known to be valid.
                    known = self._known_positions(label, previous)
            self._synced[key] = version
            self.last = report
            self.pages_written += report.pages_written
            self.compares += report.method == "compare"
        return True

    def synced_at(self, label: str, region: str) -> float | None:
        """When `region`'s replica was last synced from the primary (None: never)."""
        return read_synced_at(self.layout.sql_sync_path(region, label))

    def close(self) -> None:
        with self._lock:
            connections = [*self._sources.values(), *self._checkpointers.values()]
            writers = list(self._writers.values())
            self._sources.clear()
            self._checkpointers.clear()
            self._writers.clear()
            self._synced.clear()
        for writer in writers:
            writer.close()
        for conn in connections:
            conn.close()

    # The steps of one sync: under the replica's lock and a read transaction
    # of the primary, which keeps the log from starting over while it is read.

    def _sync(
        self,
        label: str,
        region: str,
        record: IO[str],
        previous: ReplicaRecord | None,
        known: list[WalPosition] | None,
    ) -> SyncReport | None:
        """One sync, or None if pages are to be compared and `known` is needed first."""
        db_path = self._primary(label).db
        writer = self._writer(label, region)
        if previous is not None and not self._untouched(label, region, writer, previous):
            previous = None  # the file is not the one the record speaks of
        log = wal_path(db_path)
        for _ in range(_STABLE_READS):
            header = read_header(log)
            quiet = FileState.of(db_path)
            plan = self._plan(label, previous, header, quiet, known)
            if plan is None:
                return None
            if read_header(log) == header:
                break  # else it started over while being read: read again
        else:
            raise WalError(f"the WAL of {db_path} kept starting over while it was read")
        if header is not None and header.page_size != writer.page_size:
            raise WalError(f"{writer.path} has pages of {writer.page_size} bytes, not {header}")
        if plan.method == "wal":
            assert previous is not None
            written, frames, pages = self._apply(writer, plan, previous.pages)
        else:
            written, frames, pages = self._compare(label, writer, plan.changes)
        position = plan.changes.end if plan.changes is not None else None
        # A primary without a log is its file, for as long as nothing writes it
        # (which a later mtime shows: the last write must be well in the past).
        file = None
        if header is None and quiet is not None and FileState.of(db_path) == quiet:
            file = quiet if time.time_ns() - quiet.mtime_ns > _QUIET_NS else None
        token = os.urandom(8).hex()
        synced = ReplicaRecord(self._clock(), self.primary, pages, position, file, token)
        rewrite(record, synced.to_json())
        self._wrote[(label, region)] = (token, writer.data_version())
        checkpointed = position is not None and self._maybe_checkpoint(label, region, position)
        return SyncReport(label, region, plan.method, written, frames, pages, checkpointed)

    def _untouched(
        self, label: str, region: str, writer: ReplicaWriter, previous: ReplicaRecord
    ) -> bool:
        """Whether the replica is as the record leaves it (as far as can be told cheaply).

        Its size must match; and if our own sync wrote the record, nothing may
        have committed to the replica since (a copy put over it, say).
        """
        if previous.pages != writer.page_count():
            return False
        ours = self._wrote.get((label, region))
        return ours is None or ours[0] != previous.token or ours[1] == writer.data_version()

    def _plan(
        self,
        label: str,
        previous: ReplicaRecord | None,
        header: WalHeader | None,
        file: FileState | None,
        known: list[WalPosition] | None,
    ) -> _Plan | None:
        log = self._primary(label).log
        start = WalPosition.start(header) if header is not None else None
        position = previous.position if previous is not None else None
        if header is not None and start is not None and position is not None:
            if position.generation == header.generation:
                return _Plan("wal", read_changes(log, position))
            before = self._bridge(label, position)
            if before is not None:
                return _Plan("wal", read_changes(log, start), before)
        elif previous is not None and previous.file is not None and previous.file == file:
            # The log was empty at the last sync and the file is as it was then:
            # the log's generation, if any, is the first since.
            return _Plan("wal", read_changes(log, start) if start is not None else None)
        if start is None:
            return _Plan("compare", None)
        if known is None:
            return None
        # The snapshot is at or after every position known before it was taken:
        # the frames up to the furthest of them are in it already.
        for point in known:
            if point.generation == start.generation and point.page_size == start.page_size:
                start = max(start, point, key=lambda p: p.frame)
        return _Plan("compare", read_changes(log, start))

    def _known_positions(self, label: str, previous: ReplicaRecord | None) -> list[WalPosition]:
        """Positions in the primary's log that syncs have read up to (frames known valid)."""
        known = [previous.position] if previous is not None and previous.position else []
        for name in self.layout.regions():
            if name != self.primary:
                other = peek_replica(self._record(label, name), self.primary)
                if other is not None and other.position is not None:
                    known.append(other.position)
        last = read_checkpoint(self._primary(label).checkpoints)
        if last is not None:
            known.append(last.end)
        return known

    def _bridge(self, label: str, position: WalPosition) -> WalChanges | None:
        """The frames from `position` to the end of its generation, if it ended where known.

        It did if replication's last checkpoint ended it and the database file
        is still as that checkpoint left it: every later generation of the log
        (or the generation going on, then restarted or deleted) would have had
        to be checkpointed into the file first. Where the file still shows the
        end frame, nothing of the generation may follow it either.
        """
        path = self._primary(label).checkpoints
        if not path.exists():
            return None
        db_path = self._primary(label).db
        with locked(path, shared=True) as handle:
            last = parse_checkpoint(handle.read())
            if last is None or last.end.generation != position.generation:
                return None
            if FileState.of(db_path) != last.file:
                return None
            if continues_after(wal_path(db_path), last.end):
                return None
            if position == last.end:
                return WalChanges(end=position)
            if not last.tail_from <= position.frame < last.end.frame:
                return None
            tail = self._primary(label).tail
            kept = read_changes(tail, position, first=last.tail_from + 1, offset=0)
            return kept if kept.end == last.end else None

    def _apply(self, writer: ReplicaWriter, plan: _Plan, pages: int) -> tuple[int, int, int]:
        changed: dict[int, bytes] = {}
        frames = 0
        for part in (plan.before, plan.changes):
            if part is not None and part.committed:
                changed.update(part.pages)
                frames += part.frames
                assert part.db_size is not None
                pages = part.db_size
        written = writer.write(changed, pages) if changed else 0
        return written, frames, pages

    def _compare(
        self, label: str, writer: ReplicaWriter, changes: WalChanges | None
    ) -> tuple[int, int, int]:
        source = self._sources[label]
        (source_pages,) = source.execute("PRAGMA page_count").fetchone()
        overlay: dict[int, bytes] = {}
        pages = source_pages
        frames = 0
        if changes is not None and changes.committed:
            # The snapshot is somewhere in the log's generation, at or before its
            # last commit: the newest version of every page of the generation over
            # it gives exactly the state of that commit.
            assert changes.db_size is not None
            overlay, pages, frames = changes.pages, changes.db_size, changes.frames
        rows = source.execute("SELECT pgno, data FROM sqlite_dbpage")
        try:
            written = writer.patch(rows, source_pages, overlay, pages)
        finally:
            rows.close()
        return written, frames, pages

    # Checkpoints: only when the end they reach is known to every replica.

    def _maybe_checkpoint(self, label: str, region: str, end: WalPosition) -> bool:
        if end.frame < SOFT_FRAMES:
            return False
        last = read_checkpoint(self._primary(label).checkpoints)
        if last is not None and last.end == end:
            return False  # done already (the log starts over at its next write)
        lowest, blocked = self._replicas_behind(label, region, end, last)
        if end.frame < HARD_FRAMES and (blocked or end.frame - lowest > TAIL_FRAMES):
            return False
        return self._checkpoint(label, end, max(lowest, end.frame - TAIL_FRAMES))

    def _replicas_behind(
        self, label: str, region: str, end: WalPosition, previous: CheckpointEnd | None
    ) -> tuple[int, bool]:
        """The lowest frame of a replica in `end`'s generation, and whether one must wait.

        A replica must be waited for if it is in the generation before (a
        second checkpoint would leave it two behind) or its record cannot be
        read now (being written). Others (never synced, or in no known
        position) will compare their pages anyway.
        """
        lowest, blocked = end.frame, False
        file = FileState.of(self._primary(label).db)
        for name in self.layout.regions():
            if name in (self.primary, region):
                continue
            path = self._record(label, name)
            if not path.exists():
                continue  # never synced
            record = peek_replica(path, self.primary)
            if record is None:
                blocked = True
                continue
            position = record.position
            if position is not None and position.generation == end.generation:
                lowest = min(lowest, position.frame)
            elif position is not None and previous is not None:
                blocked |= _in_tail(previous, position)
            elif position is None and record.file is not None:
                blocked |= record.file == file
        return lowest, blocked

    def _checkpoint(self, label: str, end: WalPosition, keep_from: int) -> bool:
        """A PASSIVE checkpoint that must reach `end` exactly, recorded before the log restarts.

        Our read transaction holds the log: no restart until it ends, and the
        checkpoint backfills no further than our snapshot, so a checkpoint of
        the whole log proves `end` is the log's end.
        """
        log = self._primary(label).log
        tail = self._primary(label).tail
        with locked(self._primary(label).checkpoints) as handle:
            staged = stage_tail(tail, read_frames(log, keep_from, end.frame, end.page_size))
            try:
                busy, frames, done = (
                    self._checkpointer(label).execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                )
                header = read_header(log)
                if busy or not frames == done == end.frame or header is None:
                    return False
                file = FileState.of(self._primary(label).db)
                if header.generation != end.generation or file is None:
                    return False
                os.replace(staged, tail)
            finally:
                staged.unlink(missing_ok=True)
            rewrite(handle, CheckpointEnd(end, keep_from, file).to_json())
        return True

    def _primary(self, label: str) -> _Files:
        files = self._files.get(label)
        if files is None:
            db = self.layout.sql_path(self.primary, label)
            files = self._files[label] = _Files(
                db,
                wal_path(db),
                self.layout.sql_checkpoint_path(self.primary, label),
                self.layout.sql_wal_tail_path(self.primary, label),
            )
        return files

    def _record(self, label: str, region: str) -> Path:
        path = self._records.get((label, region))
        if path is None:
            path = self._records[(label, region)] = self.layout.sql_sync_path(region, label)
        return path

    def _source(self, label: str) -> driver.Connection:
        conn = self._sources.get(label)
        if conn is None:
            path = self._primary(label).db
            conn = self._sources[label] = open_connection(path, busy_timeout=self._busy_timeout)
        return conn

    def _checkpointer(self, label: str) -> driver.Connection:
        conn = self._checkpointers.get(label)
        if conn is None:
            path = self._primary(label).db
            conn = open_connection(path, busy_timeout=self._busy_timeout)
            self._checkpointers[label] = conn
        return conn

    def _writer(self, label: str, region: str) -> ReplicaWriter:
        writer = self._writers.get((label, region))
        if writer is None:
            path = self.layout.sql_path(region, label)
            writer = ReplicaWriter(path, busy_timeout=self._busy_timeout)
            self._writers[(label, region)] = writer
        return writer


@contextmanager
def _read_transaction(conn: driver.Connection) -> Iterator[None]:
    """A read transaction of the primary: its snapshot, and the log held from starting over."""
    conn.execute("BEGIN")
    try:
        conn.execute("PRAGMA schema_version")  # the snapshot is taken here
        yield
    finally:
        conn.execute("COMMIT")


def _in_tail(last: CheckpointEnd, position: WalPosition) -> bool:
    """Whether a replica at `position` continues after the checkpoint `last`."""
    return (
        position.generation == last.end.generation
        and last.tail_from <= position.frame <= last.end.frame
    )
