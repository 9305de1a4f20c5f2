"""Writing pages into a replica's file: each batch in one transaction of the replica.

Pages go through SQLite's `sqlite_dbpage` table on a connection of the
replica's own, so they pass through its pager and its WAL like any write:
readers of the replica see the state before the transaction or after it,
never a mix, and a crash part-way rolls the whole batch back. Inserting a NULL
page N ends the file before page N (sqlite_dbpage's way to truncate).

That connection never reads the tables themselves, and it must not: a page
written through `sqlite_dbpage` replaces the bytes in the page cache but not
what the B-tree layer decoded from them before. So page 1 (whose schema cookie
makes a connection read the schema again) is written last, in the batch's last
statement, with the truncation; and after each batch the connection drops its
page cache (`PRAGMA shrink_memory`), so that it next reads every page afresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from ._sqlite import data_version, driver, open_connection

PENDING_BYTE = 0x40000000  # the page holding this file offset is never used
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024  # the replica's own WAL file, once restarted
_BATCH = 256  # pages per executemany


class ReplicaWriter:
    """The connection that writes one replica's pages (callers hold its sync lock)."""

    def __init__(self, path: Path, *, busy_timeout: float) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._conn = open_connection(path, busy_timeout=busy_timeout)
        try:
            self._conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
            (self.page_size,) = self._conn.execute("PRAGMA page_size").fetchone()
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        self._conn.close()

    def page_count(self) -> int:
        (count,) = self._conn.execute("PRAGMA page_count").fetchone()
        return int(count)

    def data_version(self) -> int:
        """Moves when another connection (of any process) commits to the replica."""
        return data_version(self._conn)

    def write(self, pages: Mapping[int, bytes], db_size: int) -> int:
        """Make the replica those pages, with `db_size` pages in all; returns pages written."""
        with _Batch(self._conn, self.page_size) as batch:
            for pgno in sorted(pages):
                if pgno <= db_size:
                    batch.put(pgno, pages[pgno])
            batch.fill_to(db_size)
            batch.finish(db_size)
        self._settle(batch.written)
        return batch.written

    def patch(
        self,
        source: Iterable[tuple[int, bytes]],
        source_pages: int,
        overlay: Mapping[int, bytes],
        db_size: int,
    ) -> int:
        """Make the replica `source` (pages 1..source_pages in order) with `overlay` over it.

        Every page is compared and only those that differ are written, so a
        replica that was nearly current costs reads, not writes.
        """
        pending = PENDING_BYTE // self.page_size + 1
        with _Batch(self._conn, self.page_size) as batch:
            theirs = iter(source)
            ours = self._conn.execute("SELECT pgno, data FROM sqlite_dbpage")
            try:
                for pgno in range(1, db_size + 1):
                    want = _next_page(theirs, pgno) if pgno <= source_pages else None
                    have = _next_page(ours, pgno) if pgno <= batch.current else None
                    want = overlay.get(pgno, want)
                    if pgno != pending and want != have:
                        batch.put(pgno, want if want is not None else batch.zero)
            finally:
                ours.close()
            batch.finish(db_size)
        self._settle(batch.written)
        return batch.written

    def _settle(self, written: int) -> None:
        """After a batch larger than the WAL may stay, empty the WAL now if nobody reads.

        Else the next small sync would pay for cutting the file back.
        """
        if written * self.page_size <= JOURNAL_SIZE_LIMIT:
            return
        self._conn.execute("PRAGMA busy_timeout = 0")  # readers: leave it for later
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")


def _next_page(rows: Iterator[tuple[int, bytes]], pgno: int) -> bytes:
    got, data = next(rows)
    if got != pgno:
        raise driver.DatabaseError(f"pages out of order: expected page {pgno}, got {got}")
    return bytes(data)


class _Batch:
    """One transaction of the replica: pages in order, page 1 and the size at the end."""

    def __init__(self, conn: driver.Connection, page_size: int) -> None:
        self._conn = conn
        self.zero = bytes(page_size)
        self._pending: list[tuple[int, bytes]] = []
        self._first: bytes | None = None
        self._highest = 0
        self.current = 0  # the replica's pages when the transaction began
        self.written = 0

    def __enter__(self) -> _Batch:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            # Safe to read the schema here: the cache holds nothing stale yet.
            (self.current,) = self._conn.execute("PRAGMA page_count").fetchone()
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        try:
            if kind is None:
                self._conn.execute("COMMIT")
            elif self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        finally:
            self._conn.execute("PRAGMA shrink_memory")

    def put(self, pgno: int, data: bytes) -> None:
        self.written += 1
        self._highest = max(self._highest, pgno)
        if pgno == 1:
            self._first = data
            return
        self._pending.append((pgno, data))
        if len(self._pending) >= _BATCH:
            self._flush()

    def fill_to(self, db_size: int) -> None:
        """Zeros for pages inside `db_size` that neither the replica nor the batch has.

        (What SQLite reads for such a page; a WAL never leaves one, but a
        missing page must not make the replica shorter than its primary.)
        """
        pending = PENDING_BYTE // len(self.zero) + 1
        for pgno in range(max(self.current, self._highest) + 1, db_size + 1):
            if pgno != pending:
                self.put(pgno, self.zero)

    def finish(self, db_size: int) -> None:
        self._flush()
        rows: list[str] = []
        params: list[object] = []
        if self._first is not None:
            rows.append("(1, ?)")
            params.append(self._first)
        if db_size < max(self.current, self._highest):
            rows.append("(?, NULL)")  # ends the file after page db_size
            params.append(db_size + 1)
        if rows:
            self._conn.execute(
                "INSERT INTO sqlite_dbpage (pgno, data) VALUES " + ", ".join(rows), params
            )

    def _flush(self) -> None:
        if self._pending:
            self._conn.executemany(
                "INSERT INTO sqlite_dbpage (pgno, data) VALUES (?, ?)", self._pending
            )
            self._pending.clear()
