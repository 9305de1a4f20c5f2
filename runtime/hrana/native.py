"""The SQLite library that the runtime's driver runs on, called through ctypes.

It is the very copy the driver's module uses (runtime.stores._sqlite): a second,
private copy of SQLite is never loaded, since two copies in one process break
each other's POSIX file locks.
"""

from __future__ import annotations

import ctypes
import functools
from ctypes import POINTER, c_char_p, c_int, c_void_p

from ..stores._sqlite import driver_library

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
    """The driver's SQLite as a C library, with the functions describe uses declared; or None."""
    lib = driver_library()
    if lib is not None:
        _declare(lib)
    return lib


def text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "replace")
