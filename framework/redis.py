"""Outbound Redis (Spin's `fermyon:spin/redis@2.0.0`).

    from framework import redis, variables

    with redis.open(variables.get("redis_address")) as conn:
        conn.set("greeting", "hello")
        conn.get("greeting")                  # -> b"hello"
        conn.incr("hits")                     # -> 1
        conn.sadd("tags", ["a", "b"])         # -> 2
        conn.execute("HSET", ["h", "f", 1])   # -> [1]

The address is a Redis URL (`redis://host:port`, `rediss://` for TLS) that
the component's `allowed_outbound_hosts` must allow; otherwise `open` raises
`RedisInvalidAddress` and no connection is made. The methods are those of
Spin's Python SDK (`del_` because `del` is a keyword; `delete` is the same).
Failures arrive as the typed exceptions of `framework.errors`.

A component that imports this module is built against the world that imports
Spin's Redis interface; other components do not import it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ._bindings import err_type, wit_import
from ._handles import HostHandle
from .errors import (
    RedisError,
    RedisInvalidAddress,
    RedisOtherError,
    RedisTooManyConnections,
    RedisTypeError,
)

T = TypeVar("T")
Payload = bytes | bytearray | memoryview | str
Argument = int | Payload
Reply = None | str | int | bytes  # nil, status, integer, bulk string

_S64 = range(-(2**63), 2**63)

# Load the bindings while the component is built, not on the first request
# (absent on the host, and in a component built without the interface).
with contextlib.suppress(ImportError):
    wit_import("redis")


def open(address: str) -> Connection:
    """Connect to the Redis server at `address` (a URL `allowed_outbound_hosts` allows)."""
    if not isinstance(address, str):
        raise TypeError(f"a Redis address is a str, not {type(address).__name__}")
    try:
        bindings = wit_import("redis")
    except ImportError:
        raise RedisError(
            "this component was built without Spin's Redis interface: import framework.redis "
            "at the top of a module of the app, then rebuild it"
        ) from None
    try:
        handle = bindings.Connection.open(address)
    except err_type() as exc:
        raise redis_error(getattr(exc, "value", None), address) from None
    return Connection(handle, address)


class Connection(HostHandle):
    """An open connection. Use as a context manager, or `close()` it, to free it early."""

    def __init__(self, handle: Any, address: str) -> None:
        self._handle = handle
        self.address = address

    def publish(self, channel: str, payload: Payload) -> None:
        """Publish `payload` (bytes, or str as UTF-8) on `channel`."""
        data = _payload(payload)
        self._call(lambda h: h.publish(_text(channel, "channel"), data))

    def get(self, key: str) -> bytes | None:
        """The value of `key`, or None when it is absent."""
        value = self._call(lambda h: h.get(_text(key, "key")))
        return None if value is None else bytes(value)

    def set(self, key: str, value: Payload) -> None:
        """Set `key` to `value` (bytes, or str as UTF-8), replacing any value."""
        data = _payload(value)
        self._call(lambda h: h.set(_text(key, "key"), data))

    def incr(self, key: str) -> int:
        """Add one to the integer at `key` (absent counts as 0); the new value."""
        return int(self._call(lambda h: h.incr(_text(key, "key"))))

    def del_(self, keys: Iterable[str]) -> int:
        """Remove `keys`; the number that existed."""
        names = _texts(keys, "keys")
        return int(self._call(lambda h: h.del_(names)))

    delete = del_

    def sadd(self, key: str, values: Iterable[str]) -> int:
        """Add `values` to the set at `key`; the number that were new."""
        members = _texts(values, "values")
        return int(self._call(lambda h: h.sadd(_text(key, "key"), members)))

    def smembers(self, key: str) -> list[str]:
        """The members of the set at `key` (empty when it is absent)."""
        return list(self._call(lambda h: h.smembers(_text(key, "key"))))

    def srem(self, key: str, values: Iterable[str]) -> int:
        """Remove `values` from the set at `key`; the number that were there."""
        members = _texts(values, "values")
        return int(self._call(lambda h: h.srem(_text(key, "key"), members)))

    def execute(self, command: str, arguments: Iterable[Argument] = ()) -> list[Reply]:
        """Run any command; arguments are int, bytes or str.

        The reply is flattened into a list: None for nil, str for a status
        (`"OK"`), int for an integer, bytes for a bulk string.
        """
        bindings = wit_import("redis")
        params = [_argument(a, bindings) for a in _items(arguments, "arguments")]
        results = self._call(lambda h: h.execute(_text(command, "command"), params))
        return [_reply(r) for r in results]

    def __repr__(self) -> str:
        state = "closed" if self._handle is None else "open"
        return f"<redis.Connection {state}>"

    def _call(self, op: Callable[[Any], T]) -> T:
        if self._handle is None:
            raise ValueError("the Redis connection is closed")
        try:
            return op(self._handle)
        except err_type() as exc:
            raise redis_error(getattr(exc, "value", None), self.address) from None


def redis_error(error: object, address: str) -> RedisError:
    """The exception for a `fermyon:spin/redis` error value."""
    kind = type(error).__name__
    if kind == "Error_InvalidAddress":
        return RedisInvalidAddress(
            f"invalid Redis address {_shown(address)}: it must be a redis:// URL that the "
            'component\'s allowed_outbound_hosts allows (e.g. "redis://127.0.0.1:6379")'
        )
    if kind == "Error_TooManyConnections":
        return RedisTooManyConnections(
            "too many Redis connections are open at once: close some (Connection.close()) first"
        )
    if kind == "Error_TypeError":
        return RedisTypeError("the Redis reply is not of the type this operation returns")
    return RedisOtherError(str(getattr(error, "value", error)))


def _shown(address: str) -> str:
    # Never echo a password: keep what follows the user info.
    scheme, sep, rest = address.partition("://")
    return repr(scheme + sep + rest.rpartition("@")[2]) if sep else repr(address.rpartition("@")[2])


def _text(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"a Redis {what} is a str, not {type(value).__name__}")
    return value


def _items(values: Iterable[Any], what: str) -> list[Any]:
    if isinstance(values, str | bytes | bytearray | memoryview):
        raise TypeError(f"Redis {what} are a list, not one {type(values).__name__}")
    return list(values)


def _texts(values: Iterable[str], what: str) -> list[str]:
    return [_text(v, what[:-1]) for v in _items(values, what)]


def _payload(value: Payload) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"a Redis value is bytes or str, not {type(value).__name__}")


def _argument(value: Argument, bindings: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | str | bytes | bytearray | memoryview):
        raise TypeError(f"a Redis argument is int, bytes or str, not {type(value).__name__}")
    if isinstance(value, int):
        if value not in _S64:
            raise ValueError(f"{value} does not fit a signed 64-bit Redis integer")
        return bindings.RedisParameter_Int64(value)
    return bindings.RedisParameter_Binary(_payload(value))


def _reply(result: Any) -> Reply:
    kind = type(result).__name__
    if kind == "RedisResult_Nil":
        return None
    if kind == "RedisResult_Binary":
        return bytes(result.value)
    if kind == "RedisResult_Int64":
        return int(result.value)
    return str(result.value)
