"""runtime/wasm/convert.py's fast paths, on the types of a real component's exports.

Strings and `list<tuple<string, string>>` (headers) are written into and read
out of the C API's cells directly; the round trip must give back what went in.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest
import wasmtime
from wasmtime import _ffi as ffi

from runtime.testing import Emulator

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def headers_type(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    """The `headers` field type of dispatch's request record, from the faults component."""
    with Emulator(
        built["faults"],
        regions=["us-east"],
        state_dir=tmp_path_factory.mktemp("convert"),
        build=False,
        env={},
    ) as emu:
        runner = emu.host.regions["us-east"].runners["faults"]
        runner.refill_one()  # takes the export's types
        (request,), _ = runner._signatures["handle"]
        yield dict(request.fields)["headers"]


def round_trip(ty, value):
    cell = ffi.wasmtime_component_val_t()
    ty.convert_to_c(None, value, ctypes.pointer(cell))
    return ty.convert_from_c(cell)  # takes the cell's contents and frees them


@pytest.mark.parametrize(
    "pairs",
    [
        [],
        [("host", "localhost"), ("x-empty", ""), ("", "no name")],
        [("x-unicode", "héllo wörld ✓"), ("x-long", "v" * 100_000)],
        [(f"h{i}", str(i)) for i in range(500)],
    ],
)
def test_header_pairs_come_back_as_they_went(headers_type, pairs) -> None:
    assert round_trip(headers_type, pairs) == pairs


def test_a_pair_that_is_not_two_strings_is_a_type_error(headers_type) -> None:
    for bad in ([("a", "b"), ("c", 3)], [("a", "b"), 7], [("a", "b", "c")]):
        with pytest.raises((TypeError, ValueError)):
            round_trip(headers_type, bad)
    assert round_trip(headers_type, [("still", "works")]) == [("still", "works")]


def test_strings_come_back_as_they_went(headers_type) -> None:
    string = headers_type.element.elements[0]
    assert isinstance(string, wasmtime.component.String)
    for text in ["", "a", "ünïcödé", "\x00inside", "x" * 1_000_000]:
        assert round_trip(string, text) == text
