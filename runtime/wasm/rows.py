"""SQL rows lowered into one C value in a single pass.

A query result is `list<row>`, a row `record { values: list<value> }` and a
value an untagged variant (integer, real, text, blob, null). wasmtime-py
lowers it value by value through ctypes: about 60 µs and 800 bytes of host
memory per row of one column, so a result at the size limit (~330k values)
took 20 s, far past any deadline. Here the whole list is written into Python
buffers laid out as the C API's tree of `wasmtime_component_val_t` cells (a
kind byte, then at offset 8 a number, or a size and a pointer), and one call to
`wasmtime_component_val_clone` copies it into memory that wasmtime owns and
frees. The offsets are checked against wasmtime-py's ctypes declarations;
should they ever differ, `lower` is not used and the generic path runs.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Sequence
from typing import Any

from wasmtime import _ffi as ffi
from wasmtime.component import _types

_VAL = ctypes.sizeof(ffi.wasmtime_component_val_t)
_ENTRY = ctypes.sizeof(ffi.wasmtime_component_valrecord_entry_t)

# Cells as struct layouts: kind, padding to the payload at 8, payload, padding to 32.
_VECTOR = struct.Struct("<B7xQQ8x")  # list, record, string: (size, data pointer)
_VARIANT = struct.Struct("<B7xQQQ")  # case name (size, data), payload pointer or 0
_S64 = struct.Struct("<B7xq16x")
_F64 = struct.Struct("<B7xd16x")
_ROW_ENTRY = struct.Struct("<QQB7xQQ8x")  # field name (size, data), then a list cell

_LIST = ffi.WASMTIME_COMPONENT_LIST.value
_RECORD = ffi.WASMTIME_COMPONENT_RECORD.value
_VARIANT_KIND = ffi.WASMTIME_COMPONENT_VARIANT.value
_STRING = ffi.WASMTIME_COMPONENT_STRING.value
_S64_KIND = ffi.WASMTIME_COMPONENT_S64.value
_F64_KIND = ffi.WASMTIME_COMPONENT_F64.value
_U8 = ffi.WASMTIME_COMPONENT_U8.value


def _at(cls: Any, *fields: str) -> tuple[int, ...]:
    """The offsets of a ctypes structure's fields."""
    return tuple(getattr(cls, name).offset for name in fields)


def _layout_matches() -> bool:
    union = ffi.wasmtime_component_valunion
    return (
        (_VAL, *_at(ffi.wasmtime_component_val_t, "kind", "of")) == (32, 0, 8)
        and _at(union, "list", "record", "variant", "string") == (0, 0, 0, 0)
        and _at(ffi.wasmtime_component_vallist_t, "size", "data") == (0, 8)
        and _at(ffi.wasmtime_component_valrecord_t, "size", "data") == (0, 8)
        and _at(ffi.wasm_byte_vec_t, "size", "data") == (0, 8)
        and _at(ffi.wasmtime_component_valvariant_t, "discriminant", "val") == (0, 16)
        and (_ENTRY, *_at(ffi.wasmtime_component_valrecord_entry_t, "name", "val")) == (48, 0, 16)
        and {_VECTOR.size, _VARIANT.size, _S64.size, _F64.size} == {32}
        and _ROW_ENTRY.size == 48
    )


SUPPORTED = _layout_matches()


class SqlRows:
    """Rows to lower in one pass: what a binding returns in place of a list of records."""

    def __init__(self, rows: Sequence[Sequence[object]]) -> None:
        self.rows = rows


class _Buffers:
    """Python-owned memory the source tree lives in until the clone has copied it."""

    def __init__(self) -> None:
        self.keep: list[Any] = []

    def block(self, size: int) -> tuple[bytearray, int]:
        buf = bytearray(max(size, 1))
        self.keep.append(buf)
        return buf, ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))

    def bytes_at(self, data: bytes) -> int:
        self.keep.append(data)
        return ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value or 0


def _cases(value_ty: Any) -> dict[type | None, bytes]:
    """The variant's case names by the Python type of the value they carry."""
    by_type: dict[type | None, bytes] = {}
    for case, payload in value_ty._cases():
        if payload is None:
            by_type[type(None)] = case.encode()
        elif isinstance(payload, _types.S64):
            by_type[int] = case.encode()
        elif isinstance(payload, _types.F64):
            by_type[float] = case.encode()
        elif isinstance(payload, _types.String):
            by_type[str] = case.encode()
        elif isinstance(payload, _types.ListType) and payload._is_bytes():
            by_type[bytes] = case.encode()
    return by_type


def lower(list_ty: Any, rows: SqlRows, ptr: Any) -> None:
    """Write `rows` as a value of `list_ty` (a list of one-field records) into `*ptr`."""
    ((field, values_ty),) = list_ty.element.fields
    out = _Buffers()
    field_name = field.encode()
    field_at = out.bytes_at(field_name)
    cases = {
        kind: (len(name), out.bytes_at(name)) for kind, name in _cases(values_ty.element).items()
    }
    table = rows.rows
    row_cells, row_cells_at = out.block(len(table) * _VAL)
    entries, entries_at = out.block(len(table) * _ENTRY)
    total = sum(len(row) for row in table)
    cells, cells_at = out.block(total * _VAL)  # each value's variant cell, row after row
    payloads, payloads_at = out.block(total * _VAL)  # and the cell of what it carries
    at = 0
    for r, row in enumerate(table):
        _VECTOR.pack_into(row_cells, r * _VAL, _RECORD, 1, entries_at + r * _ENTRY)
        _ROW_ENTRY.pack_into(
            entries, r * _ENTRY, len(field_name), field_at, _LIST, len(row), cells_at + at
        )
        for value in row:
            payload_at = payloads_at + at
            if isinstance(value, int):
                _S64.pack_into(payloads, at, _S64_KIND, value)
            elif isinstance(value, float):
                _F64.pack_into(payloads, at, _F64_KIND, value)
            elif isinstance(value, str):
                text = value.encode("utf-8", "surrogatepass")
                _VECTOR.pack_into(payloads, at, _STRING, len(text), out.bytes_at(text))
            elif isinstance(value, bytes):
                _VECTOR.pack_into(payloads, at, _LIST, len(value), _bytes_cells(out, value))
            else:
                payload_at = 0  # null: a case without a payload
            size, case_at = cases[type(value)]
            _VARIANT.pack_into(cells, at, _VARIANT_KIND, size, case_at, payload_at)
            at += _VAL
    source = ffi.wasmtime_component_val_t()
    source.kind = _LIST
    source.of.list.size = len(table)
    source.of.list.data = ctypes.cast(row_cells_at, ctypes.POINTER(ffi.wasmtime_component_val_t))
    ffi.wasmtime_component_val_clone(ctypes.byref(source), ptr)


def as_records(list_ty: Any, rows: SqlRows) -> list[Any]:
    """The same rows as wasmtime-py's generic lowering takes them (records of lists)."""
    ((field, _),) = list_ty.element.fields
    records = []
    for row in rows.rows:
        record = _types.Record()
        setattr(record, field, list(row))
        records.append(record)
    return records


def _bytes_cells(out: _Buffers, data: bytes) -> int:
    """A blob's `list<u8>` cells (one per byte, as the C API wants them); their address."""
    cells, at = out.block(len(data) * _VAL)
    if data:
        view = memoryview(cells)
        view[0::_VAL] = bytes([_U8]) * len(data)
        view[8::_VAL] = data
    return at
