"""Opening SQLite files the way every store here needs them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

DEFAULT_BUSY_TIMEOUT = 5.0
"""Seconds a statement waits for another process's lock before SQLITE_BUSY."""


def open_connection(
    path: Path,
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    factory: type[sqlite3.Connection] = sqlite3.Connection,
) -> sqlite3.Connection:
    """An autocommit connection in WAL mode; callers issue BEGIN/COMMIT themselves.

    WAL lets readers in other worker processes proceed while one process writes,
    and with synchronous=NORMAL a committed transaction is in the WAL file
    before COMMIT returns, so it survives a crash of the process (not
    necessarily a power cut, which the emulator need not survive).
    """
    conn = sqlite3.connect(
        str(path),
        timeout=busy_timeout,
        isolation_level=None,
        check_same_thread=False,
        factory=factory,
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"cannot switch {path} to WAL (journal_mode={mode})")
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def data_version(conn: sqlite3.Connection) -> int:
    """`PRAGMA data_version`: moves when another connection commits to the file."""
    (version,) = conn.execute("PRAGMA data_version").fetchone()
    return int(version)
