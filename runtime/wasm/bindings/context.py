"""Per-instance host state that the binding modules reach during a call.

An instance serves one request, and one thread at a time runs it (see
`runtime.wasm.watchdog`), so the context of the running call is a slot of the
thread: set before the host enters the guest, cleared after. Host functions
look it up with `current()`. Per thread, because a call abandoned at its
deadline may still be unwinding on its own thread while the next one runs.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from wasmtime import component as wc

from ...stores.events import NO_EVENTS, EventSink


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
    # Outbound HTTP: where a request may go (runtime.outbound.HttpPolicy; None:
    # nowhere), the endpoint self and chained requests go to (ChainServer), the
    # region they run in, and how an emulated round trip is paid (the clock's sleep).
    http_policy: Any = None
    chain: Any = None
    region: str = ""
    sleep: Callable[[float], None] = time.sleep
    # Where outbound calls are reported (the event log's `outbound.*` events).
    events: EventSink = NO_EVENTS


# At most this many outbound calls of one request go to the event log; the rest
# are counted in one last event, so that a loop of Redis calls cannot push the
# other events out of the log (or past the writer's limit).
MAX_REPORTS_PER_CALL = 100

# Resource reps are u32 handles the guest holds; unique across the process so a
# stale handle can never name another instance's object.
_reps = itertools.count(1)


class RequestOver(Exception):
    """A host call after the request's deadline, or after it ended: refused (the guest traps)."""


class StaleHandle(LookupError):
    """A reused instance used a handle it was given in an earlier request."""


@dataclass
class CallContext:
    services: HostServices
    resources: dict[int, Any] = field(default_factory=dict)
    # Reps whose object belongs to this call and is closed with it (SQL
    # connections); the others (shared KV stores) are only forgotten.
    owned: set[int] = field(default_factory=set)
    # time.monotonic() past which host calls are refused: a guest that carries
    # on after its deadline (an error caught, an epoch tick not yet come) must
    # not write anything more.
    deadline: float = math.inf
    closed: bool = False
    # Reps released when earlier requests of a reused instance ended.
    released: set[int] = field(default_factory=set)
    # Outbound HTTP: the engine's wasi:http helper (runtime.wasm.http_helper.Helper),
    # its instance in this store once made, and how many self or chained
    # requests deep this call is.
    http_helper: Any = None
    native_http: Any = None
    chain_depth: int = 0
    reported: int = 0  # outbound calls of this request put in the event log

    @property
    def reporting(self) -> bool:
        """Whether outbound calls go anywhere (building their fields costs time)."""
        return self.services.events is not NO_EVENTS

    def report(self, kind: str, fields: dict[str, Any]) -> None:
        """One outbound call, as the feed shows it: which region and component made it."""
        self.reported += 1
        if self.reported > MAX_REPORTS_PER_CALL:
            return
        self._emit(kind, fields)

    def _emit(self, kind: str, fields: dict[str, Any]) -> None:
        services = self.services
        who = {"region": services.region, "component": services.grants.component_id}
        services.events.emit(kind, {**who, **fields})

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
            if rep in self.released:
                raise StaleHandle(
                    f"handle {rep} was opened by an earlier request of this reused instance; "
                    "open stores and connections in the request that uses them"
                ) from None
            raise LookupError(f"unknown resource handle {rep}") from None

    def drop_resource(self, rep: int) -> None:
        obj = self.resources.pop(rep, None)
        if rep in self.owned:
            self.owned.discard(rep)
            obj.close()

    def close(self) -> None:
        """Release what the guest left open (an open SQL transaction rolls back)."""
        self.closed = True
        if self.reported > MAX_REPORTS_PER_CALL:
            self._emit("outbound.skipped", {"calls": self.reported - MAX_REPORTS_PER_CALL})
        self.reported = 0
        self.released.update(self.resources)
        for rep in list(self.resources):
            self.drop_resource(rep)

    def reopen(self) -> None:
        """After `close`, for the next request of a reused instance. Handles the
        guest kept from the last request stay unknown: using one is an error."""
        self.closed = False
        self.deadline = math.inf
        self.chain_depth = 0


class _Slot(threading.local):
    context: CallContext | None = None


_slot = _Slot()


def current() -> CallContext:
    context = _slot.context
    if context is None:
        raise RuntimeError("host function called outside of a request")
    if context.closed or time.monotonic() >= context.deadline:
        raise RequestOver("host call refused: the request is over or past its deadline")
    return context


@contextmanager
def entered(ctx: CallContext) -> Iterator[CallContext]:
    previous, _slot.context = _slot.context, ctx
    try:
        yield ctx
    finally:
        _slot.context = previous
