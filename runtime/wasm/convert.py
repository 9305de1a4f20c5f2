"""Faster component value conversion for wasmtime-py 50, and cached call plans.

wasmtime-py converts values between Python and the component model generically,
and it is slow where this runtime is hot:

- `list<u8>` is converted one element at a time through Python: a 1 MiB
  key-value value or request body costs about a second each way. The C API
  stores such a list as an array of 32-byte `wasmtime_component_val_t` cells
  (a kind byte, then the byte itself at offset 8); strided slice assignment
  writes and reads that array in place at C speed instead. The cells are the
  C API's own cost (wasmtime then builds a 40-byte `Val` per byte as well):
  nothing here copies them again, and large bodies cross in pieces (see
  `runtime.wasm.body`). SQL rows are lowered in one pass (`runtime.wasm.rows`).
- Every host call and every export call rebuilds its function type, and every
  variant or result lowered asks the C API for its cases again (about 60 FFI
  calls per request). Types are immutable, so their properties are memoised
  per type object, host functions keep the parameter and result types of their
  first call, and exports are called with types taken once per component.
- A Python exception raised in a host function waits in a module global of
  wasmtime-py until its trap comes back out of wasm. A call abandoned at its
  deadline (`runtime.wasm.watchdog`) may unwind on its own thread while the
  next call runs, so that slot is made one per thread.

`install()` patches wasmtime-py once per process, before any linker is built.
The semantics are wasmtime-py's own; only repeated work is gone.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import Any

from wasmtime import StoreContext, WasmtimeError
from wasmtime import _ffi as ffi
from wasmtime.component import _enter, _linker, _types
from wasmtime.component._func import Func

from . import rows

_CELL = ctypes.sizeof(ffi.wasmtime_component_val_t)
_KIND = ffi.wasmtime_component_val_t.kind.offset
_VALUE = ffi.wasmtime_component_val_t.of.offset
_U8 = ffi.WASMTIME_COMPONENT_U8.value
_LIST = ffi.WASMTIME_COMPONENT_LIST

_original_to_c = _types.ListType.convert_to_c
_original_from_c = _types.ListType.convert_from_c


def _cells(data: Any, n: int) -> memoryview:
    """The C array of `n` cells at the pointer `data`, as writable bytes (no copy)."""
    array = (ctypes.c_ubyte * (_CELL * n)).from_address(ctypes.addressof(data.contents))
    return memoryview(array).cast("B")


def _list_to_c(self: Any, store: Any, val: Any, ptr: Any) -> None:
    if isinstance(val, rows.SqlRows):
        if rows.SUPPORTED:
            return rows.lower(self, val, ptr)
        val = rows.as_records(self, val)
    if not self._is_bytes():
        if _is_pairs(self) and isinstance(val, list):
            return _pairs_to_c(val, ptr)
        return _original_to_c(self, store, val, ptr)
    if not isinstance(val, bytes | bytearray | memoryview):
        raise TypeError("expected bytes value")
    data = val if isinstance(val, bytes) else bytes(val)
    n = len(data)
    raw = ffi.wasmtime_component_vallist_t()
    ffi.wasmtime_component_vallist_new_uninit(raw, n)
    if n:
        cells = _cells(raw.data, n)
        cells[_KIND::_CELL] = bytes([_U8]) * n
        cells[_VALUE::_CELL] = data
    ptr.contents.kind = _LIST
    ptr.contents.of.list = raw
    return None


def _bytes_from_c(self: Any, c: Any) -> Any:
    if not self._is_bytes():
        return _pairs_from_c(c) if _is_pairs(self) else _original_from_c(self, c)
    assert c.kind == _LIST.value
    try:
        n = c.of.list.size
        if n == 0:
            return b""
        return _cells(c.of.list.data, n)[_VALUE::_CELL].tobytes()
    finally:
        # U8 cells own nothing: deleting the list frees the array only.
        ffi.wasmtime_component_vallist_delete(ctypes.byref(c.of.list))


# --- strings -----------------------------------------------------------------
# wasmtime-py copies a string through a ctypes array type made for its length
# (`c_uint8 * n`), about 60 µs for a header pair; the same copy straight from
# and into the bytes object takes a few.

_STRING = ffi.WASMTIME_COMPONENT_STRING
_TUPLE = ffi.WASMTIME_COMPONENT_TUPLE
_BOOL = ffi.WASMTIME_COMPONENT_BOOL


def _string_to_c(self: Any, store: Any, val: Any, ptr: Any) -> None:
    if not isinstance(val, str):
        raise TypeError("expected string type")
    data = val.encode("utf-8")
    vec = ffi.wasm_byte_vec_t()
    ffi.wasm_byte_vec_new_uninitialized(ctypes.byref(vec), len(data))
    if data:
        ctypes.memmove(vec.data, data, len(data))
    ptr.contents.kind = _STRING
    ptr.contents.of.string = vec


def _text(vec: Any) -> str:
    """A string cell's bytes as text (the cell keeps them)."""
    return ctypes.string_at(vec.data, vec.size).decode("utf-8") if vec.size else ""


