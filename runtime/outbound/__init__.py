"""Outbound connections a component makes through the host: Redis, to a real server.

No wasm here: `wasm/bindings/redis.py` translates WIT values to the calls of
`redis_client`, which checks the component's `allowed_outbound_hosts` before
any connection is made. `redis_server` runs the Redis server that `edge up`
and the Emulator start for an app that names no address of its own.
"""

from .redis_address import redacted
from .redis_client import (
    ConnectionLimit,
    RedisConnection,
    RedisConnector,
    RedisFailure,
    RedisInvalidAddress,
    RedisOptions,
    RedisOther,
    RedisTooManyConnections,
    RedisTypeMismatch,
)
from .redis_server import ADDRESS_VARIABLE, EmbeddedRedis, RedisServerError, wants_embedded

__all__ = [
    "ADDRESS_VARIABLE",
    "ConnectionLimit",
    "EmbeddedRedis",
    "RedisConnection",
    "RedisConnector",
    "RedisFailure",
    "RedisInvalidAddress",
    "RedisOptions",
    "RedisOther",
    "RedisServerError",
    "RedisTooManyConnections",
    "RedisTypeMismatch",
    "redacted",
    "wants_embedded",
]
