"""Key-value stores (Spin's `fermyon:spin/key-value@2.0.0`).

    store = kv.open("default")
    store.set_json("user:1", {"name": "Ada"})
    store.get_json("user:1")          # -> {"name": "Ada"}

Limits (key and value sizes, number of stores) are the host's to enforce:
its errors arrive as the typed exceptions of `framework.errors`. The value
size is also checked here first, with the host's message: wasmtime copies a
value the guest passes at about 48 bytes of host memory per byte and stops a
host call at 128 MiB of that ("hostcall fuel"), so a value over about 2.7 MiB
would trap before any host could refuse it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from ._bindings import err_type, wit_import
from ._handles import HostHandle
from .errors import (
    AccessDeniedError,
    KVError,
    KVOtherError,
    NoSuchStoreError,
    StoreTableFullError,
    TooLargeError,
)

T = TypeVar("T")
Value = bytes | bytearray | memoryview | str

MAX_VALUE_BYTES = 1024 * 1024
"""Spin's largest value: "values as large as 1 megabyte" (spinframework.dev kv-store-api-guide)."""


def open(label: str = "default") -> Store:
    """Open the store `label` (it must be listed in the component's spin.toml entry)."""
    if not isinstance(label, str):
        raise TypeError(f"store label must be str, not {type(label).__name__}")
    bindings = wit_import("key_value")
    try:
        handle = bindings.Store.open(label)
    except err_type() as exc:
        raise kv_error(getattr(exc, "value", None), label) from None
    return Store(handle, label)


def open_default() -> Store:
    """Open the store labelled "default"."""
    return open("default")


class Store(HostHandle):
    """An open key-value store. Use as a context manager, or `close()` it, to free it early."""

    def __init__(self, handle: Any, label: str) -> None:
        self._handle = handle
        self.label = label

    def get(self, key: str) -> bytes | None:
        """The value of `key`, or None when it is absent."""
        value = self._call(lambda h: h.get(_key(key)))
        return None if value is None else bytes(value)

    def set(self, key: str, value: Value) -> None:
        """Store `value` (bytes, or str as UTF-8) under `key`, replacing any value."""
        data = _value(value)
        if len(data) > MAX_VALUE_BYTES:
            raise TooLargeError(
                f"too large: value of {len(data)} bytes exceeds the maximum value size "
                f"of {MAX_VALUE_BYTES} bytes (key {key!r})"
            )
        self._call(lambda h: h.set(_key(key), data))

    def delete(self, key: str) -> None:
        """Remove `key`; no error if it is absent."""
        self._call(lambda h: h.delete(_key(key)))

    def exists(self, key: str) -> bool:
        return bool(self._call(lambda h: h.exists(_key(key))))

    def keys(self) -> list[str]:
        """Every key in the store."""
        return list(self._call(lambda h: h.get_keys()))

    def get_json(self, key: str, default: Any = None) -> Any:
        """The value of `key` parsed as JSON, or `default` when the key is absent."""
        raw = self.get(key)
        if raw is None:
            return default
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ValueError(
                f"the value of {key!r} in key-value store {self.label!r} is not JSON: {exc}"
            ) from None

    def set_json(self, key: str, obj: Any) -> None:
        """Store `obj` as compact UTF-8 JSON."""
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        self.set(key, text.encode("utf-8"))

    def __repr__(self) -> str:
        state = "closed" if self._handle is None else "open"
        return f"<kv.Store {self.label!r} {state}>"

    def _call(self, op: Callable[[Any], T]) -> T:
        if self._handle is None:
            raise ValueError(f"key-value store {self.label!r} is closed")
        try:
            return op(self._handle)
        except err_type() as exc:
            raise kv_error(getattr(exc, "value", None), self.label) from None


def kv_error(error: object, label: str) -> KVError:
    """The exception for a `fermyon:spin/key-value` error value."""
    kind = type(error).__name__
    if kind == "Error_NoSuchStore":
        return NoSuchStoreError(
            f"no key-value store labelled {label!r}: add it to key_value_stores in the "
            'component\'s spin.toml entry (and, unless it is "default", to the runtime config)'
        )
    if kind == "Error_AccessDenied":
        return AccessDeniedError(
            f"this component may not use key-value store {label!r}: add it to "
            "key_value_stores in the component's spin.toml entry"
        )
    if kind == "Error_StoreTableFull":
        return StoreTableFullError(
            "too many key-value stores are open at once: close some (Store.close()) first"
        )
    message = str(getattr(error, "value", error))
    if kind == "Error_Other" and message.lower().startswith("too large"):
        return TooLargeError(message)
    return KVOtherError(message)


def _key(key: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"key-value keys are str, not {type(key).__name__}")
    return key


def _value(value: Value) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(
        f"key-value values are bytes or str, not {type(value).__name__} "
        "(use set_json for other objects)"
    )