def _string_from_c(self: Any, c: Any) -> str:
    assert c.kind == _STRING.value
    vec = c.of.string
    try:
        return _text(vec)
    finally:
        ffi.wasm_byte_vec_delete(ctypes.byref(vec))


# --- list<tuple<string, string>>: headers ---------------------------------------
# Generically each pair costs a tuple type's Python walk and two string
# conversions; written straight into the C cells it is a few attribute sets.


def _compute_is_pairs(ty: Any) -> bool:
    element = ty.element
    return isinstance(element, _types.TupleType) and [type(e) for e in element.elements] == [
        _types.String,
        _types.String,
    ]


def _pairs_to_c(val: list[Any], ptr: Any) -> None:
    n = len(val)
    raw = ffi.wasmtime_component_vallist_t()
    ffi.wasmtime_component_vallist_new_uninit(raw, n)
    done = 0
    try:
        for pair in val:
            name, value = pair
            pair_raw = ffi.wasmtime_component_valtuple_t()
            ffi.wasmtime_component_valtuple_new_uninit(pair_raw, 2)
            _string_to_c(None, None, name, ctypes.pointer(pair_raw.data[0]))
            try:
                _string_to_c(None, None, value, ctypes.pointer(pair_raw.data[1]))
            except BaseException:
                pair_raw.data[1].kind = _BOOL
                ffi.wasmtime_component_valtuple_delete(ctypes.byref(pair_raw))
                raise
            cell = raw.data[done]
            cell.kind = _TUPLE
            cell.of.tuple = pair_raw
            done += 1
    except BaseException:
        for j in range(done, n):  # cells never written: make them plain values to drop
            raw.data[j].kind = _BOOL
            raw.data[j].of.boolean = False
        ffi.wasmtime_component_vallist_delete(ctypes.byref(raw))
        raise
    ptr.contents.kind = _LIST
    ptr.contents.of.list = raw


def _pairs_from_c(c: Any) -> list[tuple[str, str]]:
    assert c.kind == _LIST.value
    raw = c.of.list
    try:
        pairs = []
        for i in range(raw.size):
            cells = raw.data[i].of.tuple.data
            pairs.append((_text(cells[0].of.string), _text(cells[1].of.string)))
        return pairs
    finally:
        ffi.wasmtime_component_vallist_delete(ctypes.byref(raw))  # frees the pairs too


# --- memoised type properties ----------------------------------------------


def _cached(compute: Callable[[Any], Any], slot: str) -> Callable[[Any], Any]:
    """`compute(self)`, worked out once per object and kept in its __dict__ as `slot`."""

    def cached(self: Any) -> Any:
        try:
            return self.__dict__[slot]
        except KeyError:
            value = self.__dict__[slot] = compute(self)
            return value

    return cached


def _memo(cls: type, name: str) -> None:
    """Make the property `cls.name` compute once per object."""
    setattr(cls, name, property(_cached(getattr(cls, name).fget, f"_edge_{name}")))


def _memo_method(cls: type, name: str) -> None:
    """Make the argument-less method `cls.name` compute once per object."""
    setattr(cls, name, _cached(getattr(cls, name), f"_edge_{name}"))


_is_pairs = _cached(_compute_is_pairs, "_edge_pairs")  # is a list type list<tuple<string, string>>


def _compute_case_classes(self: Any) -> list[tuple[type, ...] | None]:
    """For each case, the Python classes an untagged value of it may have."""
    classes: list[tuple[type, ...] | None] = []
    for _name, ty in self._cases():
        found: set[type] = set()
        if ty is not None:
            ty.add_classes(found)
        classes.append(tuple(found) if ty is not None else None)
    return classes


_case_classes = _cached(_compute_case_classes, "_edge_case_classes")


class Err:
    """The error case of a `result`, said explicitly.

    wasmtime-py tells a result's cases apart by the Python type of the value;
    when the ok case takes any value (`result<option<T>, E>`: None or any
    payload), an error would be taken for an ok. A host function returns
    `Err(error)` there instead.
    """

    __slots__ = ("payload",)

    def __init__(self, payload: Any) -> None:
        self.payload = payload


def _lower(self: Any, store: Any, val: Any) -> tuple[str, Any]:
    # wasmtime-py's VariantLikeType._lower, with the case classes computed once.
    if isinstance(val, Err) and isinstance(self, _types.ResultType):
        err = self.err
        if err is None:
            return ("err", None)
        raw = ffi.wasmtime_component_val_t()
        err.convert_to_c(store, val.payload, ctypes.pointer(raw))
        return ("err", ffi.wasmtime_component_val_new(ctypes.byref(raw)))
    tagged = self._tagged()
    if tagged and not isinstance(val, _types.Variant):
        raise TypeError("expected Variant type")
    for (name, ty), classes in zip(self._cases(), _case_classes(self), strict=True):
        if tagged:
            if name != val.tag:
                continue
        elif ty is None:
            if val is not None:
                continue
        elif not isinstance(val, classes):  # type: ignore[arg-type]
            continue
        if ty is None:
            return (name, None)
        raw = ffi.wasmtime_component_val_t()
        ty.convert_to_c(store, val.payload if tagged else val, ctypes.pointer(raw))
        return (name, ffi.wasmtime_component_val_new(ctypes.byref(raw)))
    raise ValueError("value not valid for this variant")


