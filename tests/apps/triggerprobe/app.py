"""A probe of the Redis and cron triggers: what it handled, per region, in its KV store.

A message is recorded (its size and sha256, and a count); the payloads
`raise`, `loop` and `sleep` make the handler fail in those ways. Each cron
event appends its timestamp. `GET /state` shows it all.
"""

import hashlib
import time
from typing import Any

from framework import CronEvent, Request, cron_component, http_component, kv, redis_component


def _append(store: kv.Store, key: str, value: Any) -> None:
    items = store.get_json(key) or []
    items.append(value)
    store.set_json(key, items)


@redis_component
def on_message(payload: bytes) -> None:
    if payload == b"raise":
        raise RuntimeError("asked to fail")
    if payload == b"loop":
        while True:
            pass
    if payload == b"sleep":
        time.sleep(60)
    store = kv.open_default()
    _append(
        store, "messages", {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    )


@cron_component
def on_tick(event: CronEvent) -> None:
    _append(kv.open_default(), "ticks", event.timestamp)


@http_component("/state")
def state(req: Request) -> dict[str, Any]:
    store = kv.open_default()
    return {"messages": store.get_json("messages") or [], "ticks": store.get_json("ticks") or []}
