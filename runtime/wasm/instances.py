"""Running one component: a fresh instance per request, made ahead of time.

Spin gives every request a fresh instance; so does this runner. Instances are
made before requests arrive (a small pool, refilled after each response) so a
request does not wait for instantiation. A trapped instance is never reused,
a CPU deadline (epoch interruption) stops handlers that loop, and a memory
limit stops handlers that allocate without end. Everything here runs on the
process's single wasm thread.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import wasmtime
from wasmtime import component as wc

from . import convert
from .bindings import CallContext, HostServices, entered, link
from .engine import WasmEngine

log = logging.getLogger("edge.instances")

DISPATCH_INTERFACE = "edge:runtime/dispatch@0.1.0"
MAX_GUEST_LOG_BYTES = 64 * 1024


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


class GuestFailure(Exception):
    """The guest trapped or was stopped; its instance has been dropped."""

    def __init__(self, message: str, guest_output: str = "") -> None:
        super().__init__(message)
        self.guest_output = guest_output


class DeadlineExceeded(GuestFailure):
    """The handler used more CPU time than the deadline allows."""


class _Request(wc.Record):
    def __init__(self, req: HttpRequest) -> None:
        self.method = req.method
        self.uri = req.uri
        self.headers = req.headers
        self.body = req.body


@dataclass
class _Ready:
    """An instantiated component waiting for its one request."""

    store: wasmtime.Store
    handle: wc.Func
    context: CallContext
    output: bytearray = field(default_factory=bytearray)


def _linker_for(engine: WasmEngine) -> wc.Linker:
    # Building the linker registers every host function: do it once per engine.
    # It lives on the engine object: a table keyed by id() would hand a new
    # engine, at a reused address, the linker of a dead one.
    if engine.linker is None:
        engine.linker = wc.Linker(engine.engine)
        link(engine.linker)
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
    ) -> None:
        self.engine = engine
        self.component = component
        self.services = services
        self.component_id = services.grants.component_id
        self.deadline_ms = deadline_ms
        self.memory_limit_bytes = memory_limit_bytes
        self.pool_size = pool_size
        self._linker = _linker_for(engine)
        self._pool: deque[_Ready] = deque()
        self._signature: tuple[Any, Any] | None = None  # the dispatch export's types
        self.stats = {"requests": 0, "pool_misses": 0, "traps": 0, "deadlines": 0}

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
        context = CallContext(self.services)
        with entered(context):
            instance = self._linker.instantiate(store, self.component)
        iface = instance.get_export_index(store, DISPATCH_INTERFACE)
        index = instance.get_export_index(store, "handle", iface) if iface else None
        func = instance.get_func(store, index) if index else None
        if func is None:
            raise GuestFailure(
                f"component {self.component_id!r} does not export {DISPATCH_INTERFACE}: "
                "was it built with `edge build` / `edge componentize`?"
            )
        if self._signature is None:
            self._signature = convert.signature(func, store)
        return _Ready(store, func, context, output)

    def pool_len(self) -> int:
        return len(self._pool)

    def refill_one(self) -> None:
        """Make one instance ahead of time (called when the wasm thread is idle)."""
        self._pool.append(self._instantiate())

    def handle(self, request: HttpRequest) -> HttpResponse:
        if self._pool:
            ready = self._pool.popleft()
        else:
            self.stats["pool_misses"] += 1
            ready = self._instantiate()
        self.stats["requests"] += 1
        started = time.process_time()
        try:
            with entered(ready.context):
                ready.store.set_epoch_deadline(self.engine.deadline_ticks(self.deadline_ms))
                assert self._signature is not None
                result = convert.call(ready.handle, ready.store, self._signature, _Request(request))
                ready.handle.post_return(ready.store)
        except wasmtime.WasmtimeError as exc:
            raise self._failure(exc, ready, time.process_time() - started) from None
        finally:
            ready.context.close()
        status = int(result.status)
        # A handler's uncaught exception is a 500 whose traceback the guest printed.
        self._flush_output(ready, logging.WARNING if status >= 500 else logging.INFO)
        return HttpResponse(status, list(result.headers), bytes(result.body))

    def _failure(self, exc: Exception, ready: _Ready, cpu: float) -> GuestFailure:
        output = ready.output.decode("utf-8", "replace")
        text = str(exc)
        if "interrupt" in text:
            self.stats["deadlines"] += 1
            return DeadlineExceeded(
                f"component {self.component_id!r} exceeded its CPU deadline of "
                f"{self.deadline_ms} ms",
                output,
            )
        self.stats["traps"] += 1
        first_line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        return GuestFailure(f"component {self.component_id!r} trapped: {first_line}", output)

    def _flush_output(self, ready: _Ready, level: int) -> None:
        if ready.output:
            for line in ready.output.decode("utf-8", "replace").rstrip().splitlines():
                log.log(level, "[%s] %s", self.component_id, line)
