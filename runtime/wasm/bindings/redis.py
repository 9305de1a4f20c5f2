"""Host side of `fermyon:spin/redis@2.0.0`: WIT values in, Redis client calls out."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from wasmtime import component as wc

from ...outbound import (
    RedisFailure,
    RedisInvalidAddress,
    RedisTooManyConnections,
    RedisTypeMismatch,
    redacted,
)
from ...stores.events import clip
from ..convert import Err
from .context import CallContext, current

INTERFACE = "fermyon:spin/redis@2.0.0"
CONNECTION_TYPE = 3

T = TypeVar("T")

# Commands whose first argument may be a password or a user name: no key shown.
_CREDENTIAL_COMMANDS = frozenset({"auth", "hello"})


def _error(exc: RedisFailure) -> wc.Variant:
    if isinstance(exc, RedisInvalidAddress):
        return wc.Variant("invalid-address")
    if isinstance(exc, RedisTooManyConnections):
        return wc.Variant("too-many-connections")
    if isinstance(exc, RedisTypeMismatch):
        return wc.Variant("type-error")
    return wc.Variant("other", str(exc))


def _run(
    store: Any, handle: wc.ResourceAny, op: str, subject: str, call: Callable[[Any], T]
) -> T | wc.Variant:
    """`call` on the connection, reported as one outbound Redis call (`op` on `subject`)."""
    ctx = current()
    conn = ctx.resource(handle, store)
    started = time.perf_counter()
    try:
        result = call(conn)
    except RedisFailure as exc:
        _report(ctx, conn.target.display, op, subject, started, str(exc))
        return _error(exc)
    _report(ctx, conn.target.display, op, subject, started, None)
    return result


def _report(
    ctx: CallContext, address: str, op: str, subject: str, started: float, error: str | None
) -> None:
    if not ctx.reporting:
        return
    fields: dict[str, Any] = {
        "address": clip(address),
        "op": clip(op),
        "key": clip(subject),
        "ok": error is None,
        "ms": round((time.perf_counter() - started) * 1e3, 3),
    }
    if error is not None:
        fields["error"] = clip(error)
    ctx.report("outbound.redis", fields)


def open_connection(store: Any, address: str) -> Any:
    ctx = current()
    services = ctx.services
    if services.open_redis is None:
        return wc.Variant("other", "outbound Redis is not available in this host")
    started = time.perf_counter()
    try:
        conn = services.open_redis(address)
    except RedisFailure as exc:
        _report(ctx, redacted(address), "open", "", started, str(exc))
        return _error(exc)
    return ctx.add_resource(conn, CONNECTION_TYPE, owned=True)


def publish(store: Any, handle: wc.ResourceAny, channel: str, payload: bytes) -> Any:
    return _run(store, handle, "publish", channel, lambda c: c.publish(channel, bytes(payload)))


def get(store: Any, handle: wc.ResourceAny, key: str) -> Any:
    # result<option<payload>, error>: the ok case takes any value, so the
    # error goes out as convert.Err.
    result = _run(store, handle, "get", key, lambda c: c.get(key))
    return Err(result) if isinstance(result, wc.Variant) else result


def set_(store: Any, handle: wc.ResourceAny, key: str, value: bytes) -> Any:
    return _run(store, handle, "set", key, lambda c: c.set(key, bytes(value)))


def incr(store: Any, handle: wc.ResourceAny, key: str) -> Any:
    return _run(store, handle, "incr", key, lambda c: c.incr(key))


def delete(store: Any, handle: wc.ResourceAny, keys: list[str]) -> Any:
    return _run(store, handle, "del", " ".join(keys), lambda c: c.delete(list(keys)))


def sadd(store: Any, handle: wc.ResourceAny, key: str, values: list[str]) -> Any:
    return _run(store, handle, "sadd", key, lambda c: c.sadd(key, list(values)))


def smembers(store: Any, handle: wc.ResourceAny, key: str) -> Any:
    return _run(store, handle, "smembers", key, lambda c: c.smembers(key))


def srem(store: Any, handle: wc.ResourceAny, key: str, values: list[str]) -> Any:
    return _run(store, handle, "srem", key, lambda c: c.srem(key, list(values)))


def _param(value: Any) -> int | bytes:
    # redis-parameter arrives untagged: int (int64) or bytes (binary).
    return value if isinstance(value, int) else bytes(value)


def execute(store: Any, handle: wc.ResourceAny, command: str, arguments: list[Any]) -> Any:
    # redis-result goes out untagged: None (nil), str (status), int, bytes (binary).
    params = [_param(a) for a in arguments]
    first = params[0] if params else None
    secret = command.lower() in _CREDENTIAL_COMMANDS
    subject = first.decode("utf-8", "replace") if isinstance(first, bytes) and not secret else ""
    return _run(store, handle, command.lower(), subject, lambda c: c.execute(command, params))


def drop(store: Any, rep: int) -> None:
    current().drop_resource(rep)  # closes the connection


def add_to_linker(root: wc.LinkerInstance) -> None:
    with root.add_instance(INTERFACE) as iface:
        iface.add_resource("connection", wc.ResourceType.host(CONNECTION_TYPE), drop)
        iface.add_func("[static]connection.open", open_connection)
        iface.add_func("[method]connection.publish", publish)
        iface.add_func("[method]connection.get", get)
        iface.add_func("[method]connection.set", set_)
        iface.add_func("[method]connection.incr", incr)
        iface.add_func("[method]connection.del", delete)
        iface.add_func("[method]connection.sadd", sadd)
        iface.add_func("[method]connection.smembers", smembers)
        iface.add_func("[method]connection.srem", srem)
        iface.add_func("[method]connection.execute", execute)
