"""Per-instance host state that the binding modules reach during a call.

All wasm of a process runs on one thread and an instance serves one request, so
the context of the running call is a plain module-level slot: set before the
host enters the guest, cleared after. Host functions look it up with
`current()`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from wasmtime import component as wc


@dataclass(frozen=True)
class Grants:
    """What one component may reach, from its manifest entry."""

    component_id: str
    key_value_stores: frozenset[str]
    sqlite_databases: frozenset[str]


@dataclass
class HostServices:
    """What a component's host functions are backed by, in one region."""

    grants: Grants
    open_kv: Callable[[str], Any]  # label -> runtime.stores.KVStore
    connect_sql: Callable[[str], Any]  # label -> runtime.stores.SqlConnection-like
    resolve_variable: Callable[[str], str]
    # address -> runtime.outbound.RedisConnection (allow-list checked first)
    open_redis: Callable[[str], Any] | None = None


# Resource reps are u32 handles the guest holds; unique across the process so a
# stale handle can never name another instance's object.
_reps = itertools.count(1)


@dataclass
class CallContext:
    services: HostServices
    resources: dict[int, Any] = field(default_factory=dict)
    # Reps whose object belongs to this call and is closed with it (SQL
    # connections); the others (shared KV stores) are only forgotten.
    owned: set[int] = field(default_factory=set)

    def add_resource(self, obj: Any, type_id: int, *, owned: bool) -> wc.ResourceHost:
        rep = next(_reps) & 0xFFFFFFFF
        self.resources[rep] = obj
        if owned:
            self.owned.add(rep)
        return wc.ResourceHost.own(rep, type_id)

    def resource(self, handle: wc.ResourceAny, store: Any) -> Any:
        # A borrowed handle must be converted in every call, or wasmtime reports
        # "borrow handles still remain at the end of the call".
        rep = handle.to_host(store).rep
        try:
            return self.resources[rep]
        except KeyError:
            raise LookupError(f"unknown resource handle {rep}") from None

    def drop_resource(self, rep: int) -> None:
        obj = self.resources.pop(rep, None)
        if rep in self.owned:
            self.owned.discard(rep)
            obj.close()

    def close(self) -> None:
        """Release what the guest left open (an open SQL transaction rolls back)."""
        for rep in list(self.resources):
            self.drop_resource(rep)


_current: CallContext | None = None


def current() -> CallContext:
    if _current is None:
        raise RuntimeError("host function called outside of a request")
    return _current


@contextmanager
def entered(ctx: CallContext) -> Iterator[CallContext]:
    global _current
    previous, _current = _current, ctx
    try:
        yield ctx
    finally:
        _current = previous
