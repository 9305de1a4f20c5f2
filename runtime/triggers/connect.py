"""A connection to a trigger's Redis server, from its address as Spin reads it.

The address is a manifest template already rendered (`redis://host:port`,
`rediss://`, `valkey://`, a user, a password, a database number), parsed by
the same rules as outbound Redis (`runtime.outbound.redis_address`). The
connection speaks RESP2, as Spin's Redis trigger does, and retries nothing by
itself: whoever holds it decides what a broken connection means.
"""

from __future__ import annotations

from typing import Any

import redis

from ..errors import EdgeError
from ..outbound.redis_address import AddressError, RedisTarget, parse_address, redacted


class BadAddress(EdgeError):
    """A trigger's address that no connection can be opened to."""


def target(address: str) -> RedisTarget:
    try:
        parsed = parse_address(address)
    except AddressError as exc:
        raise BadAddress(f"Redis trigger address {redacted(address)!r}: {exc}") from None
    if parsed.protocol == 3:
        raise BadAddress(
            f"Redis trigger address {redacted(address)!r}: RESP3 (protocol=3) is not supported"
        )
    return parsed


def open_connection(address: str, timeout: float) -> redis.Connection:
    """A connected connection (RedisError or OSError if the server cannot be reached)."""
    where = target(address)
    kwargs: dict[str, Any] = dict(
        host=where.host,
        port=where.port,
        db=where.db,
        username=where.username,
        password=where.password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        socket_keepalive=True,
        protocol=2,
        driver_info=None,  # no CLIENT SETINFO round trip
    )
    if where.tls:
        kwargs["ssl_cert_reqs"] = "required" if where.verify_tls else "none"
        conn: redis.Connection = redis.SSLConnection(**kwargs)
    else:
        conn = redis.Connection(**kwargs)
    conn.connect()
    return conn


def publish(address: str, channel: str, payload: bytes, timeout: float = 5.0) -> int:
    """PUBLISH `payload` on `channel`: how many subscribers the server delivered it to."""
    conn = open_connection(address, timeout)
    try:
        conn.send_command("PUBLISH", channel, payload, check_health=False)
        return int(conn.read_response())
    finally:
        conn.disconnect()
