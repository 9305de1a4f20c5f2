"""Spin's `allowed_outbound_hosts`: which network addresses a component may reach.

Each entry is `<scheme>://<host>[:<port>]`:

- scheme: `*` or letters (`http`, `redis`, `mysql`, `tcp`, ...), compared exactly;
- host: `*`; `*.example.com` (any depth of subdomain, not the apex); a CIDR
  such as `10.0.0.0/8` (it matches URLs whose host is an IP literal, never a
  name); `self` (or `self.alt`) for the app's own routes; or one name or IP;
- port: `*`, one port, or a range `A..B` that excludes B; none means the
  scheme's well-known port, and a scheme without one (`*`, `tcp`, `rediss`)
  must name its port.

`{{ variable }}` may appear anywhere: such entries are resolved when a
component first checks an address, and one that comes out empty (or as a bare
`http://` / `https://`) is dropped. No list, or an empty one, allows nothing;
`*://*:*` allows everything. `http://*.spin.internal` stands for one entry per
component of the app (service chaining). This is Spin's
`outbound-networking-config` crate, read and rebuilt: `validate` is what Spin
refuses when it loads an app, `AllowedHosts.allows` what it lets through.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from .hosts import Domain, Host, HostError, host_text, parse_host
from .urls import Url, UrlError, outbound_url, parse_url
from .variables import Template, TemplateError, VariableError

WELL_KNOWN_PORTS = {
    "postgres": 5432,
    "mysql": 3306,
    "redis": 6379,
    "mqtt": 1883,
    "http": 80,
    "https": 443,
}
SERVICE_CHAINING_SUFFIX = ".spin.internal"
_NUMBER = re.compile(r"\+?[0-9]+")  # what Rust's integer parsing accepts


class OutboundHostError(ValueError):
    """An `allowed_outbound_hosts` entry that Spin refuses."""


@dataclass(frozen=True)
class AnyHost:
    pass


@dataclass(frozen=True)
class SelfHost:
    """`self` / `self.alt`: relative URLs, the app's own routes."""


@dataclass(frozen=True)
class Subdomains:
    suffix: str  # ".example.com"


@dataclass(frozen=True)
class LiteralHost:
    host: Host


@dataclass(frozen=True)
class Cidr:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network


HostRule = AnyHost | SelfHost | Subdomains | LiteralHost | Cidr


@dataclass(frozen=True)
class AllowedHost:
    """One entry. `scheme` None is `*`; `ports` None is `*`, else half-open ranges."""

    original: str
    scheme: str | None
    host: HostRule
    ports: tuple[range, ...] | None

    @classmethod
    def parse(cls, entry: str) -> AllowedHost:
        text = entry.strip()
        scheme, sep, rest = text.partition("://")
        if not sep:
            if text in ("*", ":", "", "?"):
                raise OutboundHostError(
                    f"{text!r} is not an outbound host: write <scheme>://<host>[:<port>], "
                    "each part may be '*' ('*://*:*' allows every address)"
                )
            raise OutboundHostError(f"{text!r} has no scheme: write e.g. 'https://{text}'")
        host, port = _split_port(rest, text)
        ports = _parse_ports(port, scheme)
        return cls(entry, _parse_scheme(scheme), _parse_host_rule(host), ports)

    def allows(self, url: Url) -> bool:
        if self.scheme is not None and self.scheme != url.scheme:
            return False
        return _host_allows(self.host, url.host or "") and self._port_allows(url)

    def allows_relative(self, schemes: Iterable[str]) -> bool:
        """Whether relative ("self") requests in one of `schemes` may go out."""
        scheme_ok = any(self.scheme is None or self.scheme == s for s in schemes)
        return scheme_ok and isinstance(self.host, AnyHost | SelfHost)

    def _port_allows(self, url: Url) -> bool:
        if self.ports is None:
            return True
        # A URL without a port uses its scheme's well-known one; a scheme without
        # one (ws, tcp) then matches only a '*' port.
        port = url.port if url.port is not None else WELL_KNOWN_PORTS.get(url.scheme)
        return port is not None and any(port in r for r in self.ports)

    def __str__(self) -> str:
        return self.original


