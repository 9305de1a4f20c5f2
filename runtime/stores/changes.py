"""What key-value replicas exchange: changes, their msgpack wire form, and the LWW rule.

A `Change` is one write as its origin region recorded it in its outbox. Every
replica resolves conflicts with the same rule, `wins`: the larger
(hlc, origin) pair is the newer write, so ties between regions whose clocks
read the same millisecond go to the larger region name.

HLC stamps are 64-bit integers: milliseconds since the epoch in the high bits,
a 16-bit logical counter in the low bits, so plain integer order is HLC order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

HLC_LOGICAL_BITS = 16
HLC_MAX = 2**63 - 1  # stamps are stored as SQLite INTEGER (signed 64-bit)
WIRE_VERSION = 1
_FIELDS = ("seq", "key", "value", "tombstone", "hlc", "origin")


def pack_hlc(millis: int, logical: int = 0) -> int:
    return (millis << HLC_LOGICAL_BITS) | logical


def unpack_hlc(hlc: int) -> tuple[int, int]:
    """(milliseconds since the epoch, logical counter)."""
    return hlc >> HLC_LOGICAL_BITS, hlc & ((1 << HLC_LOGICAL_BITS) - 1)


def hlc_millis(hlc: int) -> int:
    """The physical part of a stamp: milliseconds since the epoch."""
    return hlc >> HLC_LOGICAL_BITS


def wins(a_hlc: int, a_origin: str, b_hlc: int, b_origin: str) -> bool:
    """True if write a beats write b: the one last-writer-wins rule of every replica."""
    return (a_hlc, a_origin) > (b_hlc, b_origin)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def valid_hlc(value: object) -> bool:
    """An int (not a bool) that fits a stored stamp."""
    return _is_int(value) and 0 <= value <= HLC_MAX  # type: ignore[operator]


@dataclass(frozen=True)
class Change:
    """One write from an outbox; `seq` is its position in its ORIGIN's outbox."""

    seq: int
    key: str
    value: bytes | None
    tombstone: bool
    hlc: int
    origin: str

    def __post_init__(self) -> None:
        # Checked here so that neither the codec nor a store can hold a change
        # that would be stored differently by different replicas.
        if not _is_int(self.seq) or self.seq < 0:
            raise ValueError(f"seq must be a non-negative integer, not {self.seq!r}")
        if not isinstance(self.key, str):
            raise ValueError(f"key must be str, not {type(self.key).__name__}")
        try:
            self.key.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"key is not valid Unicode text: {self.key!r}") from None
        if not isinstance(self.tombstone, bool):
            raise ValueError(f"tombstone must be a bool, not {self.tombstone!r}")
        if self.tombstone and self.value is not None:
            raise ValueError(f"a tombstone carries no value (key {self.key!r})")
        if not self.tombstone and type(self.value) is not bytes:
            raise ValueError(
                f"a live change's value must be bytes, not {type(self.value).__name__}"
                f" (key {self.key!r})"
            )
        if not valid_hlc(self.hlc):
            raise ValueError(f"hlc must be an integer in 0..2**63-1, not {self.hlc!r}")
        if not isinstance(self.origin, str) or not self.origin:
            raise ValueError(f"origin must be a non-empty region name, not {self.origin!r}")


def encode_changes(changes: Sequence[Change]) -> bytes:
    """One replication message: a versioned msgpack envelope of changes."""
    rows: list[list[Any]] = []
    for change in changes:
        if not isinstance(change, Change):
            raise TypeError(f"expected Change, not {type(change).__name__}")
        rows.append(
            [change.seq, change.key, change.value, change.tombstone, change.hlc, change.origin]
        )
    packed: bytes = msgpack.packb({"v": WIRE_VERSION, "changes": rows}, use_bin_type=True)
    return packed


def decode_changes(data: bytes | bytearray | memoryview) -> list[Change]:
    """The changes in a message from `encode_changes`; ValueError if it is malformed."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"a change message is bytes, not {type(data).__name__}")
    try:
        envelope = msgpack.unpackb(bytes(data), raw=False, use_list=True, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise ValueError(f"malformed change message: not msgpack ({exc})") from None
    if not isinstance(envelope, dict):
        raise ValueError(f"malformed change message: expected a map, not {_kind(envelope)}")
    if set(envelope) != {"v", "changes"}:
        fields = sorted(map(str, envelope))
        raise ValueError(f"malformed change message: expected fields v and changes, not {fields}")
    version = envelope["v"]
    if not _is_int(version) or version != WIRE_VERSION:
        raise ValueError(
            f"malformed change message: unsupported version {version!r} (expected {WIRE_VERSION})"
        )
    rows = envelope["changes"]
    if not isinstance(rows, list):
        raise ValueError(f"malformed change message: changes is {_kind(rows)}, not an array")
    changes = []
    for index, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(_FIELDS):
            raise ValueError(
                f"malformed change message: change #{index} must be an array of "
                f"{len(_FIELDS)} ({', '.join(_FIELDS)}), not {_kind(row)}"
            )
        try:
            changes.append(Change(*row))
        except ValueError as exc:
            raise ValueError(f"malformed change message: change #{index}: {exc}") from None
    return changes


def digest_entries(rows: Iterable[tuple[str, bool, bytes | None, int, str]]) -> str:
    """Hex sha256 of (key, tombstone, value, hlc, origin) rows, in the order given.

    Each row is hashed as its msgpack encoding, which is self-delimiting, so
    different row lists never hash the same bytes.
    """
    digest = hashlib.sha256()
    for row in rows:
        digest.update(msgpack.packb(list(row), use_bin_type=True))
    return digest.hexdigest()


def _kind(value: object) -> str:
    if isinstance(value, list):
        return f"an array of {len(value)}"
    return type(value).__name__
