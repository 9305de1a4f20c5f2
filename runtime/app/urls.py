"""Absolute URLs as Spin reads them, down to what an allow-list check needs.

Spin parses the URL of an outbound call with the `url` crate (the WHATWG URL
standard) and, if that finds no host, tries again with `<scheme>://` in front
(`OutboundUrl::parse`), so `localhost:6379` is checked as
`redis://localhost:6379`. `parse_url` follows the standard for the parts that
matter here: scheme, user info, host, port, path, query and fragment.
`outbound_url` adds Spin's retry and its percent-encoding of the user info, so
that a password holding `#`, `/` or `@` does not move the host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from .hosts import HostError, parse_host, parse_ipv6

SPECIAL_PORTS = {"ftp": 21, "file": None, "http": 80, "https": 443, "ws": 80, "wss": 443}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# WHATWG's forbidden host code points (an opaque host's, so `%` is allowed).
_FORBIDDEN_HOST = re.compile(r"[\x00\t\n\r #/:<>?@\[\\\]^|]")


class UrlError(ValueError):
    """Text that is not an absolute URL with a host."""


@dataclass(frozen=True)
class Url:
    scheme: str
    username: str  # still percent-encoded, as in the URL
    password: str | None
    host: str | None  # None: the URL has no authority
    port: int | None
    path: str
    query: str | None
    fragment: str | None

    @property
    def special(self) -> bool:
        return self.scheme in SPECIAL_PORTS


def parse_url(text: str) -> Url:
    """`text` as an absolute URL, or UrlError. A special URL's host is checked here."""
    text = text.strip("".join(chr(c) for c in range(0x21))).translate({9: None, 10: None, 13: None})
    match = _SCHEME.match(text)
    if match is None:
        raise UrlError(f"{text!r} has no scheme")
    scheme = match[1].lower()
    rest = text[match.end() :]
    special = scheme in SPECIAL_PORTS
    if special:
        rest = rest.lstrip("/\\")
        ends = "/\\?#"
    elif rest.startswith("//"):
        rest = rest[2:]
        ends = "/?#"
    else:
        path, query, fragment = _split_tail(rest)
        return Url(scheme, "", None, None, None, path, query, fragment)
    cut = next((i for i, c in enumerate(rest) if c in ends), len(rest))
    authority, tail = rest[:cut], rest[cut:]
    username, password, hostport = _split_userinfo(authority)
    host, port = _split_port(hostport)
    if special:
        if not host:
            raise UrlError(f"{text!r}: a {scheme} URL needs a host")
        try:
            parse_host(host)
        except HostError as exc:
            raise UrlError(str(exc)) from None
        if port is not None and port == SPECIAL_PORTS[scheme]:
            port = None  # the default port is not part of the URL
    else:
        _check_opaque(host)
    if (username or password is not None) and not host:
        raise UrlError(f"{text!r}: user info without a host")
    path, query, fragment = _split_tail(tail.replace("\\", "/") if special else tail)
    return Url(scheme, username, password, host, port, path, query, fragment)


def outbound_url(text: str, default_scheme: str) -> Url:
    """The URL Spin checks against the allow-list for a call to `text` (UrlError if none)."""
    encoded = _encode_userinfo(text)
    try:
        first: Url | UrlError = parse_url(encoded)
    except UrlError as exc:
        first = exc
    if isinstance(first, Url) and first.host is not None:
        return first
    try:
        return _with_host(parse_url(f"{default_scheme}://{encoded}"))
    except UrlError:
        if isinstance(first, UrlError):
            raise first from None
        raise


def _with_host(url: Url) -> Url:
    if url.host is None:
        raise UrlError("the URL has no host")
    return url


def _encode_userinfo(text: str) -> str:
    # As Spin: the text between "://" and the first "@" is user info when no "/"
    # comes before that "@"; it is percent-encoded whole, so the host is what
    # follows the "@" whatever the password holds.
    at = text.find("@")
    if at < 0:
        return text
    start = text.find("://")
    start = 0 if start < 0 else start + 3
    slash = text.find("/", start)
    if slash >= 0 and slash < at:
        return text
    return text[:start] + quote(text[start:at], safe="-_.~") + text[at:]


def _split_userinfo(authority: str) -> tuple[str, str | None, str]:
    userinfo, at, hostport = authority.rpartition("@")
    if not at:
        return "", None, authority
    username, colon, password = userinfo.partition(":")
    return username, (password if colon else None), hostport


def _split_port(hostport: str) -> tuple[str, int | None]:
    # The port starts at the first ":" outside brackets.
    depth = False
    for i, c in enumerate(hostport):
        if c == "[":
            depth = True
        elif c == "]":
            depth = False
        elif c == ":" and not depth:
            digits = hostport[i + 1 :]
            if digits == "":
                return hostport[:i], None
            if not digits.isascii() or not digits.isdigit() or int(digits) > 65535:
                raise UrlError(f"{hostport!r}: {digits!r} is not a port")
            return hostport[:i], int(digits)
    return hostport, None


def _check_opaque(host: str) -> None:
    if host.startswith("["):
        if not host.endswith("]"):
            raise UrlError(f"{host!r}: an IPv6 address needs its closing ']'")
        try:
            parse_ipv6(host[1:-1])
        except HostError as exc:
            raise UrlError(str(exc)) from None
    elif bad := _FORBIDDEN_HOST.search(host):
        raise UrlError(f"{host!r}: a host cannot contain {bad[0]!r}")


def _split_tail(tail: str) -> tuple[str, str | None, str | None]:
    rest, hash_, fragment = tail.partition("#")
    path, mark, query = rest.partition("?")
    return path, (query if mark else None), (fragment if hash_ else None)
