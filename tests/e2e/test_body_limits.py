"""Large values and bodies: the documented limits hold exactly, and a trap says why.

wasmtime caps what one call copies out of a guest ("hostcall fuel", 128 MiB of
its values, about 2.7 MiB of bytes): before bodies crossed in pieces, response
bodies and KV values above that trapped and the client saw a bare 500.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.stores import MAX_VALUE_BYTES
from runtime.testing import Emulator
from runtime.wasm.instances import MAX_RESPONSE_BODY_BYTES

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def edge(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    with Emulator(
        built["faults"],
        regions=["us-east"],
        state_dir=tmp_path_factory.mktemp("bodies"),
        build=False,
        env={},
        deadline_ms=30_000,  # a loaded machine moves 10 MiB slowly; this is not about time
    ) as emulator:
        yield emulator


@pytest.fixture
def client(edge):
    return edge.client()


def pattern(size: int) -> bytes:
    return (bytes(range(256)) * (size // 256 + 1))[:size]


@pytest.mark.parametrize(
    "size", [0, 1, 256 * 1024, 256 * 1024 + 1, 3 * MIB, MAX_RESPONSE_BODY_BYTES]
)
def test_response_bodies_up_to_the_limit_arrive_whole(client, size: int) -> None:
    resp = client.get(f"/body?size={size}")
    assert resp.status_code == 200
    assert resp.content == pattern(size)


def test_a_response_body_over_the_limit_is_a_clear_500(client, caplog) -> None:
    resp = client.get(f"/body?size={MAX_RESPONSE_BODY_BYTES + 1}")
    assert resp.status_code == 500
    assert resp.json() == {
        "error": f"the response body is larger than the limit of {MAX_RESPONSE_BODY_BYTES} bytes"
    }
    assert f"returned a response body of {MAX_RESPONSE_BODY_BYTES + 1} bytes" in caplog.text
    assert client.get("/ok").status_code == 200


@pytest.mark.parametrize("size", [3 * MIB, 10 * MIB])
def test_request_bodies_cross_whole(client, size: int) -> None:
    body = pattern(size)[::-1]
    resp = client.post("/echo", content=body)
    assert resp.status_code == 200
    assert resp.content == body


@pytest.mark.parametrize("size", [MAX_VALUE_BYTES + 1, 3 * MIB])
def test_kv_values_over_the_limit_are_too_large_not_a_trap(client, size: int) -> None:
    resp = client.post(f"/kv/big?size={size}")
    assert resp.status_code == 413
    assert resp.text == (
        f"too large: value of {size} bytes exceeds the maximum value size of "
        f"{MAX_VALUE_BYTES} bytes (key 'big')"
    )
    assert client.post(f"/kv/big?size={MAX_VALUE_BYTES}").status_code == 200


def test_a_trap_is_logged_with_its_cause_and_backtrace(client, caplog) -> None:
    # Around framework.kv's check, straight to the binding: wasmtime itself refuses.
    resp = client.post(f"/kv/raw-big?size={3 * MIB}")
    assert resp.status_code == 500
    assert resp.json() == {"error": "internal server error"}
    assert (
        "component 'faults' trapped: too much data is being copied between the host and the "
        "guest: fuel allocated for hostcalls has been exhausted"
    ) in caplog.text
    assert "wasm backtrace:" in caplog.text
    assert "[method]store.set" in caplog.text  # where in the guest it happened
    assert client.get("/ok").status_code == 200
