"""The SQLite library of the runtime, and opening files the way every store needs them.

The runtime opens SQLite only through this module (`driver`), for SQL
databases, key-value stores and the record of trigger runs alike. The driver is
sqlean.py: CPython's sqlite3 module built with its own, newer SQLite (3.50)
that has the `sqlite_dbpage` table, through which a replica is brought up to
date page by page (runtime.stores.sqlsync). One library in the process is a
must: two copies of SQLite opening the same file in one process break each
other's locks (POSIX locks belong to the process, and each copy keeps its own
table of them, so one copy's close drops the other's locks and its checkpoint
can overwrite pages a reader of the other is still reading).

For the type checker the driver is the standard library's sqlite3, whose API
sqlean.py's follows (that of CPython 3.10: no `setlimit`, `serialize`,
`iterdump` or `blobopen`; `set_length_limit` here stands in for the first).
"""

from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

# sqlean.py can switch on extensions of its own (file access among them) from
# the environment, for every connection it opens: never for the runtime's.
for _name in [n for n in os.environ if n.startswith("SQLEAN_ENABLE")]:
    del os.environ[_name]
os.environ["SQLEAN_ENABLE"] = "0"

if TYPE_CHECKING:
    import sqlite3 as driver
else:
    import sqlean as driver

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "data_version",
    "driver",
    "driver_library",
    "error_name",
    "result_name",
    "open_connection",
    "set_length_limit",
]

DEFAULT_BUSY_TIMEOUT = 5.0
"""Seconds a statement waits for another process's lock before SQLITE_BUSY."""

SQLITE_LIMIT_LENGTH = 0  # sqlite3_limit's category for the largest string or blob


