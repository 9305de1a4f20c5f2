"""Shared values of the KVStore replication tests (not a test module)."""

from __future__ import annotations

from runtime.stores import Change, pack_hlc

T0 = pack_hlc(1_767_225_600_000)  # the virtual clock's epoch, in HLC form


def put(seq: int, key: str, value: bytes | None, hlc: int, origin: str) -> Change:
    return Change(seq, key, value, value is None, hlc, origin)