@dataclass(frozen=True)
class AllowedHosts:
    """A component's resolved allow-list."""

    entries: tuple[AllowedHost, ...]

    @classmethod
    def resolve(
        cls,
        entries: Iterable[str],
        lookup: Callable[[str], str],
        component_ids: Iterable[str] = (),
    ) -> AllowedHosts:
        """Parse `entries`, rendering templates with `lookup` (an application variable's value).

        Raises OutboundHostError for an entry Spin refuses, VariableError for a
        variable that has no value.
        """
        parsed: list[AllowedHost] = []
        for entry in _refuse_allow_all(list(entries)):
            template = _template(entry)
            if template.is_literal:
                parsed.append(AllowedHost.parse(entry))
            elif (rule := _parse_or_skip(template.render(lookup))) is not None:
                parsed.append(rule)
        return cls(tuple(_expand_chaining(parsed, list(component_ids))))

    def allows(self, url: str, scheme: str) -> bool:
        """Whether a call to `url` may go out; `scheme` is the one to assume when it has none
        ("redis" for outbound Redis, "https" for HTTP). A URL that cannot be parsed is denied."""
        try:
            parsed = outbound_url(url, scheme)
        except UrlError:
            return False
        return self.allows_url(parsed)

    def allows_url(self, url: Url) -> bool:
        return any(rule.allows(url) for rule in self.entries)

    def allows_relative(self, schemes: Iterable[str]) -> bool:
        wanted = list(schemes)
        return any(rule.allows_relative(wanted) for rule in self.entries)


def validate(entries: Iterable[str], defaults: Mapping[str, str | None]) -> None:
    """What Spin checks when it loads an app (OutboundHostError if it would refuse it).

    Literal entries must parse. A templated entry is checked only when the
    defaults of its variables resolve it: otherwise its value is known only
    when the app runs.
    """
    for entry in _refuse_allow_all(list(entries)):
        template = _template(entry)
        if template.is_literal:
            AllowedHost.parse(entry)
            continue
        if any(defaults.get(name) is None for name in template.references):
            continue
        resolved = template.render(lambda name: defaults[name] or "")
        try:
            _parse_or_skip(resolved)
        except OutboundHostError as exc:
            raise OutboundHostError(
                f"with the default values of its variables it is {resolved!r}: {exc}"
            ) from None


def from_http_hosts(entries: Iterable[str]) -> list[str]:
    """The legacy `allowed_http_hosts` as `allowed_outbound_hosts` entries, as Spin has them."""
    hosts = list(entries)
    if "insecure:allow-all" in hosts:
        return ["http://*:*", "https://*:*", "http://self"]
    out: list[str] = []
    problems: list[str] = []
    for text in hosts:
        try:
            host, port = _http_host(text)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if host == "self":
            out.append("http://self")
        else:
            suffix = f":{port}" if port is not None else ""
            out += [f"http://{host}{suffix}", f"https://{host}{suffix}"]
    if problems:
        raise OutboundHostError("invalid allowed_http_hosts entries: " + "; ".join(problems))
    return out


# --- parsing one entry ------------------------------------------------------------


def _refuse_allow_all(entries: list[str]) -> list[str]:
    if entries == ["insecure:allow-all"]:
        raise OutboundHostError(
            "'insecure:allow-all' is not allowed: write '*://*:*' to allow every address"
        )
    return entries


def _template(entry: str) -> Template:
    try:
        return Template.parse(entry)
    except TemplateError as exc:
        raise OutboundHostError(f"{entry!r}: {exc}") from None


def _parse_or_skip(resolved: str) -> AllowedHost | None:
    # A variable left empty switches an optional endpoint off.
    if resolved in ("", "http://", "https://"):
        return None
    return AllowedHost.parse(resolved)


def _split_port(rest: str, text: str) -> tuple[str, str]:
    host, colon, tail = rest.rpartition(":")
    if not colon:
        return rest, ""
    if tail == "":
        return host, ""
    if _is_host(rest):  # "[::1]" is all host; its last ":" starts no port
        return rest, ""
    port, slash, path = tail.partition("/")
    if slash and path:
        raise OutboundHostError(f"{text!r} has a path: an outbound host takes none")
    return host, port


def _is_host(text: str) -> bool:
    try:
        _parse_host_rule(text)
    except OutboundHostError:
        return False
    return True


def _parse_scheme(scheme: str) -> str | None:
    if scheme == "*":
        return None
    if scheme.startswith("{"):
        raise OutboundHostError(f"scheme {scheme!r}: lists of schemes are not supported")
    if not all(c.isalpha() for c in scheme):
        raise OutboundHostError(f"scheme {scheme!r}: a scheme is letters only, or '*'")
    return scheme


