"""Keeping web pages out of the endpoints that read or change state.

A page in the developer's browser can send requests to any port on loopback.
Three things stop it here, on the admin API and on every Hrana endpoint:

- `Host` must be a loopback name, an IP address or a name the user configured,
  so a DNS-rebound name (`evil.example` resolving to 127.0.0.1) is refused (a
  page's requests carry its own host name, never an address it was rebound to);
- `Origin`, when present (browsers send it on every cross-origin POST and on
  every WebSocket handshake), must be a loopback origin of this `edge up`: one
  of its own ports, so another local dev server's pages are refused too;
- a body must be `application/json`: the content types a page may send without
  asking first (text/plain, forms) never reach the handlers.

With a token, requests must also carry `Authorization: Bearer <token>`,
compared in constant time. App routes are not guarded: they are the user's.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..settings import Settings
from .endpoints import endpoint_ports

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def is_loopback_name(host: str) -> bool:
    """localhost, a name under .localhost (RFC 6761 keeps both on loopback), 127/8, ::1."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def split_host(value: str) -> tuple[str, int | None]:
    """`name:port`, `[::1]:port` or a bare name -> (name, port or None); ValueError if bad."""
    parts = urlsplit("//" + value)
    if parts.path or parts.query or parts.fragment or parts.username or not parts.hostname:
        raise ValueError(value)
    return parts.hostname, parts.port


@dataclass(frozen=True)
class SameOrigin:
    """Which `Host` and `Origin` values are this `edge up`'s own."""

    names: frozenset[str]  # host names allowed besides loopback ones (lower case)
    ports: Callable[[], Collection[int]]  # the ports of this edge up: listener and Hrana

    def own_name(self, name: str) -> bool:
        return is_loopback_name(name) or name.lower().rstrip(".") in self.names

    def host_allowed(self, name: str) -> bool:
        return self.own_name(name) or _is_address(name)

    def refusal(self, headers: Headers) -> str | None:
        """Why these request headers are refused, or None if they are this server's."""
        host = headers.get("host")
        if host is None:
            return "a Host header is required"
        try:
            name, _ = split_host(host)
        except ValueError:
            return f"Host {host!r} is malformed"
        if not self.host_allowed(name):
            return (
                f"Host {name!r} is not this server's: use localhost or a loopback address, "
                "or add the name to EDGE_ALLOWED_HOSTS"
            )
        origin = headers.get("origin")
        if origin is not None and not self.origin_allowed(origin):
            return f"requests from the web page at {origin!r} are refused (not this server)"
        if headers.get("sec-fetch-site") == "cross-site":
            return "cross-site requests are refused"
        return None

    def origin_allowed(self, origin: str) -> bool:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False  # "null" (sandboxed frames, file: pages) and anything odd
        try:
            port = parts.port or _DEFAULT_PORTS[parts.scheme]
        except ValueError:
            return False
        return self.own_name(parts.hostname) and port in self.ports()


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def same_origin(settings: Settings) -> SameOrigin:
    """The policy of a running `edge up`: its names, its listener's and Hrana's ports."""
    names = set(settings.allowed_hosts)
    host, port = settings.listen_address
    if not (_is_address(host) and ipaddress.ip_address(host).is_unspecified):
        names.add(host.lower())  # a page of the app itself, served at that address
    # Read when an Origin needs checking: the Hrana ports are known once they are bound.
    return SameOrigin(frozenset(names), lambda: {port, *endpoint_ports(settings.state_dir)})


class Guard:
    """ASGI middleware applying a `SameOrigin` policy (and a token) under `prefix`."""

    def __init__(
        self,
        app: ASGIApp,
        policy: SameOrigin,
        *,
        prefix: str = "/",
        token: str | None = None,
        open_paths: Collection[str] = (),
        error_key: str = "error",
    ) -> None:
        self.app = app
        self.policy = policy
        self.prefix = prefix
        self._token = token.encode() if token else None
        self.open_paths = frozenset(open_paths)  # no token needed (health probes)
        self.error_key = error_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        refused = self._check(scope)
        if refused is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await receive()  # websocket.connect; closing before accepting answers 403
            await send({"type": "websocket.close", "code": 1008, "reason": refused[1][:120]})
        else:
            await self._answer(send, *refused)

    def _check(self, scope: Scope) -> tuple[int, str] | None:
        headers = Headers(scope=scope)
        reason = self.policy.refusal(headers)
        if reason is not None:
            return 403, reason
        if self._token is not None and scope["path"] not in self.open_paths:
            auth = headers.get("authorization", "")
            scheme, _, given = auth.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), self._token):
                return 401, "a valid Authorization: Bearer token is required"
        if scope["type"] == "http" and scope["method"] in _BODY_METHODS:
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/json":
                return 415, "send the body as JSON, with Content-Type: application/json"
        return None

    async def _answer(self, send: Send, status: int, message: str) -> None:
        body = json.dumps({self.error_key: message}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
