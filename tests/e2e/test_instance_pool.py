"""The pooling allocator's slots (edge up's workers): a full pool is a clear 503.

A real component in an engine with two slots: with both taken by live
instances, a request that needs a third is refused with 503, and served as
soon as one is free.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.app.manifest import load
from runtime.serve.host import EdgeHost, HostLimits
from runtime.wasm.engine import InstancePool, WasmEngine

pytestmark = pytest.mark.e2e


def test_a_request_without_a_free_slot_is_a_503_and_the_next_is_served(
    built: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = WasmEngine(pool=InstancePool(instances=2, memory_limit_bytes=256 << 20))
    host = EdgeHost(
        load(built["kvprobe"]),
        state_dir=tmp_path,
        regions=["us-east"],
        limits=HostLimits(pool_size=0),
        engine=engine,
        env={},
    )
    try:
        runner = host.regions["us-east"].runners["kvprobe"]
        held = [runner._instantiate(), runner._instantiate()]  # both slots taken

        def get() -> tuple[int, bytes]:
            resp = host.handle("us-east", "GET", "http://localhost/kv", [], b"", "127.0.0.1:1")
            return resp.status, resp.body

        assert get() == (503, b'{"error": "every instance slot is in use; try again"}')
        assert "maximum concurrent limit of 2 for component instances" in caplog.text
        held.pop()  # its instance (and slot) goes with it
        assert get() == (200, b"[]")
    finally:
        host.close()
        engine.close()
