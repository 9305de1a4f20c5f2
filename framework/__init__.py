"""Python edge functions for Spin: HTTP handlers, key-value, Turso (libSQL), Redis, variables,
outbound HTTP (`framework.http.fetch`).

    from framework import http_component, Request, Response, kv, turso, variables

    @http_component("/todos/:id", methods=["GET"])
    def get_todo(req: Request) -> dict:
        return kv.open("default").get_json(f"todo:{req.params['id']}")

Importing this package never loads the component bindings (`wit_world`), which
exist only inside a built component: kv, turso, redis and variables load them on use.
"""

from . import kv, redis, turso, variables
from .errors import (
    AccessDeniedError,
    BadRequest,
    DatabaseAccessDeniedError,
    DatabaseError,
    DatabaseFullError,
    FrameworkError,
    HTTPError,
    HTTPRequestDenied,
    HTTPTimeoutError,
    InvalidConnectionError,
    InvalidVariableName,
    KVError,
    KVOtherError,
    NoSuchDatabaseError,
    NoSuchStoreError,
    OutboundHTTPError,
    RedisError,
    RedisInvalidAddress,
    RedisOtherError,
    RedisTooManyConnections,
    RedisTypeError,
    StoreTableFullError,
    TooLargeError,
    UndefinedVariable,
    VariableError,
    VariableProviderError,
)
from .headers import Headers
from .http import Request, Response, handle_request, http_component
from .routing import Router
from .triggers import CronEvent, cron_component, redis_component

__all__ = [
    "AccessDeniedError",
    "BadRequest",
    "CronEvent",
    "DatabaseAccessDeniedError",
    "DatabaseError",
    "DatabaseFullError",
    "FrameworkError",
    "HTTPError",
    "HTTPRequestDenied",
    "HTTPTimeoutError",
    "Headers",
    "InvalidConnectionError",
    "InvalidVariableName",
    "KVError",
    "KVOtherError",
    "NoSuchDatabaseError",
    "NoSuchStoreError",
    "OutboundHTTPError",
    "RedisError",
    "RedisInvalidAddress",
    "RedisOtherError",
    "RedisTooManyConnections",
    "RedisTypeError",
    "Request",
    "Response",
    "Router",
    "StoreTableFullError",
    "TooLargeError",
    "UndefinedVariable",
    "VariableError",
    "VariableProviderError",
    "cron_component",
    "handle_request",
    "http_component",
    "kv",
    "redis",
    "redis_component",
    "turso",
    "variables",
]
