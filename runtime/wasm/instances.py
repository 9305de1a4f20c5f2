"""Running one component: a fresh instance per request, made ahead of time.

Spin gives every request a fresh instance; so does this runner. Instances are
made before requests arrive (a small pool, refilled after each response) so a
request does not wait for instantiation. A trapped instance is never reused.
The deadline is wall-clock time for the whole request: epoch interruption
stops guest code, the stores stop their statements (`runtime.stores.deadlines`)
and the watchdog gives up on a guest blocked in WASI (`runtime.wasm.watchdog`).
A memory limit stops handlers that allocate without end. Bodies cross the
boundary in pieces (`runtime.wasm.body`).
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import wasmtime
from wasmtime import component as wc

from ..stores import deadlines
from . import body, convert
from .bindings import (
    CallContext,
    HostServices,
    entered,
    link,
    shadow_outgoing_handler,
    shadow_wall_clock,
)
from .bindings.clocks import WALL_CLOCK_PREFIX
from .bindings.context import RequestOver, StaleHandle
from .bindings.http import HANDLER_PREFIX
from .engine import WasmEngine
from .failures import (
    DeadlineExceeded,
    GuestFailure,
    OutOfSlots,
    Overloaded,
    ResponseTooLarge,
    is_epoch_interrupt,
    trap_cause,
)
from .http_helper import Helper
from .reuse import FRESH, ReusePolicy
from .watchdog import Abandoned, TooManyStuck

__all__ = [
    "DISPATCH_INTERFACE",
    "ComponentRunner",
    "DeadlineExceeded",
    "GuestFailure",
    "HttpRequest",
    "HttpResponse",
    "Overloaded",
    "ResponseTooLarge",
]

log = logging.getLogger("edge.instances")
T = TypeVar("T")

DISPATCH_INTERFACE = "edge:runtime/dispatch@0.1.0"
MAX_GUEST_LOG_BYTES = 64 * 1024
# Fermyon Cloud's "HTTP body size limit" (10 MB, developer.fermyon.com/cloud/faq),
# for responses as for requests; `spin up` itself streams bodies of any size.
MAX_RESPONSE_BODY_BYTES = 10 * 1024 * 1024


@dataclass
class HttpRequest:
    method: str
    uri: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


# Each trigger's export: (interface, function); no interface is a world-level export.
TRIGGER_EXPORTS = {
    "redis": ("fermyon:spin/inbound-redis", "handle-message"),
    "cron": ("", "handle-cron-event"),
}
_TRIGGER_DECORATORS = {"redis": "@redis_component", "cron": "@cron_component"}


def missing_trigger_export(kind: str) -> str:
    """What to say of a component that its trigger cannot call."""
    interface, name = TRIGGER_EXPORTS[kind]
    what = f"{name} of {interface}" if interface else name
    return (
        f"does not export {what}, which its [[trigger.{kind}]] calls: give the app a "
        f"{_TRIGGER_DECORATORS[kind]} handler and rebuild it (`edge build`)"
    )


class _CronMetadata(wc.Record):
    def __init__(self, timestamp: int) -> None:
        self.timestamp = int(timestamp)


class _Request(wc.Record):
    def __init__(self, req: HttpRequest, body: bytes) -> None:
        self.method = req.method
        self.uri = req.uri
        self.headers = req.headers
        self.body = body


@dataclass
class _Ready:
    """An instantiated component waiting for its request (or its next, when reused)."""

    store: wasmtime.Store
    exports: dict[str, wc.Func]  # the dispatch interface's functions by name
    context: CallContext
    output: bytearray = field(default_factory=bytearray)
    instance: wc.Instance | None = None  # for the trigger exports, looked up on use
    requests_left: int = 1
    idle_timeout: float = 0.0  # seconds a reused instance may wait for its next request
    idle_since: float = 0.0


class ReadyPool:
    """Fresh instances of one component, made ahead of their requests.

    One pool serves the component's runners in every region: an instance is
    bound to a region only when a runner takes it (its context's services), so
    a worker keeps `size` instances of a component, not `size` per region.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._ready: deque[_Ready] = deque()

    def __len__(self) -> int:
        return len(self._ready)

    def short(self) -> bool:
        return len(self._ready) < self.size

    def put(self, ready: _Ready) -> None:
        self._ready.append(ready)

    def take(self) -> _Ready | None:
        return self._ready.popleft() if self._ready else None

    def clear(self) -> None:
        self._ready.clear()


def _linker_for(engine: WasmEngine, component: wc.Component) -> wc.Linker:
    # Building the linker registers every host function: do it once per engine.
    # It lives on the engine object: a table keyed by id() would hand a new
    # engine, at a reused address, the linker of a dead one.
    if engine.linker is None:
        engine.linker = wc.Linker(engine.engine)
        link(engine.linker)
        engine.http_helper = Helper.for_engine(engine.engine)
    imports = set(component.type.imports(engine.engine))
    names = {n for n in imports if n.startswith(HANDLER_PREFIX)} - engine.shadowed
    if names:
        shadow_outgoing_handler(engine.linker, names)
        engine.shadowed |= names
    if engine.wall_clock is not None:
        clocks = {n for n in imports if n.startswith(WALL_CLOCK_PREFIX)} - engine.shadowed
        if clocks:
            shadow_wall_clock(engine.linker, clocks, engine.wall_clock)
            engine.shadowed |= clocks
    return engine.linker


class ComponentRunner:
    def __init__(
        self,
        engine: WasmEngine,
        component: wc.Component,
        services: HostServices,
        *,
        deadline_ms: int,
        memory_limit_bytes: int,
        pool_size: int,
        max_response_body_bytes: int = MAX_RESPONSE_BODY_BYTES,
        reuse: ReusePolicy = FRESH,
        clock: Callable[[], float] = time.monotonic,
        ready_pool: ReadyPool | None = None,
    ) -> None:
        """`clock` (seconds) times how long reused instances have been idle: the
        Emulator's virtual clock, so that its tests decide when they expire.
        `ready_pool` is shared with the component's runners in other regions
        (else the runner has one of its own, of `pool_size`)."""
        self.engine = engine
        self.component = component
        self.services = services
        self.component_id = services.grants.component_id
        self.deadline_ms = deadline_ms
        self.memory_limit_bytes = memory_limit_bytes
        self.pool_size = pool_size
        self.max_response_body_bytes = max_response_body_bytes
        self.reuse = reuse
        self._clock = clock
        self._rng = random.Random(reuse.seed)
        self._linker = _linker_for(engine, component)
        self._exports: dict[str, Any] | None = None  # the dispatch exports' indices
        self.ready_pool = ready_pool if ready_pool is not None else ReadyPool(pool_size)
        self._warm: list[_Ready] = []  # instances that served a request and may serve more
        self._signatures: dict[str, Any] = {}  # the dispatch exports' types, taken once
        self.stats = {"requests": 0, "pool_misses": 0, "traps": 0, "deadlines": 0, "reused": 0}

    def _dispatch_exports(self) -> dict[str, Any]:
        # Export indices belong to the component: looked up once, valid in every instance.
        iface = self.component.get_export_index(DISPATCH_INTERFACE)
        found = {
            name: self.component.get_export_index(name, iface) if iface else None
            for name in body.EXPORTS
        }
        missing = [name for name, index in found.items() if index is None]
        if missing:
            raise GuestFailure(
                f"component {self.component_id!r} does not export {missing[0]} of "
                f"{DISPATCH_INTERFACE}: rebuild it with this version (`edge build`)"
            )
        return found

    def _instantiate(self) -> _Ready:
        store = wasmtime.Store(self.engine.engine)
        store.set_limits(memory_size=self.memory_limit_bytes)
        # Far in the future until a request starts; the call sets the real deadline.
        store.set_epoch_deadline(2**62)
        output = bytearray()

        def collect(data: bytes) -> None:
            if len(output) < MAX_GUEST_LOG_BYTES:
                output.extend(data[: MAX_GUEST_LOG_BYTES - len(output)])

        wasi = wasmtime.WasiConfig()
        wasi.stdout_custom = collect
        wasi.stderr_custom = collect
        store.set_wasi(wasi)
        store.set_wasi_http()
        context = CallContext(self.services, http_helper=self.engine.http_helper)
        try:
            with entered(context):
                instance = self._linker.instantiate(store, self.component)
        except wasmtime.WasmtimeError as exc:
            if "concurrent limit" in str(exc):  # the pooling allocator's slots are all taken
                raise OutOfSlots(f"component {self.component_id!r} not started: {exc}") from None
            raise
        if self._exports is None:
            self._exports = self._dispatch_exports()
        exports = {}
        for name, index in self._exports.items():
            func = instance.get_func(store, index)
            if func is None:  # an export of that name that is not a function
                raise GuestFailure(
                    f"component {self.component_id!r}: {name} of {DISPATCH_INTERFACE} "
                    "is not a function: rebuild it with this version (`edge build`)"
                )
            exports[name] = func
            self._signature(name, func, store)
        ready = _Ready(store, exports, context, output, instance)
        if self.reuse.reuses:
            ready.requests_left, ready.idle_timeout = self.reuse.lifetime(self._rng)
        return ready

    def pool_len(self) -> int:
        return len(self.ready_pool)

    def warm_len(self) -> int:
        return len(self._warm)

    def expire_idle(self) -> int:
        """Drop reused instances idle for longer than their timeout; how many went."""
        now = self._clock()
        kept = [r for r in self._warm if now - r.idle_since < r.idle_timeout]
        gone = len(self._warm) - len(kept)
        self._warm = kept
        return gone

    def refill_one(self) -> None:
        """Make one instance ahead of time (called when the wasm thread is idle)."""
        self.ready_pool.put(self._instantiate())

    def release(self) -> None:
        """Drop the instances made ahead and kept warm (their pooling slots with them)."""
        self.ready_pool.clear()
        self._warm.clear()

    def handle(self, request: HttpRequest, chain_depth: int = 0) -> HttpResponse:
        """Run one request in a fresh instance.

        `chain_depth` > 0 is a self or chained request that another guest call
        is waiting for: it runs on the calling thread (the watchdog's is taken
        by that waiting call), its deadline enforced by epochs and the stores.
        """
        response, ready = self._run(lambda ready: self._dispatch(ready, request), chain_depth)
        # A handler's uncaught exception is a 500 whose traceback the guest printed.
        self._flush_output(ready, logging.WARNING if response.status >= 500 else logging.INFO)
        self._keep(ready)
        return response

    def run_trigger(self, kind: str, argument: Any) -> str | None:
        """Call the export of a trigger ("redis": a message's payload, "cron": the
        timestamp) in a fresh instance: None if the handler succeeded, else the
        error it returned. Traps and deadlines raise, as for requests."""
        interface, name = TRIGGER_EXPORTS[kind]
        value = _CronMetadata(argument) if kind == "cron" else bytes(argument)

        def work(ready: _Ready) -> Any:
            func = self._trigger_export(ready, kind)
            signature = self._signature(f"{interface}#{name}", func, ready.store)
            result = convert.call(func, ready.store, signature, value)
            func.post_return(ready.store)
            return result

        result, ready = self._run(work, 0)
        self._flush_output(ready, logging.INFO if result is None else logging.WARNING)
        self._keep(ready)
        if result is None:
            return None
        detail = getattr(result, "payload", None)
        if detail is None:
            # Spin's Redis error is a bare enum: the guest's last words say why.
            lines = ready.output.decode("utf-8", "replace").strip().splitlines()
            detail = f"the handler returned Spin's error ({lines[-1].strip()})" if lines else None
        return str(detail or getattr(result, "tag", None) or result)

    def _trigger_export(self, ready: _Ready, kind: str) -> wc.Func:
        interface, name = TRIGGER_EXPORTS[kind]
        instance, store = ready.instance, ready.store
        assert instance is not None
        parent = instance.get_export_index(store, interface) if interface else None
        index = instance.get_export_index(store, name, parent) if parent or not interface else None
        func = instance.get_func(store, index) if index else None
        if func is None:
            raise GuestFailure(f"component {self.component_id!r} {missing_trigger_export(kind)}")
        return func

    def _run(self, work: Callable[[_Ready], T], chain_depth: int) -> tuple[T, _Ready]:
        """`work(ready)` on an instance, with the deadline; what it returned."""
        ready = self._take()
        self.stats["requests"] += 1
        deadline = time.monotonic() + self.deadline_ms / 1000
        ready.context.deadline = deadline
        ready.context.chain_depth = chain_depth
        # What the stores stop at; `cut` tells whether they had to.
        limit = deadlines.Deadline(deadline, f"the request deadline of {self.deadline_ms} ms")

        def call() -> T:
            with entered(ready.context), deadlines.applied(limit):
                ready.store.set_epoch_deadline(self.engine.deadline_ticks(self.deadline_ms))
                return work(ready)

        response: T | None = None
        done = False
        failure: GuestFailure | None = None
        blocked = False
        try:
            response = call() if chain_depth else self.engine.watchdog.run(call, deadline)
            done = True
        except Abandoned:
            blocked = True
        except TooManyStuck as exc:
            raise Overloaded(f"component {self.component_id!r} not started: {exc}") from None
        except Exception as exc:
            failure = self._failure(exc, ready)
        finally:
            ready.context.close()  # an abandoned call's open transaction rolls back here
        timed_out = not done and failure is None  # an epoch trap, a refused call
        if blocked or timed_out or limit.cut is not None or time.monotonic() >= deadline:
            # Whatever the guest did after its deadline (caught the interrupted
            # statement's error, say) does not count: the request ran out of time.
            raise self._late(ready, limit, blocked)
        if failure is not None:
            raise failure
        return response, ready  # type: ignore[return-value]  # done: work returned it

    def _take(self) -> _Ready:
        """A reused instance still within its idle timeout, else a fresh one."""
        now = self._clock()
        while self._warm:
            ready = self._warm.pop()  # the most recently used: the likeliest to be warm
            if now - ready.idle_since < ready.idle_timeout:
                self.stats["reused"] += 1
                return ready
        made = self.ready_pool.take()
        if made is not None:
            made.context.services = self.services  # made by any region's runner
            return made
        self.stats["pool_misses"] += 1
        return self._instantiate()

    def _keep(self, ready: _Ready) -> None:
        """After a call that ended well: keep the instance if it may serve another."""
        ready.requests_left -= 1
        if ready.requests_left <= 0:
            return
        ready.context.reopen()
        ready.output.clear()
        ready.idle_since = self._clock()
        self._warm.append(ready)

    def _signature(self, key: str, func: wc.Func, store: wasmtime.Store) -> Any:
        """An export's types, taken once per runner (an instance it takes may have
        been made by another region's runner, which took them for itself)."""
        signature = self._signatures.get(key)
        if signature is None:
            signature = self._signatures[key] = convert.signature(func, store)
        return signature

    def _dispatch(self, ready: _Ready, request: HttpRequest) -> HttpResponse:
        """The dispatch calls of one request, on the watchdog's thread."""

        def invoke(name: str, *params: Any) -> Any:
            func = ready.exports[name]
            result = convert.call(
                func, ready.store, self._signature(name, func, ready.store), *params
            )
            func.post_return(ready.store)
            return result

        last = body.send(request.body, lambda piece: invoke(body.WRITE, piece))
        result = invoke(body.HANDLE, _Request(request, last))
        size = int(getattr(result, "body-size"))  # wasmtime-py keeps WIT's field names
        if size > self.max_response_body_bytes:
            raise ResponseTooLarge(
                f"component {self.component_id!r} returned a response body of {size} bytes, "
                f"more than the limit of {self.max_response_body_bytes} bytes",
                ready.output.decode("utf-8", "replace"),
            )
        content = body.receive(bytes(result.body), size, lambda n: invoke(body.READ, n))
        return HttpResponse(int(result.status), list(result.headers), content)

    def _late(self, ready: _Ready, limit: deadlines.Deadline, blocked: bool) -> DeadlineExceeded:
        """The request ran past its deadline: where it was when it was stopped."""
        self.stats["deadlines"] += 1
        if blocked:
            where = "while blocked in a host call (such as time.sleep or outbound I/O)"
        else:
            where = f"in {limit.cut}" if limit.cut else "in the handler's code"
        return DeadlineExceeded(
            f"component {self.component_id!r} ran past the request deadline of "
            f"{self.deadline_ms} ms {where}",
            where,
            ready.output.decode("utf-8", "replace"),
        )

    def _failure(self, exc: Exception, ready: _Ready) -> GuestFailure | None:
        """What a failed call was; None when the deadline itself stopped it."""
        if isinstance(exc, RequestOver):
            return None  # a host call after the deadline was refused
        if isinstance(exc, GuestFailure):
            return exc
        output = ready.output.decode("utf-8", "replace")
        if isinstance(exc, StaleHandle):  # the guest's mistake, not the host's
            return GuestFailure(f"component {self.component_id!r}: {exc}", output)
        if not isinstance(exc, wasmtime.WasmtimeError):  # a bug of a host function
            log.error("component %r: a host call failed", self.component_id, exc_info=exc)
            return GuestFailure(
                f"component {self.component_id!r} failed in a host call: {exc!r}", output
            )
        cause, backtrace = trap_cause(str(exc))
        if is_epoch_interrupt(cause):
            return None
        self.stats["traps"] += 1
        return GuestFailure(f"component {self.component_id!r} trapped: {cause}", output, backtrace)

    def _flush_output(self, ready: _Ready, level: int) -> None:
        if ready.output:
            for line in ready.output.decode("utf-8", "replace").rstrip().splitlines():
                log.log(level, "[%s] %s", self.component_id, line)
