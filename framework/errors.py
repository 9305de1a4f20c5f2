"""Every exception the framework raises derives from `FrameworkError`."""

from __future__ import annotations

from http import HTTPStatus


class FrameworkError(Exception):
    """Base of the framework's exceptions."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# --- HTTP -------------------------------------------------------------------


class HTTPError(FrameworkError):
    """Raise in a handler to answer with `status` and the JSON body {"error": message}."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if message is None:
            try:
                message = HTTPStatus(status).phrase
            except ValueError:
                message = "error"
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.message!r})"


class BadRequest(HTTPError):
    """The request is malformed (400), e.g. its body is not valid JSON."""

    def __init__(self, message: str = "bad request") -> None:
        super().__init__(400, message)


# --- outbound HTTP (wasi:http/outgoing-handler) -------------------------------


class OutboundHTTPError(FrameworkError):
    """An outbound request failed before a whole response came back.

    `code` is the wasi:http `error-code` case (such as "connection-refused"),
    or "" when the failure was the framework's own (a body over the limit).
    """

    def __init__(self, message: str, code: str = "", url: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.url = url


class HTTPRequestDenied(OutboundHTTPError):
    """`allowed_outbound_hosts` does not allow the URL; no connection was made."""


class HTTPTimeoutError(OutboundHTTPError):
    """The upstream did not answer (or finish its body) in time."""


# --- key-value (fermyon:spin/key-value) ---------------------------------------


class KVError(FrameworkError):
    """A key-value store operation failed."""


class NoSuchStoreError(KVError):
    """The host knows no store of that label."""


class AccessDeniedError(KVError):
    """The component may not use that store (it is not in its manifest entry)."""


class StoreTableFullError(KVError):
    """Too many stores are open at once; close some first."""


class TooLargeError(KVError):
    """A key or value is over the host's size limit."""


class KVOtherError(KVError):
    """Any other failure the host reports (e.g. I/O)."""


# --- SQL (spin:sqlite) ---------------------------------------------------------


class DatabaseError(FrameworkError):
    """A database operation failed; `message` is the database's own message.

    `sql` is the statement that failed, when there was one (kept out of the
    message so that the message stays the database's, verbatim).
    """

    sql: str | None = None


class NoSuchDatabaseError(DatabaseError):
    """The host knows no database of that label."""


class DatabaseAccessDeniedError(DatabaseError):
    """The component may not use that database (it is not in its manifest entry)."""


class InvalidConnectionError(DatabaseError):
    """The connection is no longer valid."""


class DatabaseFullError(DatabaseError):
    """The database has reached its capacity."""


# --- outbound Redis (fermyon:spin/redis) -------------------------------------


class RedisError(FrameworkError):
    """An outbound Redis operation failed."""


class RedisInvalidAddress(RedisError):
    """The address is not a Redis URL, or `allowed_outbound_hosts` does not allow it."""


class RedisTooManyConnections(RedisError):
    """Too many Redis connections are open at once; close some first."""


class RedisTypeError(RedisError):
    """A reply could not be read as the type the operation returns."""


class RedisOtherError(RedisError):
    """Any other failure: Redis unreachable or timed out, or an error reply (`WRONGTYPE ...`)."""


# --- variables (fermyon:spin/variables) -------------------------------------


class VariableError(FrameworkError):
    """Reading an application variable failed."""


class InvalidVariableName(VariableError):
    """The name is not a valid variable name."""


class UndefinedVariable(VariableError):
    """The component's manifest entry defines no such variable, or it has no value."""


class VariableProviderError(VariableError):
    """The variables provider (e.g. a vault) failed."""


__all__ = [
    "AccessDeniedError",
    "BadRequest",
    "DatabaseAccessDeniedError",
    "DatabaseError",
    "DatabaseFullError",
    "FrameworkError",
    "HTTPError",
    "InvalidConnectionError",
    "InvalidVariableName",
    "KVError",
    "KVOtherError",
    "NoSuchDatabaseError",
    "NoSuchStoreError",
    "RedisError",
    "RedisInvalidAddress",
    "RedisOtherError",
    "RedisTooManyConnections",
    "RedisTypeError",
    "StoreTableFullError",
    "TooLargeError",
    "UndefinedVariable",
    "VariableError",
    "VariableProviderError",
]
