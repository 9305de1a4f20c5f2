from __future__ import annotations

import pytest

from framework import (
    AccessDeniedError,
    KVError,
    KVOtherError,
    NoSuchStoreError,
    StoreTableFullError,
    TooLargeError,
    kv,
)

from . import fakes


def test_store_operations(bindings: fakes.Bindings) -> None:
    store = kv.open("default")
    store.set("a", b"\x00bytes")
    store.set("b", "text é")
    assert store.get("a") == b"\x00bytes" and store.get("b") == "text é".encode()
    assert store.get("missing") is None
    assert store.exists("a") and not store.exists("missing")
    assert sorted(store.keys()) == ["a", "b"]
    store.delete("a")
    store.delete("a")  # absent: no error
    assert store.keys() == ["b"] and store.label == "default"


def test_json_helpers(bindings: fakes.Bindings) -> None:
    store = kv.open_default()
    store.set_json("doc", {"name": "Ada", "tags": ["x"], "n": 1})
    assert (
        bindings.store is not None
        and bindings.store.data["doc"] == b'{"name":"Ada","tags":["x"],"n":1}'
    )
    assert store.get_json("doc") == {"name": "Ada", "tags": ["x"], "n": 1}
    assert store.get_json("missing") is None and store.get_json("missing", 0) == 0
    store.set("broken", b"{nope")
    with pytest.raises(ValueError, match="'broken' in key-value store 'default' is not JSON"):
        store.get_json("broken")


@pytest.mark.parametrize(
    ("error", "exc_type", "message"),
    [
        ("NoSuchStore", NoSuchStoreError, "no key-value store labelled 'cache'"),
        ("AccessDenied", AccessDeniedError, "may not use key-value store 'cache'"),
        ("StoreTableFull", StoreTableFullError, "too many key-value stores"),
    ],
)
def test_open_errors(
    bindings: fakes.Bindings, error: str, exc_type: type[KVError], message: str
) -> None:
    bindings.open_error = fakes.KV_ERRORS[f"Error_{error}"]()
    with pytest.raises(exc_type, match=message):
        kv.open("cache")


@pytest.mark.parametrize(
    ("message", "exc_type"),
    [
        ("too large: value is 1048577 bytes, the limit is 1048576", TooLargeError),
        ("Too Large key", TooLargeError),
        ("disk I/O error", KVOtherError),
        ("value too large", KVOtherError),  # only a leading "too large" means the limit
    ],
)
def test_other_errors(bindings: fakes.Bindings, message: str, exc_type: type[KVError]) -> None:
    store = kv.open("default")
    assert bindings.store is not None
    bindings.store.fail["set"] = fakes.KV_ERRORS["Error_Other"](message)
    with pytest.raises(exc_type) as info:
        store.set("k", b"v")
    assert type(info.value) is exc_type and str(info.value) == message


def test_errors_from_every_operation_are_mapped(bindings: fakes.Bindings) -> None:
    store = kv.open("default")
    assert bindings.store is not None
    for op in ("get", "delete", "exists", "get_keys"):
        bindings.store.fail[op] = fakes.KV_ERRORS["Error_AccessDenied"]()
    with pytest.raises(AccessDeniedError):
        store.get("k")
    with pytest.raises(AccessDeniedError):
        store.delete("k")
    with pytest.raises(AccessDeniedError):
        store.exists("k")
    with pytest.raises(AccessDeniedError):
        store.keys()


def test_type_errors_are_clear(bindings: fakes.Bindings) -> None:
    store = kv.open("default")
    with pytest.raises(TypeError, match="keys are str"):
        store.get(b"k")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="use set_json"):
        store.set("k", {"a": 1})  # type: ignore[arg-type]


def test_close_releases_the_handle(bindings: fakes.Bindings) -> None:
    with kv.open("default") as store:
        store.set("k", b"v")
    assert bindings.store is not None and bindings.store.closed
    with pytest.raises(ValueError, match="closed"):
        store.get("k")
    store.close()  # idempotent