# --- a host function's exception, kept per thread until its trap comes back -------

_pending = threading.local()


def _catch_exceptions(store_raw: Any, func: Callable[[StoreContext], None]) -> int:
    # wasmtime-py's catch_exceptions, with the Python exception kept per thread.
    store = StoreContext(store_raw)
    error: WasmtimeError | None = None
    try:
        func(store)
    except WasmtimeError as exc:
        error = exc
    except Exception as exc:
        _pending.exception = exc
        error = WasmtimeError("python exception")
    finally:
        store._invalidate()
    if error is None:
        return 0
    return ctypes.cast(error._consume(), ctypes.c_void_p).value or 0


def _raise_pending() -> None:
    exc = getattr(_pending, "exception", None)
    if exc is not None:
        _pending.exception = None
        raise exc


# --- host calls with the types of their first call ------------------------------

_plans: dict[int, tuple[Any, tuple[Any, ...], Any]] = {}


@ffi.wasmtime_component_func_callback_t  # type: ignore[misc]
def _host_call(idx, context, ty_raw, args, nargs, results, nresults):  # type: ignore[no-untyped-def]
    def run(store: Any) -> None:
        func = _linker.FUNCTIONS.get(idx or 0)
        plan = _plans.get(idx or 0)
        if plan is None or plan[0] is not func:
            with _types.FuncType._from_ptr(ty_raw, owner=store) as fty:
                plan = (func, tuple(ty for _, ty in fty.params), fty.result)
            _plans[idx or 0] = plan
        _, param_tys, result_ty = plan
        assert len(param_tys) == nargs
        result = func(store, *[ty.convert_from_c(args[i]) for i, ty in enumerate(param_tys)])
        if result_ty is None:
            assert result is None
        else:
            result_ty.convert_to_c(store, result, results)

    return _catch_exceptions(context, run)


# --- export calls with types taken once ------------------------------------------


def signature(func: Func, store: Any) -> tuple[tuple[Any, ...], Any]:
    """The parameter types and result type of an export, to pass to `call`."""
    fty = func.type(store)
    return tuple(ty for _, ty in fty.params), fty.result


def call(func: Func, store: Any, sig: tuple[tuple[Any, ...], Any], *params: Any) -> Any:
    """`func(store, *params)`, with its types from `signature` instead of asked anew."""
    param_tys, result_ty = sig
    if len(params) != len(param_tys):
        raise TypeError(f"expected {len(param_tys)} parameters, got {len(params)}")
    param_capi = (ffi.wasmtime_component_val_t * len(params))()
    n = 0
    try:
        for ty, val in zip(param_tys, params, strict=True):
            ty.convert_to_c(store, val, ctypes.pointer(param_capi[n]))
            n += 1
        result_space = ffi.wasmtime_component_val_t()
        result_ptr = ctypes.byref(result_space) if result_ty is not None else None

        def run() -> Any:
            return ffi.wasmtime_component_func_call(
                ctypes.byref(func._func),
                store._context(),
                param_capi,
                n,
                result_ptr,
                1 if result_ty is not None else 0,
            )

        _enter.enter_wasm(run)
        return None if result_ty is None else result_ty.convert_from_c(result_space)
    finally:
        for i in range(n):
            ffi.wasmtime_component_val_delete(ctypes.byref(param_capi[i]))


_installed = False


def install() -> None:
    """Patch wasmtime-py; call before building any linker (idempotent)."""
    global _installed
    if _installed:
        return
    _types.ListType.convert_to_c = _list_to_c  # type: ignore[method-assign]
    _types.ListType.convert_from_c = _bytes_from_c  # type: ignore[method-assign]
    _types.String.convert_to_c = _string_to_c  # type: ignore[method-assign]
    _types.String.convert_from_c = _string_from_c  # type: ignore[method-assign]
    for cls, name in [
        (_types.ListType, "element"),
        (_types.RecordType, "fields"),
        (_types.TupleType, "elements"),
        (_types.OptionType, "payload"),
        (_types.ResultType, "ok"),
        (_types.ResultType, "err"),
    ]:
        _memo(cls, name)
    _memo_method(_types.VariantType, "_cases")
    _memo_method(_types.VariantLikeType, "_tagged")
    _types.VariantLikeType._lower = _lower  # type: ignore[method-assign]
    _linker.func_impl = _host_call
    _linker.catch_exceptions = _catch_exceptions  # type: ignore[assignment]  # destructors
    _enter.catch_exceptions = _catch_exceptions  # type: ignore[assignment]
    _enter.maybe_raise_last_exn = _raise_pending
    _installed = True
