"""A fast path for `list<u8>` in wasmtime-py's component value conversion.

wasmtime-py 50 converts a `list<u8>` one element at a time through Python:
a 1 MiB key-value value or request body costs about a second each way. The C
API stores such a list as an array of 32-byte `wasmtime_component_val_t`
cells, each a kind byte (U8) and the byte itself at offset 8. Strided slice
assignment builds and reads that array at C speed instead.

Installed once per process by `install()`; lists of any other element type
keep wasmtime-py's own conversion.
"""

from __future__ import annotations

import ctypes
from typing import Any

from wasmtime import _ffi as ffi
from wasmtime.component import _types

_CELL = ctypes.sizeof(ffi.wasmtime_component_val_t)
_KIND = ffi.wasmtime_component_val_t.kind.offset
_VALUE = ffi.wasmtime_component_val_t.of.offset
_U8 = ffi.WASMTIME_COMPONENT_U8.value
_LIST = ffi.WASMTIME_COMPONENT_LIST

_original_to_c = _types.ListType.convert_to_c
_original_from_c = _types.ListType.convert_from_c


def _bytes_to_c(self: Any, store: Any, val: Any, ptr: Any) -> None:
    if not self._is_bytes():
        return _original_to_c(self, store, val, ptr)
    if not isinstance(val, bytes | bytearray | memoryview):
        raise TypeError("expected bytes value")
    data = bytes(val)
    n = len(data)
    raw = ffi.wasmtime_component_vallist_t()
    ffi.wasmtime_component_vallist_new_uninit(raw, n)
    if n:
        cells = bytearray(_CELL * n)
        cells[_KIND::_CELL] = bytes([_U8]) * n
        cells[_VALUE::_CELL] = data
        ctypes.memmove(raw.data, bytes(cells), len(cells))
    ptr.contents.kind = _LIST
    ptr.contents.of.list = raw
    return None


def _bytes_from_c(self: Any, c: Any) -> Any:
    if not self._is_bytes():
        return _original_from_c(self, c)
    assert c.kind == _LIST.value
    try:
        n = c.of.list.size
        if n == 0:
            return b""
        cells = ctypes.string_at(c.of.list.data, _CELL * n)
        return cells[_VALUE::_CELL]
    finally:
        # U8 cells own nothing: deleting the list frees the array only.
        ffi.wasmtime_component_vallist_delete(ctypes.byref(c.of.list))


_installed = False


def install() -> None:
    global _installed
    if not _installed:
        _types.ListType.convert_to_c = _bytes_to_c  # type: ignore[method-assign]
        _types.ListType.convert_from_c = _bytes_from_c  # type: ignore[method-assign]
        _installed = True