def _parse_ports(port: str, scheme: str) -> tuple[range, ...] | None:
    if port == "":
        default = WELL_KNOWN_PORTS.get(scheme)
        if default is None:
            raise OutboundHostError(
                f"scheme {scheme!r} has no well-known port: give one (e.g. ':6380') or ':*'"
            )
        return (range(default, default + 1),)
    if port == "*":
        return None
    if port.startswith("{"):
        raise OutboundHostError(f"port {port!r}: lists of ports are not supported")
    start, dots, end = port.partition("..")
    if dots:
        return (range(_port_number(start, port), _port_number(end, port)),)
    number = _port_number(port, port)
    return (range(number, number + 1),)


def _port_number(text: str, port: str) -> int:
    if not _NUMBER.fullmatch(text) or int(text) > 65535:
        raise OutboundHostError(f"port {port!r}: {text!r} is not a port number")
    return int(text)


def _parse_host_rule(host: str) -> HostRule:
    host = host.strip()
    if host == "*":
        return AnyHost()
    if host in ("self", "self.alt"):
        return SelfHost()
    if host.startswith("{"):
        raise OutboundHostError(f"host {host!r}: lists of hosts are not supported")
    if (network := _cidr(host)) is not None:
        return Cidr(network)
    host = host.removesuffix("/")
    if "/" in host:
        raise OutboundHostError(f"host {host!r}: an outbound host takes no path")
    if host.startswith("*."):
        domain = host[2:]
        if "*" in domain:
            raise OutboundHostError(f"host {host!r}: '*' may only be a whole first label")
        try:
            parsed = parse_host(domain)
        except HostError as exc:
            raise OutboundHostError(f"host {host!r}: {exc}") from None
        if not isinstance(parsed, Domain):
            raise OutboundHostError(f"host {host!r}: '*.' must be followed by a domain name")
        return Subdomains("." + parsed.name)
    if "*" in host:
        raise OutboundHostError(f"host {host!r}: '*' may only be a whole first label ('*.')")
    try:
        return LiteralHost(parse_host(host))
    except HostError as exc:
        raise OutboundHostError(f"host {host!r}: {exc}") from None


def _cidr(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    # As Spin's ip_network crate: "<address>/<bits>", host bits cleared.
    address, slash, bits = text.partition("/")
    if not slash or not address or not bits or not _NUMBER.fullmatch(bits) or int(bits) > 255:
        return None
    if "%" in address or address.startswith("["):
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if int(bits) > ip.max_prefixlen:
        return None
    return ipaddress.ip_network(f"{ip}/{int(bits)}", strict=False)


def _expand_chaining(rules: list[AllowedHost], component_ids: list[str]) -> list[AllowedHost]:
    out: list[AllowedHost] = []
    for rule in rules:
        if rule.host == Subdomains(SERVICE_CHAINING_SUFFIX):
            for cid in component_ids:
                literal = LiteralHost(Domain(cid + SERVICE_CHAINING_SUFFIX))
                out.append(AllowedHost(rule.original, rule.scheme, literal, rule.ports))
        else:
            out.append(rule)
    return out


# --- matching -------------------------------------------------------------------


def _host_allows(rule: HostRule, text: str) -> bool:
    if isinstance(rule, AnyHost):
        return True
    if isinstance(rule, SelfHost):
        return False  # only relative requests are "self" (allows_relative)
    try:
        host = parse_host(text)
    except HostError:
        return False
    if isinstance(rule, Subdomains):
        return isinstance(host, Domain) and host.name.endswith(rule.suffix)
    if isinstance(rule, LiteralHost):
        return host == rule.host
    if isinstance(host, Domain):
        return False  # a CIDR never matches a name, whatever it resolves to
    return host in rule.network


def _http_host(text: str) -> tuple[str, int | None]:
    # Spin's allowed_http_hosts: "host", "host:port", or an http(s) URL without a path.
    try:
        url = parse_url(text if "//" in text else f"http://{text}")
    except UrlError:
        raise ValueError(f"{text!r} is not a host or host:port") from None
    if "//" in text and url.scheme not in ("http", "https"):
        raise ValueError(f"{text!r} is not an http(s) host")
    if not url.host:
        raise ValueError(f"{text!r} has no host")
    if len(url.path) > 1:
        raise ValueError(f"{text!r} has a path: give the host and port only")
    return host_text(parse_host(url.host)), url.port


__all__ = [
    "AllowedHost",
    "AllowedHosts",
    "OutboundHostError",
    "VariableError",
    "WELL_KNOWN_PORTS",
    "component_hosts",
    "from_http_hosts",
    "validate",
]


def component_hosts(outbound: Iterable[str], http_hosts: Iterable[str]) -> list[str]:
    """A component's whole allow-list: its entries, then its legacy `allowed_http_hosts`."""
    return [*outbound, *from_http_hosts(http_hosts)]