def open_connection(
    path: Path,
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    factory: type[driver.Connection] = driver.Connection,
) -> driver.Connection:
    """An autocommit connection in WAL mode; callers issue BEGIN/COMMIT themselves.

    WAL lets readers in other worker processes proceed while one process writes,
    and with synchronous=NORMAL a committed transaction is in the WAL file
    before COMMIT returns, so it survives a crash of the process (not
    necessarily a power cut, which the emulator need not survive).
    """
    conn = driver.connect(
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
            raise driver.OperationalError(f"cannot switch {path} to WAL (journal_mode={mode})")
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def data_version(conn: driver.Connection) -> int:
    """`PRAGMA data_version`: moves when another connection commits to the file."""
    (version,) = conn.execute("PRAGMA data_version").fetchone()
    return int(version)


@functools.cache
def driver_library() -> ctypes.CDLL | None:
    """The driver's SQLite as a C library, for what its Python API does not offer.

    sqlean.py links SQLite into its extension module and exports the C API from
    it; loading that file again gives the very copy the module runs on. None
    if it cannot be loaded or is not the version the module reports.
    """
    try:
        from sqlean import _sqlite3  # the extension module itself

        lib = ctypes.CDLL(_sqlite3.__file__)
        lib.sqlite3_libversion.restype = ctypes.c_char_p
        if lib.sqlite3_libversion().decode() != driver.sqlite_version:
            return None
        lib.sqlite3_limit.restype = ctypes.c_int
        lib.sqlite3_limit.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        lib.sqlite3_extended_errcode.restype = ctypes.c_int
        lib.sqlite3_extended_errcode.argtypes = [ctypes.c_void_p]
    except (ImportError, OSError, AttributeError):
        return None
    return lib


def _handle(conn: driver.Connection) -> int | None:
    # CPython's module keeps the sqlite3* as the first field after the object
    # header (in the struct of the version pinned in pyproject.toml).
    return ctypes.c_void_p.from_address(id(conn) + object.__basicsize__).value


def set_length_limit(conn: driver.Connection, limit: int) -> None:
    """Refuse any string or blob longer than `limit` bytes (SQLITE_TOOBIG) on `conn`.

    sqlite3_limit on the connection's handle; the value read back checks that
    the call took.
    """
    lib = driver_library()
    if lib is None:
        raise RuntimeError("the SQLite library of the sqlite driver cannot be loaded")
    handle = _handle(conn)
    lib.sqlite3_limit(handle, SQLITE_LIMIT_LENGTH, limit)
    if lib.sqlite3_limit(handle, SQLITE_LIMIT_LENGTH, -1) != limit:
        raise RuntimeError("could not set SQLite's length limit on the connection")


# SQLite's extended result codes (sqlite.org/rescode.html): the code of the
# n-th name of a list is the primary code + (n << 8). None marks an unused n.
_EXTENDED: dict[int, tuple[str | None, ...]] = {
    1: ("MISSING_COLLSEQ", "RETRY", "SNAPSHOT"),
    4: (None, "ROLLBACK"),
    5: ("RECOVERY", "SNAPSHOT", "TIMEOUT"),
    6: ("SHAREDCACHE", "VTAB"),
    8: ("RECOVERY", "CANTLOCK", "ROLLBACK", "DBMOVED", "CANTINIT", "DIRECTORY"),
    10: (
        *("READ", "SHORT_READ", "WRITE", "FSYNC", "DIR_FSYNC", "TRUNCATE", "FSTAT", "UNLOCK"),
        *("RDLOCK", "DELETE", "BLOCKED", "NOMEM", "ACCESS", "CHECKRESERVEDLOCK", "LOCK"),
        *("CLOSE", "DIR_CLOSE", "SHMOPEN", "SHMSIZE", "SHMLOCK", "SHMMAP", "SEEK"),
        *("DELETE_NOENT", "MMAP", "GETTEMPPATH", "CONVPATH", "VNODE", "AUTH", "BEGIN_ATOMIC"),
        *("COMMIT_ATOMIC", "ROLLBACK_ATOMIC", "DATA", "CORRUPTFS", "IN_PAGE"),
    ),
    11: ("VTAB", "SEQUENCE", "INDEX"),
    14: ("NOTEMPDIR", "ISDIR", "FULLPATH", "CONVPATH", "DIRTYWAL", "SYMLINK"),
    19: (
        *("CHECK", "COMMITHOOK", "FOREIGNKEY", "FUNCTION", "NOTNULL", "PRIMARYKEY"),
        *("TRIGGER", "UNIQUE", "VTAB", "ROWID", "PINNED", "DATATYPE"),
    ),
    23: ("USER",),
    27: ("RECOVER_WAL", "RECOVER_ROLLBACK", "RBU"),
    28: ("AUTOINDEX",),
}
# The primary result codes, 1 to 28 in this order.
_PRIMARY = {
    code: f"SQLITE_{name}"
    for code, name in enumerate(
        [
            *("ERROR", "INTERNAL", "PERM", "ABORT", "BUSY", "LOCKED", "NOMEM", "READONLY"),
            *("INTERRUPT", "IOERR", "CORRUPT", "NOTFOUND", "FULL", "CANTOPEN", "PROTOCOL"),
            *("EMPTY", "SCHEMA", "TOOBIG", "CONSTRAINT", "MISMATCH", "MISUSE", "NOLFS"),
            *("AUTH", "FORMAT", "RANGE", "NOTADB", "NOTICE", "WARNING"),
        ],
        start=1,
    )
}


def error_name(exc: BaseException, conn: driver.Connection | None = None) -> str | None:
    """SQLite's name of the error `exc`, extended (`SQLITE_CONSTRAINT_UNIQUE`) when known.

    The driver names only the primary code; the extended one is the last
    error of `conn`, asked right after the failure and before anything else
    runs on the connection.
    """
    name = getattr(exc, "sqlite_errorname", None)
    primary = getattr(exc, "sqlite_errorcode", None)
    lib = driver_library()
    if conn is None or lib is None or not isinstance(primary, int):
        return name
    code = lib.sqlite3_extended_errcode(_handle(conn))
    if code & 0xFF != primary:
        return name  # the connection's last error is another one
    return result_name(code) or name


def result_name(code: int) -> str | None:
    """SQLite's name of a result code, primary or extended (None if unknown)."""
    base = _PRIMARY.get(code & 0xFF)
    if base is None or code >> 8 == 0:
        return base
    names = _EXTENDED.get(code & 0xFF, ())
    index = (code >> 8) - 1
    extended = names[index] if index < len(names) else None
    return f"{base}_{extended}" if extended else base
