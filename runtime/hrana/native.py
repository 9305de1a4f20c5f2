"""The SQLite library that Python's `sqlite3` module runs on, called through ctypes.

Found only where it is a shared library mapped into this process (Linux: seen
in /proc/self/maps) and of the very version the sqlite3 module reports. A
second, private copy of SQLite is never loaded: two copies in one process
break each other's POSIX file locks.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sqlite3
from ctypes import POINTER, c_char_p, c_int, c_void_p

OPEN_READONLY, OPEN_READWRITE, OPEN_CREATE = 0x1, 0x2, 0x4


def _declare(lib: ctypes.CDLL) -> None:
    ptr, out = c_void_p, POINTER(c_void_p)
    for name, restype, argtypes in [
        ("sqlite3_open_v2", c_int, [c_char_p, out, c_int, c_char_p]),
        ("sqlite3_close_v2", c_int, [ptr]),
        ("sqlite3_busy_timeout", c_int, [ptr, c_int]),
        ("sqlite3_prepare_v2", c_int, [ptr, ptr, c_int, out, out]),
        ("sqlite3_step", c_int, [ptr]),
        ("sqlite3_finalize", c_int, [ptr]),
        ("sqlite3_errmsg", c_char_p, [ptr]),
        ("sqlite3_extended_errcode", c_int, [ptr]),
        ("sqlite3_bind_parameter_count", c_int, [ptr]),
        ("sqlite3_bind_parameter_name", c_char_p, [ptr, c_int]),
        ("sqlite3_column_count", c_int, [ptr]),
        ("sqlite3_column_name", c_char_p, [ptr, c_int]),
        ("sqlite3_column_decltype", c_char_p, [ptr, c_int]),
        ("sqlite3_stmt_readonly", c_int, [ptr]),
    ]:
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
    # sqlite3_stmt_isexplain is from SQLite 3.28 (2019).
    isexplain = getattr(lib, "sqlite3_stmt_isexplain", None)
    if isexplain is not None:
        isexplain.restype, isexplain.argtypes = c_int, [c_void_p]


@functools.cache
def sqlite_library() -> ctypes.CDLL | None:
    """The shared libsqlite3 under Python's sqlite3, with its functions declared; or None."""
    try:
        with open("/proc/self/maps") as maps:
            lines = maps.read().splitlines()
    except OSError:
        return None
    paths = {line.split(maxsplit=5)[-1] for line in lines if len(line.split(maxsplit=5)) == 6}
    for path in sorted(paths):
        if os.path.basename(path).startswith("libsqlite3") and path.startswith("/"):
            try:
                lib = ctypes.CDLL(path)
                lib.sqlite3_libversion.restype = c_char_p
                if lib.sqlite3_libversion().decode() != sqlite3.sqlite_version:
                    continue  # not the copy the sqlite3 module runs on
                _declare(lib)
                return lib
            except (OSError, AttributeError):
                continue
    return None


def text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "replace")
