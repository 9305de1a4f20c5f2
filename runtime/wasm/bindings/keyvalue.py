"""Host side of `fermyon:spin/key-value@2.0.0`: WIT values in, store calls out."""

from __future__ import annotations

from typing import Any

from wasmtime import component as wc

from ...stores import TooLarge
from .context import current

INTERFACE = "fermyon:spin/key-value@2.0.0"
STORE_TYPE = 1


def _err(case: str, message: str | None = None) -> wc.Variant:
    return wc.Variant(case, message) if message is not None else wc.Variant(case)


def open_store(store: Any, label: str) -> Any:
    ctx = current()
    # Spin checks the manifest grant before it looks the store up.
    if label not in ctx.services.grants.key_value_stores:
        return _err("access-denied")
    try:
        kv = ctx.services.open_kv(label)
    except LookupError:
        return _err("no-such-store")
    return ctx.add_resource(kv, STORE_TYPE, owned=False)


def get(store: Any, handle: wc.ResourceAny, key: str) -> bytes | None:
    # result<option<list<u8>>, error>: wasmtime-py cannot lower the error case
    # here (any value matches the option), so a failing read becomes a trap.
    return current().resource(handle, store).get(key)


def set_(store: Any, handle: wc.ResourceAny, key: str, value: bytes) -> wc.Variant | None:
    kv = current().resource(handle, store)
    try:
        kv.set(key, bytes(value))
    except TooLarge as exc:
        return _err("other", str(exc))
    return None


def delete(store: Any, handle: wc.ResourceAny, key: str) -> wc.Variant | None:
    try:
        current().resource(handle, store).delete(key)
    except TooLarge as exc:
        return _err("other", str(exc))
    return None


def exists(store: Any, handle: wc.ResourceAny, key: str) -> bool:
    return bool(current().resource(handle, store).exists(key))


def get_keys(store: Any, handle: wc.ResourceAny) -> list[str]:
    return list(current().resource(handle, store).keys())


def drop(store: Any, rep: int) -> None:
    # Stores are shared per region and label: dropping the handle forgets it only.
    current().drop_resource(rep)


def add_to_linker(root: wc.LinkerInstance) -> None:
    with root.add_instance(INTERFACE) as iface:
        iface.add_resource("store", wc.ResourceType.host(STORE_TYPE), drop)
        iface.add_func("[static]store.open", open_store)
        iface.add_func("[method]store.get", get)
        iface.add_func("[method]store.set", set_)
        iface.add_func("[method]store.delete", delete)
        iface.add_func("[method]store.exists", exists)
        iface.add_func("[method]store.get-keys", get_keys)
