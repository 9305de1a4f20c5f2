"""What the explorer shows of the key-value stores: keys side by side, values, outboxes.

Pure reads of the stores of every region (and of the network, for when a
pending change is due); the caller runs them on the thread that owns the
stores' connections. Values are cut to a preview of PREVIEW_BYTES; a whole
value is read one at a time, up to MAX_VALUE_READ bytes.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from ..regions.network import Network
from ..stores import StoreRegistry
from ..stores.changes import hlc_millis
from ..stores.kv import Entry
from ..stores.limits import MAX_KEY_BYTES, MAX_VALUE_BYTES

PREVIEW_BYTES = 256
MAX_LIMIT = 1000
MAX_VALUE_READ = MAX_VALUE_BYTES


def preview(value: bytes) -> dict[str, Any]:
    """The first PREVIEW_BYTES of a value as hex, and as text when they are UTF-8."""
    head = value[:PREVIEW_BYTES]
    try:
        text: str | None = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A cut in the middle of a character is still text; anything else is not.
        text = head[: exc.start].decode("utf-8") if exc.start >= len(head) - 3 else None
    return {"text": text, "hex": head.hex(), "size": len(value), "cut": len(value) > len(head)}


def check_store(registries: Mapping[str, StoreRegistry], labels: list[str], store: str) -> None:
    if store not in labels:
        known = ", ".join(labels) or "none"
        raise KeyError(f"unknown key-value store {store!r}; this app's stores: {known}")


def check_limit(raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise ValueError(f"limit must be a whole number, not {raw!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def _state(entry: Entry | None) -> dict[str, Any]:
    if entry is None:
        return {"state": "absent"}
    described: dict[str, Any] = {
        "state": "deleted" if entry.tombstone else "present",
        "hlc": entry.hlc,
        "written_at": hlc_millis(entry.hlc) / 1000,
        "origin": entry.origin,
    }
    if entry.value is not None:
        described.update(size=len(entry.value), preview=preview(entry.value))
    return described


def _differs(entries: list[Entry | None]) -> bool:
    # A tombstone and a key never seen read the same: both are "no value".
    values = {None if e is None or e.tombstone else e.value for e in entries}
    return len(values) > 1


def list_keys(
    registries: Mapping[str, StoreRegistry], store: str, prefix: str, contains: str, limit: int
) -> dict[str, Any]:
    """Per key (the first `limit` of every region's together), each region's copy."""
    rows = {
        name: {e.key: e for e in registry.kv(store).scan(prefix, contains, limit)}
        for name, registry in registries.items()
    }
    # A key among the first `limit` of the union is among the first `limit` of
    # every region that has it, so cutting the union is exact.
    union = sorted(set().union(*(r.keys() for r in rows.values())))
    keys = []
    for key in union[:limit]:
        entries = [rows[name].get(key) for name in registries]
        keys.append(
            {
                "key": key,
                "differs": _differs(entries),
                "regions": {name: _state(rows[name].get(key)) for name in registries},
            }
        )
    return {
        "store": store,
        "regions": list(registries),
        "keys": keys,
        "truncated": len(union) > limit,
    }


def read_value(
    registries: Mapping[str, StoreRegistry], store: str, key: str, region: str
) -> dict[str, Any]:
    if region not in registries:
        raise KeyError(f"unknown region {region!r}; regions are {', '.join(registries)}")
    if len(key.encode("utf-8", "replace")) > MAX_KEY_BYTES:
        raise ValueError(f"a key is at most {MAX_KEY_BYTES} bytes")
    entry = registries[region].kv(store).entry(key)
    answer: dict[str, Any] = {"store": store, "key": key, "region": region, **_state(entry)}
    if entry is not None and entry.value is not None:
        if len(entry.value) > MAX_VALUE_READ:
            raise ValueError(f"the value is larger than {MAX_VALUE_READ} bytes")
        answer["base64"] = base64.b64encode(entry.value).decode()
    return answer


def pending(
    registries: Mapping[str, StoreRegistry], store: str, network: Network, limit: int
) -> dict[str, Any]:
    """Per directed link: the changes its sender has not had acknowledged yet."""
    links = []
    for src, registry in registries.items():
        sender = registry.kv(store)
        for dst in registries:
            if dst == src:
                continue
            acked = sender.acked(dst)
            up = network.is_up(src, dst)
            changes = []
            for change in sender.changes_since(acked, limit):
                written = hlc_millis(change.hlc) / 1000
                changes.append(
                    {
                        "seq": change.seq,
                        "key": change.key,
                        "op": "delete" if change.tombstone else "set",
                        "written_at": written,
                        # A cut link delivers only once it is healed: no time yet.
                        "due_at": network.delivery_time(src, dst, written, change.seq)
                        if up
                        else None,
                        **({} if change.value is None else {"preview": preview(change.value)}),
                    }
                )
            links.append(
                {
                    "from": src,
                    "to": dst,
                    "partitioned": not up,
                    "backlog": sender.last_seq() - acked,
                    "changes": changes,
                }
            )
    return {"store": store, "links": links}
