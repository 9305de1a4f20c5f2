"""The wire form of changes: encode_changes / decode_changes (msgpack) and Change checks."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from runtime.stores import Change, decode_changes, encode_changes

from .kv_replication_helpers import T0


def test_changes_round_trip_through_msgpack() -> None:
    changes = [
        Change(1, "k", b"v", False, T0, "us-east"),
        Change(2, "caf\u00e9 \U0001f600", b"", False, T0 + 1, "eu-west"),
        Change(3, "gone", None, True, 2**63 - 1, "ap-south"),
        Change(4, "bin", bytes(range(256)), False, 0, "a"),
    ]
    data = encode_changes(changes)
    assert decode_changes(data) == changes
    assert decode_changes(bytearray(data)) == changes
    assert decode_changes(encode_changes([])) == []
    envelope = msgpack.unpackb(data)
    assert envelope["v"] == 1
    assert envelope["changes"][0] == [1, "k", b"v", False, T0, "us-east"]


def test_encoded_values_are_msgpack_bin_not_str() -> None:
    data = encode_changes([Change(1, "k", b"text", False, 1, "a")])
    assert msgpack.unpackb(data, raw=True)[b"changes"][0][2] == b"text"
    assert b"\xc4\x04text" in data  # bin 8 with length 4


def _message(*rows: Any, v: Any = 1) -> bytes:
    packed: bytes = msgpack.packb({"v": v, "changes": list(rows)}, use_bin_type=True)
    return packed


GOOD = [1, "k", b"v", False, 5, "a"]


def _with(index: int, value: Any) -> list[Any]:
    row = list(GOOD)
    row[index] = value
    return row


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not msgpack"),
        (b"\xc1", "not msgpack"),
        (_message(GOOD) + b"\x00", "not msgpack"),
        (msgpack.packb([1, []]), "expected a map"),
        (msgpack.packb({"v": 1}), "expected fields v and changes"),
        (msgpack.packb({"v": 1, "changes": [], "x": 0}), "expected fields"),
        (_message(GOOD, v=2), "unsupported version 2"),
        (_message(GOOD, v="1"), "unsupported version '1'"),
        (_message(GOOD, v=True), "unsupported version True"),
        (msgpack.packb({"v": 1, "changes": {}}), "changes is dict"),
        (_message(GOOD[:5]), "change #0 must be an array of 6"),
        (_message(GOOD, "k"), "change #1 must be an array"),
        (_message(_with(0, "1")), "change #0: seq must be"),
        (_message(_with(0, -1)), "seq must be"),
        (_message(_with(1, b"k")), "key must be str"),
        (_message(_with(2, "v")), "value must be bytes"),
        (_message(_with(2, None)), "value must be bytes"),
        (_message(_with(3, 1)), "tombstone must be a bool"),
        (_message(_with(3, True)), "a tombstone carries no value"),
        (_message(_with(4, -1)), "hlc must be"),
        (_message(_with(4, 2**63)), "hlc must be"),
        (_message(_with(4, 1.5)), "hlc must be"),
        (_message(_with(5, "")), "origin must be"),
        (_message(_with(5, None)), "origin must be"),
    ],
)
def test_malformed_messages_are_value_errors(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        decode_changes(data)
    assert str(info.value).startswith("malformed change message")


def test_invalid_utf8_in_a_key_is_malformed() -> None:
    raw_key = msgpack.packb({"v": 1, "changes": [[1, "K", b"v", False, 5, "a"]]})
    data = raw_key.replace(b"\xa1K", b"\xa1\xff")
    with pytest.raises(ValueError, match="malformed change message"):
        decode_changes(data)


def test_decode_wants_bytes_and_encode_wants_changes() -> None:
    with pytest.raises(TypeError):
        decode_changes("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected Change"):
        encode_changes([GOOD])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "fields",
    [
        (1, "k", None, False, 5, "a"),
        (1, "k", b"v", True, 5, "a"),
        (1, "k", bytearray(b"v"), False, 5, "a"),
        (1, "\ud800", b"v", False, 5, "a"),
        (True, "k", b"v", False, 5, "a"),
        (1, "k", b"v", False, 5, ""),
    ],
)
def test_inconsistent_changes_cannot_be_built(fields: tuple[Any, ...]) -> None:
    with pytest.raises(ValueError):
        Change(*fields)
