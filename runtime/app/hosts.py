"""Host names as Spin's `url` crate reads them (the WHATWG URL standard's host parser).

Spin compares the hosts of `allowed_outbound_hosts` and of the URLs a component
asks for after this parsing, so `EXAMPLE.com`, `127.1` and `0x7f.0.0.1` are
`example.com`, `127.0.0.1` and `127.0.0.1` to it; an allow-list that compared
text would let `http://0x7f000001` past a rule meant for other hosts.

Non-ASCII names go through the standard library's IDNA codec (IDNA 2003),
where the `url` crate uses UTS 46; the two differ only for a few characters
(`ß`, `ς`, joiners), which no allow-list here relies on.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

# WHATWG's forbidden domain code points: C0 controls, space, DEL and these.
_FORBIDDEN_DOMAIN = re.compile(r"[\x00-\x20\x7f#%/:<>?@\[\\\]^|]")
_HEX = re.compile(r"0[xX][0-9A-Fa-f]*")
_OCTAL = re.compile(r"0[0-7]+")
_DECIMAL = re.compile(r"[0-9]+")


class HostError(ValueError):
    """Text that is not a host."""


@dataclass(frozen=True)
class Domain:
    """A domain name, lower-case ASCII (punycode for other scripts)."""

    name: str

    def __str__(self) -> str:
        return self.name


Host = Domain | ipaddress.IPv4Address | ipaddress.IPv6Address


def host_text(host: Host) -> str:
    """The host as a URL writes it (IPv6 in brackets)."""
    return f"[{host.compressed}]" if isinstance(host, ipaddress.IPv6Address) else str(host)


def parse_host(text: str) -> Host:
    """`text` as a special URL's host (http's, https'), or HostError."""
    if text.startswith("["):
        if not text.endswith("]"):
            raise HostError(f"{text!r}: an IPv6 address needs its closing ']'")
        return parse_ipv6(text[1:-1])
    try:
        decoded = unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise HostError(f"{text!r}: percent-escapes that are not UTF-8") from None
    domain = _to_ascii(decoded)
    if not domain:
        raise HostError("the host is empty")
    if bad := _FORBIDDEN_DOMAIN.search(domain):
        raise HostError(f"{text!r}: a host cannot contain {bad[0]!r}")
    if _ends_in_number(domain):
        return parse_ipv4(domain)
    return Domain(domain)


def parse_ipv6(text: str) -> ipaddress.IPv6Address:
    if "%" in text:  # zone ids are not part of URLs
        raise HostError(f"[{text}]: a zone id is not allowed in a URL")
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        raise HostError(f"[{text}] is not an IPv6 address") from None


def parse_ipv4(text: str) -> ipaddress.IPv4Address:
    """WHATWG's IPv4 parser: 1 to 4 parts, each decimal, octal (0...) or hex (0x...)."""
    parts = text.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4:
        raise HostError(f"{text!r}: an IPv4 address has at most 4 parts")
    numbers = [_ipv4_number(part, text) for part in parts]
    if any(n > 255 for n in numbers[:-1]):
        raise HostError(f"{text!r}: an IPv4 part is over 255")
    if numbers[-1] >= 256 ** (5 - len(numbers)):
        raise HostError(f"{text!r}: the IPv4 address is out of range")
    value = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        value += n * 256 ** (3 - i)
    return ipaddress.IPv4Address(value)


def _ipv4_number(part: str, text: str) -> int:
    if part == "":
        raise HostError(f"{text!r}: an empty IPv4 part")
    if _HEX.fullmatch(part):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):  # a leading zero means octal
        if _OCTAL.fullmatch(part):
            return int(part[1:], 8)
    elif _DECIMAL.fullmatch(part):
        return int(part)
    raise HostError(f"{text!r}: {part!r} is not a number")


def _ends_in_number(domain: str) -> bool:
    parts = domain.split(".")
    if parts[-1] == "":
        if len(parts) == 1:
            return False
        parts.pop()
    last = parts[-1]
    if _DECIMAL.fullmatch(last):
        return True
    return bool(_HEX.fullmatch(last) or _OCTAL.fullmatch(last))


def _to_ascii(name: str) -> str:
    if name.isascii():
        return name.lower()
    try:
        labels = [
            part if part.isascii() else part.encode("idna").decode() for part in name.split(".")
        ]
    except UnicodeError:
        raise HostError(f"{name!r} is not a valid international domain name") from None
    return ".".join(labels).lower()
