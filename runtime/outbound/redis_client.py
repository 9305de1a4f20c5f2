"""Outbound Redis for a component, as Spin's `fermyon:spin/redis` host does it.

`RedisConnector.open(address)` checks the component's `allowed_outbound_hosts`
first (a denied address gets `RedisInvalidAddress` and no connection is
made), then the connection limit, then the address, and only then connects.
Each connection is one socket of redis-py's, with a timeout on connecting and
on every reply, so a hung server cannot pin the wasm thread; a connection
that timed out or broke stays broken (a late reply must never answer the
next command), as Spin's does.

Spin waits for a free connection when `[outbound_redis] max_connections` are
open; here the only holder is the instance that asks (one instance runs at a
time per process), so the limit is refused at once as `too-many-connections`.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..app.hosts import HostError, parse_host
from ..app.outbound import AllowedHosts
from ..app.urls import UrlError, outbound_url
from .redis_address import AddressError, RedisTarget, parse_address, redacted
from .redis_replies import Flat, ReplyTooLarge, Status, StatusParser, check_size, flatten

log = logging.getLogger("edge.redis")

# What Spin's resource table holds per instance (spin_resource_table::Table::new(1024)).
DEFAULT_MAX_CONNECTIONS = 1024


class RedisFailure(Exception):
    """Base of what an operation can fail with; the subclass names the WIT error case."""


class RedisInvalidAddress(RedisFailure):
    pass


class RedisTooManyConnections(RedisFailure):
    pass


class RedisTypeMismatch(RedisFailure):
    pass


class RedisOther(RedisFailure):
    pass


@dataclass(frozen=True)
class RedisOptions:
    timeout: float = 5.0  # seconds, for connecting and for each reply
    max_connections: int = DEFAULT_MAX_CONNECTIONS


class ConnectionLimit:
    """Open connections of the whole app in this process (Spin's connection semaphore)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0

    def acquire(self) -> None:
        if self.open >= self.limit:
            raise RedisTooManyConnections(f"{self.open} Redis connections are already open")
        self.open += 1

    def release(self) -> None:
        self.open = max(0, self.open - 1)


class RedisConnector:
    """Opens Redis connections for one component."""

    def __init__(
        self,
        allowed: Callable[[], AllowedHosts],
        limit: ConnectionLimit,
        options: RedisOptions | None = None,
    ) -> None:
        self._allowed = allowed
        self._limit = limit
        self.options = options or RedisOptions()

    @classmethod
    def for_component(
        cls,
        entries: list[str],
        lookup: Callable[[str], str],
        component_ids: list[str],
        limit: ConnectionLimit,
        options: RedisOptions | None = None,
    ) -> RedisConnector:
        """A connector whose allow-list is `entries`, resolved with `lookup` on first use.

        Spin resolves the templates of an instance's allow-list when it first
        checks an address; a failure is retried at the next check.
        """
        resolved: list[AllowedHosts] = []

        def allowed() -> AllowedHosts:
            if not resolved:
                resolved.append(AllowedHosts.resolve(entries, lookup, component_ids))
            return resolved[0]

        return cls(allowed, limit, options)

    def open(self, address: str) -> RedisConnection:
        try:
            allowed = self._allowed()
        except Exception as exc:  # a template that cannot be resolved, as Spin: `other`
            raise RedisOther(f"cannot resolve allowed_outbound_hosts: {exc}") from None
        if not allowed.allows(address, "redis"):
            log.info("outbound Redis denied by allowed_outbound_hosts: %s", redacted(address))
            raise RedisInvalidAddress("not allowed by allowed_outbound_hosts")
        self._limit.acquire()
        try:
            target = _target(address)
            timeout = self.options.timeout
            return RedisConnection(_connect(target, timeout), target, self._limit, timeout)
        except BaseException:
            self._limit.release()
            raise


def _target(address: str) -> RedisTarget:
    try:
        target = parse_address(address)
    except AddressError as exc:
        raise RedisInvalidAddress(str(exc)) from None
    # Connect to exactly the host and port that the allow-list checked.
    try:
        checked = outbound_url(address, "redis")
        same = parse_host(checked.host or "") == parse_host(_bracketed(target.host))
    except (UrlError, HostError):
        same = False
    if not same or (checked.port or 6379) != target.port:
        raise RedisInvalidAddress("the address names its host ambiguously")
    if target.protocol == 3:
        raise RedisOther("RESP3 (protocol=3) is not supported by edge up: use RESP2")
    return target


def _bracketed(host: str) -> str:
    try:
        return (
            f"[{host}]" if isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address) else host
        )
    except ValueError:
        return host


