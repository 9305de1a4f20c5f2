"""HTTP bodies across the dispatch export, in pieces.

wasmtime's C API carries a `list<u8>` as one 32-byte cell per byte, and
wasmtime turns each into a 40-byte `Val` on top; what a guest hands the host is
also capped per call by wasmtime's hostcall fuel (128 MiB of such values, so
about 2.7 MiB of bytes: larger bodies trapped with "fuel allocated for
hostcalls has been exhausted"). So a body crosses in pieces of `PIECE` bytes:
the request's leading pieces through `write-body` before `handle` gets the
last one, and the response's first piece in `handle`'s result, the rest
through `read-body`. The cells then cost a bounded few MiB at a time, whatever
the body's size, and the host holds the body itself about once.
"""

from __future__ import annotations

from collections.abc import Callable

WRITE = "write-body"
HANDLE = "handle"
READ = "read-body"
EXPORTS = (WRITE, HANDLE, READ)

PIECE = 256 * 1024  # keep in step with framework/component.py


def send(data: bytes, write: Callable[[bytes], object]) -> bytes:
    """Every piece but the last through `write`; returns the last (maybe empty)."""
    view = memoryview(data)
    start = 0
    while len(data) - start > PIECE:
        write(view[start : start + PIECE].tobytes())
        start += PIECE
    return data if start == 0 else view[start:].tobytes()


def receive(first: bytes, size: int, read: Callable[[int], bytes]) -> bytes:
    """The whole body of `size` bytes: `first`, then pieces from `read(PIECE)`."""
    if len(first) >= size:
        return first
    out = bytearray(first)
    while len(out) < size:
        piece = read(PIECE)
        if not piece:
            break  # the guest says it ended early: keep what it sent
        out += piece
    return bytes(out)
