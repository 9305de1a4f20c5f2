"""Redis replies with their kind kept, the way Spin hands them to a component.

redis-py's RESP2 reader returns a status reply (`+OK`) and a bulk string
(`$2 OK`) as the same bytes; Spin's `execute` tells them apart (`status` vs
`binary`). The reader here marks status replies and leaves the rest to
redis-py.
"""

from __future__ import annotations

from typing import Any

from redis._parsers.resp2 import _RESP2Parser
from redis.utils import SENTINEL

# Spin refuses replies larger than this (spin_world::MAX_HOST_BUFFERED_BYTES).
MAX_REPLY_BYTES = 128 << 20

Flat = None | str | int | bytes  # nil, status, int64, binary


class Status(str):
    """A status reply ("OK", "PONG", ...)."""


class StatusParser(_RESP2Parser):
    """redis-py's RESP2 parser, with status replies as `Status`."""

    def _read_response(self, disable_decoding: bool = False, timeout: Any = SENTINEL) -> Any:
        buffer = self._buffer
        assert buffer is not None
        start = buffer.get_pos()
        raw = buffer.readline(timeout=timeout)
        if raw[:1] == b"+":
            return Status(raw[1:].decode("utf-8", "replace"))
        buffer.rewind(start)  # anything else: redis-py reads it (arrays come back here)
        return super()._read_response(disable_decoding=disable_decoding, timeout=timeout)


class ReplyTooLarge(ValueError):
    pass


def flatten(reply: Any) -> list[Flat]:
    """A reply as Spin's `execute` returns it: arrays flattened, kinds kept."""
    out: list[Flat] = []
    _append(out, reply)
    if sum(_size(v) for v in out) > MAX_REPLY_BYTES:
        raise ReplyTooLarge(f"the reply is larger than {MAX_REPLY_BYTES} bytes")
    return out


def _append(out: list[Flat], reply: Any) -> None:
    if isinstance(reply, list):
        for item in reply:
            _append(out, item)
    elif isinstance(reply, Status):
        out.append(str(reply))
    elif reply is None or isinstance(reply, int | bytes):
        out.append(reply)
    else:
        raise TypeError(f"unexpected reply {type(reply).__name__}")


def _size(value: Flat) -> int:
    return len(value) if isinstance(value, str | bytes) else 8


def check_size(value: bytes | None) -> bytes | None:
    if value is not None and len(value) > MAX_REPLY_BYTES:
        raise ReplyTooLarge(f"the reply is larger than {MAX_REPLY_BYTES} bytes")
    return value
