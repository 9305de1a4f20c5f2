"""Instances made ahead, and the pooling allocator's slots (edge up's workers).

A real component in an engine with two slots: with both taken by live
instances, a request that needs a third is refused with 503, and served as
soon as one is free. The instances made ahead are one pool per component,
which every region's runner takes from with its own stores.
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


def test_instances_made_ahead_are_shared_by_the_regions_and_serve_each_with_its_own_stores(
    built: dict[str, Path], tmp_path: Path
) -> None:
    regions = ["us-east", "eu-west", "ap-south"]
    host = EdgeHost(
        load(built["kvprobe"]),
        state_dir=tmp_path,
        regions=regions,
        limits=HostLimits(pool_size=2),
        env={},
    )
    try:
        host.prefill()
        pool = host.ready_pools["kvprobe"]
        assert len(pool) == 2  # two for the component, not two per region
        runners = [host.regions[name].runners["kvprobe"] for name in regions]
        assert all(runner.ready_pool is pool for runner in runners)

        def call(region: str, method: str, path: str, body: bytes = b"") -> bytes:
            url = f"http://localhost{path}"
            resp = host.handle(region, method, url, [], body, "127.0.0.1:1")
            assert resp.status == 200, resp.body
            return resp.body

        # Each request takes an instance another region's runner made, and writes
        # to its own region's store.
        call("eu-west", "PUT", "/kv/where", b"eu")
        call("ap-south", "PUT", "/kv/where", b"ap")
        assert len(pool) == 0
        assert [runner.stats["pool_misses"] for runner in runners] == [0, 0, 0]
        assert call("eu-west", "GET", "/kv/where") == b"eu"
        assert call("ap-south", "GET", "/kv/where") == b"ap"
        assert call("us-east", "GET", "/kv") == b"[]"
        assert host.regions["eu-west"].stores.kv("default").get("where") == b"eu"
        host.prefill()
        assert len(pool) == 2
    finally:
        host.close()
