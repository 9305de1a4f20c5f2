"""The wasmtime engine of a process: configuration, compile cache, deadline ticks.

wasmtime-py keeps module-global state when it converts component values, so
wasm of a process runs on one thread at a time (see DESIGN.md): the process's
wasm thread, and the watchdog's thread for the guest calls of requests. This
module owns what is shared by every component of the process;
`runtime.wasm.instances` runs them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime import _bindings as raw
from wasmtime import component as wc

from ..errors import EdgeError
from ..settings import default_cache_dir
from . import convert
from .watchdog import Watchdog

# Epoch ticks stop guest code at the request deadline (wall-clock time); 10 ms
# keeps the deadline precise without waking the process too often.
TICK_SECONDS = 0.01
# Self and chained requests nest up to 10 deep (runtime.outbound.http_policy),
# each in an instance of its own while its callers wait; a few chains at once.
MAX_CHAIN_SLOTS = 64
# What a fresh componentize-py instance dirties, about: kept mapped in each slot
# and copied back from the snapshot, instead of faulted in again page by page.
KEEP_RESIDENT_BYTES = 16 << 20


@dataclass(frozen=True)
class InstancePool:
    """Slots of wasmtime's pooling allocator, made once for the process.

    A fresh instance then reuses a slot's mappings instead of mapping and
    unmapping its memories and tables (each unmap also flushes the TLB of every
    core the process ran on). `keep_resident` bytes of a slot's memory stay
    mapped between instances: no page faults on them, but a reset that copies
    them and that much more resident memory per warm slot.
    """

    instances: int  # component instances alive at once, at most
    memory_limit_bytes: int  # the largest linear memory a store may grow
    keep_resident: int = 0
    warm_slots: int = 2

    @classmethod
    def for_app(
        cls,
        components: int,
        regions: int,
        *,
        made_ahead: int,
        memory_limit_bytes: int,
        keep_resident: int = KEEP_RESIDENT_BYTES,
    ) -> InstancePool:
        """Slots for every instance a host can hold at once: per component the ones
        made ahead, per region and component one running and some reused, and
        nested self requests."""
        slots = components * (made_ahead + 4 * regions) + MAX_CHAIN_SLOTS
        return cls(slots, memory_limit_bytes, keep_resident=keep_resident)

    def configure(self, config: wasmtime.Config) -> None:
        # A componentize-py component: about ten core instances, two memories and
        # four tables; the per-component maxima leave room for bigger ones.
        pool = raw.wasmtime_pooling_allocation_config_new()
        n = self.instances
        for setter, value in [
            (raw.wasmtime_pooling_allocation_config_total_component_instances_set, n),
            (raw.wasmtime_pooling_allocation_config_total_core_instances_set, n * 16),
            (raw.wasmtime_pooling_allocation_config_total_memories_set, n * 3),
            (raw.wasmtime_pooling_allocation_config_total_tables_set, n * 6),
            (raw.wasmtime_pooling_allocation_config_total_stacks_set, 1),
            (raw.wasmtime_pooling_allocation_config_max_core_instances_per_component_set, 64),
            (raw.wasmtime_pooling_allocation_config_max_memories_per_component_set, 16),
            (raw.wasmtime_pooling_allocation_config_max_tables_per_component_set, 32),
            (raw.wasmtime_pooling_allocation_config_table_elements_set, 100_000),
            (raw.wasmtime_pooling_allocation_config_max_core_instance_size_set, 1 << 20),
            (raw.wasmtime_pooling_allocation_config_max_component_instance_size_set, 1 << 20),
            (raw.wasmtime_pooling_allocation_config_max_memory_size_set, self.memory_limit_bytes),
            (
                raw.wasmtime_pooling_allocation_config_linear_memory_keep_resident_set,
                self.keep_resident,
            ),
            (raw.wasmtime_pooling_allocation_config_table_keep_resident_set, self.keep_resident),
            (raw.wasmtime_pooling_allocation_config_max_unused_warm_slots_set, self.warm_slots),
        ]:
            setter(pool, value)
        raw.wasmtime_pooling_allocation_strategy_set(config.ptr(), pool)  # copies it
        raw.wasmtime_pooling_allocation_config_delete(pool)


class WasmEngine:
    """One wasmtime `Engine` with epoch interruption and an on-disk compile cache."""

    def __init__(
        self,
        cache_dir: Path | None = None,
        wall_clock: Callable[[], float] | None = None,
        *,
        pool: InstancePool | None = None,
    ) -> None:
        """`wall_clock` (Unix seconds), when given, is the time guests read (the
        Emulator's virtual clock); else they read the real one. With `pool`,
        instances take slots of wasmtime's pooling allocator (`edge up`)."""
        convert.install()
        config = wasmtime.Config()
        config.epoch_interruption = True
        if pool is not None:
            pool.configure(config)
        self.engine = wasmtime.Engine(config)
        self.linker: wc.Linker | None = None  # the host functions, linked once (instances)
        self.shadowed: set[str] = set()  # outgoing-handler names the linker filters
        self.http_helper: Any = None  # runtime.wasm.http_helper.Helper, made with the linker
        self.wall_clock = wall_clock
        self.watchdog = Watchdog()  # runs guest calls, gives up on blocked ones
        self.cache_dir = cache_dir or default_cache_dir()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        # The cache key must change whenever compiled code could: the wasm bytes,
        # the wasmtime release and the engine settings above.
        self._salt = f"wasmtime-{version('wasmtime')};epoch=1".encode()

    def start_ticker(self) -> None:
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, name="edge-epoch", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        # Engine.increment_epoch is an atomic add in wasmtime; safe off the wasm thread.
        # The epoch follows the clock, not the number of wake-ups: on a loaded
        # machine a wait lasts longer than asked, and the deadline must not.
        started, ticks = time.monotonic(), 0
        while not self._stop.wait(TICK_SECONDS):
            due = int((time.monotonic() - started) / TICK_SECONDS)
            while ticks < due:
                self.engine.increment_epoch()
                ticks += 1

    def close(self) -> None:
        self._stop.set()
        self.watchdog.close()

    def deadline_ticks(self, deadline_ms: int) -> int:
        return max(1, round(deadline_ms / 1000 / TICK_SECONDS))

    def cache_path(self, wasm_path: Path) -> Path:
        # Hashed in pieces: a component is ~19 MB, and reading it whole would add
        # that to every process's peak memory for a cached load.
        digest = hashlib.sha256(self._salt)
        with open(wasm_path, "rb") as wasm:
            while piece := wasm.read(1 << 20):
                digest.update(piece)
        return self.cache_dir / f"{digest.hexdigest()}.cwasm"

    def is_cached(self, wasm_path: Path) -> bool:
        return self.cache_path(wasm_path).exists()

    def load(self, wasm_path: Path) -> wc.Component:
        """Compile `wasm_path`, or load it from the cache (~0.1 s instead of ~7 s)."""
        try:
            cached = self.cache_path(wasm_path)
        except FileNotFoundError:
            raise EdgeError(f"component not found: {wasm_path} (run `edge build`)") from None
        if cached.exists():
            try:
                return wc.Component.deserialize_file(self.engine, str(cached))
            except wasmtime.WasmtimeError:
                cached.unlink(missing_ok=True)  # stale or corrupt: compile again
        try:
            compiled = wc.Component(self.engine, wasm_path.read_bytes())
        except wasmtime.WasmtimeError as exc:
            raise EdgeError(f"{wasm_path} is not a valid WebAssembly component: {exc}") from exc
        self._store_in_cache(cached, compiled.serialize())
        return compiled

    def _store_in_cache(self, path: Path, data: bytes | bytearray) -> None:
        # Several worker processes may compile at once: write aside, then rename.
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
