"""Declared types of a statement's result columns, as sqld reports them.

Python's sqlite3 tells a cursor's column names only, while sqld reports
SQLite's `sqlite3_column_decltype` for each (clients make `columnTypes` of
it, DB-API's PARSE_DECLTYPES picks converters by it). So the statement is
prepared once more, never run, on a read-only connection of our own to the
same file, through the SQLite library of native.py. One such connection is
kept per file (for the few files used last), so a lookup costs a prepare and
a look at the schema table, which makes SQLite load a changed schema.

Limits: the schema is the file's committed one, so columns of a table that
the stream's open transaction created, or of a temporary table, have a null
decltype; without the native library (see native.py) all of them do.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections import OrderedDict
from ctypes import byref, c_void_p

from .native import OPEN_READONLY, sqlite_library, text

_KEEP = 8  # describing connections kept open, one per file
_BUSY_TIMEOUT_MS = 1000  # a slow answer is worth less than none: null decltypes

_PROBE = ctypes.c_char_p(b"SELECT 1 FROM sqlite_schema LIMIT 1")

Types = list[str | None]


class _Describer:
    """A read-only connection to one file, preparing one statement at a time."""

    def __init__(self, lib: ctypes.CDLL, path: str) -> None:
        self._lib = lib
        self._lock = threading.Lock()
        self._db = c_void_p()
        if lib.sqlite3_open_v2(path.encode(), byref(self._db), OPEN_READONLY, None) != 0:
            self.close()
            raise OSError(f"cannot open {path} to read its schema")
        lib.sqlite3_busy_timeout(self._db, _BUSY_TIMEOUT_MS)

    def decltypes(self, sql: str, count: int) -> Types | None:
        encoded = sql.encode("utf-8", "surrogatepass")
        buffer = ctypes.create_string_buffer(encoded, len(encoded))
        stmt, tail = c_void_p(), c_void_p()
        lib = self._lib
        with self._lock:
            if not self._db.value:
                return None
            self._refresh_schema()
            rc = lib.sqlite3_prepare_v2(
                self._db, ctypes.addressof(buffer), len(encoded), byref(stmt), byref(tail)
            )
            try:
                if rc != 0 or not stmt.value or lib.sqlite3_column_count(stmt) != count:
                    return None  # e.g. a table this file does not have (yet)
                return [text(lib.sqlite3_column_decltype(stmt, i)) for i in range(count)]
            finally:
                if stmt.value:
                    lib.sqlite3_finalize(stmt)

    def _refresh_schema(self) -> None:
        # Preparing compiles against the schema this connection has cached; running
        # a statement that reads the file notices a newer schema and loads it.
        stmt = c_void_p()
        if self._lib.sqlite3_prepare_v2(self._db, _PROBE, -1, byref(stmt), None) == 0:
            self._lib.sqlite3_step(stmt)
        self._lib.sqlite3_finalize(stmt)

    def close(self) -> None:
        with self._lock:
            db, self._db = self._db, c_void_p()
            if db.value:
                self._lib.sqlite3_close_v2(db)


class DeclTypes:
    """Describing connections by file (its path and inode: a file made anew is another)."""

    def __init__(self, keep: int = _KEEP) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._open: OrderedDict[tuple[str, int, int], _Describer] = OrderedDict()

    def of(self, path: str, sql: str, count: int) -> Types:
        """Each result column's declared type (None where there is none, or it is unknown)."""
        unknown: Types = [None] * count
        lib = sqlite_library()
        if lib is None or not path or count == 0:
            return unknown
        try:
            stat = os.stat(path)
            describer = self._describer(lib, (path, stat.st_dev, stat.st_ino))
        except OSError:
            return unknown
        return describer.decltypes(sql, count) or unknown

    def _describer(self, lib: ctypes.CDLL, key: tuple[str, int, int]) -> _Describer:
        with self._lock:
            describer = self._open.get(key)
            if describer is not None:
                self._open.move_to_end(key)
                return describer
        made = _Describer(lib, key[0])  # opened outside the lock: it touches the disk
        with self._lock:
            describer = self._open.setdefault(key, made)
            self._open.move_to_end(key)
            evicted = []
            while len(self._open) > self._keep:
                evicted.append(self._open.popitem(last=False)[1])
        if describer is not made:  # another thread opened one first
            evicted.append(made)
        for old in evicted:
            old.close()
        return describer

    def close(self) -> None:
        with self._lock:
            describers, self._open = list(self._open.values()), OrderedDict()
        for describer in describers:
            describer.close()


shared = DeclTypes()  # one per process: the files of every app's streams
