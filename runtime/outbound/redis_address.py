"""Redis URLs as Spin's Redis client (redis-rs) reads them.

`redis://[user][:password@]host[:port][/db][?protocol=resp2]`, and `rediss://`
for TLS (`#insecure` skips certificate checks); `valkey://` and `valkeys://`
are the same. Unix sockets are not supported here: an allow-list cannot name
them, and `edge up` runs no Redis on one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote_to_bytes

from ..app.urls import UrlError, parse_url

DEFAULT_PORT = 6379
TCP_SCHEMES = {"redis": False, "valkey": False, "rediss": True, "valkeys": True}  # -> TLS
_DB = re.compile(r"[+-]?[0-9]+")


class AddressError(ValueError):
    """Not a Redis URL that a connection can be opened to."""


@dataclass(frozen=True)
class RedisTarget:
    host: str  # an IPv6 address without brackets
    port: int
    tls: bool = False
    verify_tls: bool = True
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    protocol: int = 2

    @property
    def display(self) -> str:
        """host:port, for messages (never the credentials)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def redacted(address: str) -> str:
    """`address` with its credentials, if any, as `***` (for logs and events).

    Only the authority's user information is masked, with or without a scheme:
    an `@` in the path or the query is not a credential's end.
    """
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "", address
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    if "@" not in authority:
        return address
    return scheme + sep + "***@" + authority.rpartition("@")[2] + tail


def parse_address(address: str) -> RedisTarget:
    try:
        url = parse_url(address)
    except UrlError as exc:
        raise AddressError(f"not a URL: {exc}") from None
    if url.scheme in ("unix", "redis+unix", "valkey+unix"):
        raise AddressError("Redis over a Unix socket is not supported by edge up")
    if url.scheme not in TCP_SCHEMES:
        raise AddressError(f"{url.scheme}:// is not a Redis URL (redis:// or rediss://)")
    if not url.host:
        raise AddressError("the URL has no host")
    host = url.host[1:-1] if url.host.startswith("[") else url.host
    tls = TCP_SCHEMES[url.scheme]
    verify = True
    if tls and url.fragment is not None:
        if url.fragment != "insecure":
            raise AddressError("the only fragment a rediss:// URL may have is #insecure")
        verify = False
    db_text = url.path.strip("/")
    if db_text and (not _DB.fullmatch(db_text) or not -(2**63) <= int(db_text) < 2**63):
        raise AddressError(f"{db_text!r} is not a database number")
    return RedisTarget(
        host=host,
        port=url.port if url.port is not None else DEFAULT_PORT,
        tls=tls,
        verify_tls=verify,
        db=int(db_text) if db_text else 0,
        username=_decoded(url.username, "user name") if url.username else None,
        password=_decoded(url.password, "password") if url.password is not None else None,
        protocol=_protocol(url.query),
    )


def _decoded(text: str, what: str) -> str:
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise AddressError(f"the {what} is not UTF-8") from None


def _protocol(query: str | None) -> int:
    value = dict(parse_qsl(query or "")).get("protocol")
    if value in (None, "2", "resp2"):
        return 2
    if value in ("3", "resp3"):
        return 3
    raise AddressError(f"protocol={value!r}: the protocol is 2 (resp2) or 3 (resp3)")