def _connect(target: RedisTarget, timeout: float) -> redis.Connection:
    kwargs: dict[str, Any] = dict(
        host=target.host,
        port=target.port,
        db=target.db,
        username=target.username,
        password=target.password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        parser_class=StatusParser,
        protocol=2,  # redis-py 8 would speak RESP3; Spin speaks RESP2 unless told
        driver_info=None,  # no CLIENT SETINFO round trip, as Spin's client
    )
    if target.tls:
        kwargs["ssl_cert_reqs"] = "required" if target.verify_tls else "none"
        conn: redis.Connection = redis.SSLConnection(**kwargs)
    else:
        conn = redis.Connection(**kwargs)
    try:
        conn.connect()
    except RedisTimeoutError:
        raise RedisOther(f"Redis at {target.display} did not answer within {timeout:g} s") from None
    except RedisError as exc:
        raise RedisOther(f"cannot connect to Redis at {target.display}: {exc}") from None
    return conn


class RedisConnection:
    """One open connection; the operations of `fermyon:spin/redis`'s `connection`."""

    def __init__(
        self, conn: redis.Connection, target: RedisTarget, limit: ConnectionLimit, timeout: float
    ) -> None:
        self._conn: redis.Connection | None = conn
        self.target = target
        self._timeout = timeout
        self._limit = limit
        self._broken: str | None = None

    def publish(self, channel: str, payload: bytes) -> None:
        self._command("PUBLISH", channel, payload)

    def get(self, key: str) -> bytes | None:
        try:
            return check_size(_bytes(self._command("GET", key)))
        except ReplyTooLarge as exc:
            raise RedisOther(str(exc)) from None

    def set(self, key: str, value: bytes) -> None:
        self._command("SET", key, value)

    def incr(self, key: str) -> int:
        return _int(self._command("INCRBY", key, 1))

    def delete(self, keys: list[str]) -> int:
        return _int(self._command("DEL", *keys))

    def sadd(self, key: str, values: list[str]) -> int:
        return _int(self._command("SADD", key, *values))

    def smembers(self, key: str) -> list[str]:
        reply = self._command("SMEMBERS", key)
        try:
            return [bytes(m).decode("utf-8") for m in reply]
        except (TypeError, UnicodeDecodeError) as exc:
            raise RedisOther(f"a set member is not UTF-8 text: {exc}") from None

    def srem(self, key: str, values: list[str]) -> int:
        return _int(self._command("SREM", key, *values))

    def execute(self, command: str, arguments: list[int | bytes]) -> list[Flat]:
        try:
            return flatten(self._command(command, *arguments))
        except (ReplyTooLarge, TypeError) as exc:
            raise RedisOther(str(exc)) from None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.disconnect()
            self._limit.release()

    def _command(self, *args: Any) -> Any:
        if self._conn is None:
            raise RedisOther("the connection is closed")
        if self._broken is not None:
            raise RedisOther(self._broken)
        try:
            self._conn.send_command(*args, check_health=False)
            return self._conn.read_response()
        except ResponseError as exc:  # the server's error reply, e.g. WRONGTYPE ...
            raise RedisOther(str(exc)) from None
        except RedisTimeoutError:
            self._broken = (
                f"Redis at {self.target.display} did not answer within "
                f"{self._timeout:g} s; the connection is closed"
            )
        except (RedisConnectionError, OSError) as exc:
            self._broken = f"the connection to Redis at {self.target.display} was lost: {exc}"
        except RedisError as exc:
            self._broken = f"Redis at {self.target.display}: {exc}"
        self._conn.disconnect()
        raise RedisOther(self._broken)


def _int(reply: Any) -> int:
    if isinstance(reply, bool) or not isinstance(reply, int):
        raise RedisTypeMismatch(f"expected an integer reply, got {type(reply).__name__}")
    return reply


def _bytes(reply: Any) -> bytes | None:
    if reply is None or isinstance(reply, bytes):
        return reply
    if isinstance(reply, Status):
        return reply.encode("utf-8")
    raise RedisOther(f"expected a string reply, got {type(reply).__name__}")
