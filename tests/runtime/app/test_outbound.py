"""`allowed_outbound_hosts` as Spin reads and applies it (rules, URLs, templates, load errors).

The tables follow Spin's outbound-networking-config crate and its tests:
which entries parse, which URLs each lets through, and what Spin refuses
when it loads an app.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.app.outbound import (
    AllowedHost,
    AllowedHosts,
    OutboundHostError,
    component_hosts,
    from_http_hosts,
    validate,
)
from runtime.app.variables import UndefinedVariable

from .manifest_helpers import GOOD, assert_bad_manifest, write

VARIABLES = {"api_host": "api.example.com", "empty": "", "port": "6380", "bad": "example.com"}


def _lookup(name: str) -> str:
    if name not in VARIABLES:
        raise UndefinedVariable(name)
    return VARIABLES[name]


def allows(rules: list[str], url: str, scheme: str = "https") -> bool:
    return AllowedHosts.resolve(rules, _lookup, ["users", "cart"]).allows(url, scheme)


# (rules, url, scheme assumed when the URL has none, allowed?)
MATCHES = [
    # exact host, the scheme's well-known port
    (["https://api.example.com"], "https://api.example.com/x", "https", True),
    (["https://api.example.com"], "https://api.example.com:443/", "https", True),
    (["https://api.example.com"], "https://API.Example.COM/", "https", True),
    (["https://api.example.com"], "http://api.example.com/", "https", False),
    (["https://api.example.com"], "https://api.example.com:8443/", "https", False),
    (["https://api.example.com"], "https://v2.api.example.com/", "https", False),
    (["https://api.example.com"], "https://api.example.com.evil.test/", "https", False),
    (["https://api.example.com/"], "https://api.example.com/", "https", True),
    (["https://api.example.com:443/"], "https://api.example.com/", "https", True),
    # subdomain wildcards: any depth, never the apex
    (["http://*.example.com"], "http://a.example.com/", "https", True),
    (["http://*.example.com"], "http://a.b.example.com/", "https", True),
    (["http://*.example.com"], "http://example.com/", "https", False),
    (["http://*.example.com"], "http://myexample.com/", "https", False),
    (["http://*.example.com"], "http://a.example.com:8080/", "https", False),
    # any scheme, any port, port ranges (the end is excluded)
    (["*://example.com:8080"], "http://example.com:8080", "https", True),
    (["*://example.com:8080"], "https://example.com:8080", "https", True),
    (["*://example.com:8080"], "redis://example.com:8080", "redis", True),
    (["*://example.com:8080"], "http://example.com", "https", False),
    (["http://example.com:*"], "http://example.com:1", "https", True),
    (["http://localhost:3000..3010"], "http://localhost:3000", "https", True),
    (["http://localhost:3000..3010"], "http://localhost:3009", "https", True),
    (["http://localhost:3000..3010"], "http://localhost:3010", "https", False),
    (["http://localhost:3000..3010"], "http://localhost:2999", "https", False),
    (["tcp://localhost:*"], "tcp://localhost", "tcp", True),
    (["tcp://localhost:5000"], "tcp://localhost", "tcp", False),  # tcp has no default port
    # CIDR: IP literals only
    (["*://10.0.0.0/8:*"], "http://10.1.2.3:5000", "https", True),
    (["*://10.0.0.0/8:*"], "redis://10.9.9.9", "redis", True),
    (["*://10.0.0.0/8:*"], "http://11.0.0.1", "https", False),
    (["*://10.0.0.0/8:*"], "http://db.internal", "https", False),
    (["http://127.0.0.1/24"], "http://127.0.0.200", "https", True),  # host bits dropped
    (["http://ff00::/8"], "http://[ff01::1]", "https", True),
    (["http://ff00::/8"], "http://127.0.0.1", "https", False),
    # IP literals, in any of the forms the URL standard reads as one
    (["http://[::1]:8001"], "http://[::1]:8001/", "https", True),
    (["http://[::1]:8001"], "http://[0:0::1]:8001/", "https", True),
    (["http://[::1]"], "http://[::1]/", "https", True),
    (["redis://127.0.0.1"], "redis://127.0.0.1", "redis", True),
    (["redis://127.0.0.1"], "redis://0x7f.1", "redis", True),
    (["redis://127.0.0.1"], "redis://2130706433", "redis", True),
    (["redis://127.0.0.1"], "redis://0177.0.0.1", "redis", True),
    (["http://127.0.0.1"], "http://0x7f000001/", "https", True),
    (["http://localhost"], "http://127.0.0.1/", "https", False),  # no DNS
    # Redis addresses: the default port, paths, user info, a missing scheme
    (["redis://cache.local"], "redis://cache.local", "redis", True),
    (["redis://cache.local"], "redis://cache.local:6379/0", "redis", True),
    (["redis://cache.local"], "redis://u:p@cache.local", "redis", True),
    (["redis://cache.local"], "redis://u:p#w@cache.local", "redis", True),
    # a "/" before the "@" ends the authority first, as in Spin: the host is then "u"
    (["redis://cache.local"], "redis://u:p/w@cache.local", "redis", False),
    (["redis://cache.local"], "cache.local:6379", "redis", True),
    (["redis://cache.local"], "redis://cache.local:6380", "redis", False),
    (["redis://cache.local"], "rediss://cache.local:6379", "redis", False),
    (["redis://cache.local"], "redis://evil.test/@cache.local", "redis", False),
    (["rediss://cache.local:6380"], "rediss://cache.local:6380", "redis", True),
    # templates: resolved from the app's variables; an empty value drops the entry
    (["https://{{ api_host }}"], "https://api.example.com/", "https", True),
    (["https://{{ api_host }}"], "https://other.example.com/", "https", False),
    (["https://{{ empty }}"], "https://api.example.com/", "https", False),
    (["{{ empty }}"], "https://api.example.com/", "https", False),
    (["redis://localhost:{{ port }}"], "redis://localhost:6380", "redis", True),
    # self and service chaining
    (["http://self"], "http://self/api", "https", False),
    (["http://*.spin.internal"], "http://users.spin.internal/x", "https", True),
    (["http://*.spin.internal"], "http://cart.spin.internal:1234/x", "https", False),
    (["http://*.spin.internal:*"], "http://cart.spin.internal:1234/x", "https", True),
    (["http://*.spin.internal"], "http://nope.spin.internal/", "https", False),
    (["http://users.spin.internal"], "http://users.spin.internal/", "https", True),
    # everything, nothing, and URLs that do not parse
    (["*://*:*"], "tcp://1.2.3.4:5", "tcp", True),
    (["*://*:*"], "redis://anything.test", "redis", True),
    ([], "https://api.example.com/", "https", False),
    (["*://*:*"], "[::1", "https", False),
    (["*://*:*"], "h:99999", "https", False),
    # Spin retries with the scheme in front, so this is checked as host "http"
    (["*://*:*"], "http://h:99999/", "https", True),
    (["https://h"], "http://h:99999/", "https", False),
    (["*://*:*"], "", "https", False),
]


@pytest.mark.parametrize(("rules", "url", "scheme", "allowed"), MATCHES)
def test_allows_as_spin(rules: list[str], url: str, scheme: str, allowed: bool) -> None:
    assert allows(rules, url, scheme) is allowed


SELF = [
    (["http://self"], ["http"], True),
    (["https://self.alt"], ["https"], True),
    (["http://self"], ["https"], False),
    (["*://*:*"], ["http"], True),
    (["http://*:*"], ["http", "https"], True),
    (["http://localhost:3000"], ["http"], False),
    ([], ["http"], False),
]


@pytest.mark.parametrize(("rules", "schemes", "allowed"), SELF)
def test_relative_requests(rules: list[str], schemes: list[str], allowed: bool) -> None:
    assert AllowedHosts.resolve(rules, _lookup).allows_relative(schemes) is allowed


REFUSED = [
    ("example.com", "has no scheme"),
    ("example.com:80", "has no scheme"),
    ("*", "is not an outbound host"),
    ("", "is not an outbound host"),
    ("*://example.com", "no well-known port"),
    ("tcp://h", "no well-known port"),
    ("rediss://h", "no well-known port"),
    ("*://10.0.0.0/8", "no well-known port"),
    ("http://h/path", "takes no path"),
    ("http://h:80/path", "has a path"),
    ("http://ex*.com", "'*' may only be a whole first label"),
    ("http://*.*.com", "'*' may only be a whole first label"),
    ("http://*.10.0.0.1", "must be followed by a domain name"),
    ("https://{a,b}.com", "lists of hosts"),
    ("{http,https}://a.com:80", "lists of schemes"),
    ("{http,https}://a.com", "no well-known port"),  # Spin reads the port first
    ("h2c://a.com:80", "letters only"),
    ("http://a.com:{80,81}", "lists of ports"),
    ("http://a.com:eighty", "not a port number"),
    ("http://a.com:70000", "not a port number"),
    ("http://a.com:1..x", "not a port number"),
    ("http://a b.com", "cannot contain"),
    ("http://[::1", "closing ']'"),
    ("http://300.1.1.1", "over 255"),
]


@pytest.mark.parametrize(("entry", "fragment"), REFUSED)
def test_refused_entries(entry: str, fragment: str) -> None:
    with pytest.raises(OutboundHostError, match=None) as info:
        AllowedHost.parse(entry)
    assert fragment in str(info.value)


def test_insecure_allow_all_is_refused() -> None:
    with pytest.raises(OutboundHostError, match=r"\*://\*:\*"):
        validate(["insecure:allow-all"], {})


def test_templates_are_checked_at_load_only_with_defaults() -> None:
    validate(["https://{{ host }}"], {"host": None})  # no default: checked when it runs
    validate(["https://{{ host }}"], {"host": "api.example.com"})
    validate(["{{ host }}"], {"host": ""})  # empty: the entry is dropped
    with pytest.raises(OutboundHostError, match="with the default values"):
        validate(["{{ host }}"], {"host": "example.com"})


def test_a_template_that_resolves_to_nonsense_fails_when_resolved() -> None:
    with pytest.raises(OutboundHostError, match="has no scheme"):
        AllowedHosts.resolve(["{{ bad }}"], _lookup)


def test_a_template_without_a_value_fails_when_resolved() -> None:
    with pytest.raises(UndefinedVariable):
        AllowedHosts.resolve(["https://{{ missing }}"], _lookup)


def test_entries_are_trimmed() -> None:
    assert allows(["  https://api.example.com  "], "https://api.example.com/")


HTTP_HOSTS = [
    (["spin.fermyon.dev"], ["http://spin.fermyon.dev", "https://spin.fermyon.dev"]),
    (["spin.fermyon.dev:4444"], ["http://spin.fermyon.dev:4444", "https://spin.fermyon.dev:4444"]),
    (
        ["https://spin.fermyon.dev:5555/"],
        ["http://spin.fermyon.dev:5555", "https://spin.fermyon.dev:5555"],
    ),
    (["http://localhost:80"], ["http://localhost", "https://localhost"]),
    (["self"], ["http://self"]),
    (["insecure:allow-all", "a.test"], ["http://*:*", "https://*:*", "http://self"]),
    ([], []),
]


@pytest.mark.parametrize(("legacy", "converted"), HTTP_HOSTS)
def test_allowed_http_hosts_are_converted(legacy: list[str], converted: list[str]) -> None:
    assert from_http_hosts(legacy) == converted
    assert component_hosts(["redis://r"], legacy) == ["redis://r", *converted]


@pytest.mark.parametrize("legacy", ["http://a.test/path", "ftp://a.test", "a.test:x"])
def test_bad_allowed_http_hosts(legacy: str) -> None:
    with pytest.raises(OutboundHostError):
        from_http_hosts([legacy])


# --- at manifest load ------------------------------------------------------------------

BAD_MANIFESTS = [
    ('allowed_outbound_hosts = ["example.com"]\n', "[0]", "has no scheme"),
    ('allowed_outbound_hosts = ["https://a.test", "tcp://h"]\n', "[1]", "no well-known port"),
    ('allowed_outbound_hosts = ["insecure:allow-all"]\n', "", "'*://*:*'"),
]


@pytest.mark.parametrize(("line", "index", "fragment"), BAD_MANIFESTS)
def test_manifest_refuses_what_spin_refuses(
    tmp_path: Path, line: str, index: str, fragment: str
) -> None:
    key = "component.web.allowed_outbound_hosts" + index
    assert_bad_manifest(tmp_path, GOOD + line, key, fragment)


def test_manifest_checks_templates_with_defaults(tmp_path: Path) -> None:
    head, rest = GOOD.split("\n[[trigger.http]]", 1)
    text = head + '\n[variables]\nhost = { default = "nope" }\n\n[[trigger.http]]' + rest
    assert_bad_manifest(
        tmp_path,
        text + 'allowed_outbound_hosts = ["{{ host }}"]\n',
        "component.web.allowed_outbound_hosts[0]",
        "with the default values",
    )


def test_manifest_refuses_bad_http_hosts(tmp_path: Path) -> None:
    assert_bad_manifest(
        tmp_path,
        GOOD + 'allowed_http_hosts = ["http://a.test/x"]\n',
        "component.web.allowed_http_hosts",
        "has a path",
    )


def test_manifest_keeps_valid_entries(tmp_path: Path) -> None:
    from runtime.app.manifest import load

    line = 'allowed_outbound_hosts = ["redis://127.0.0.1:*", "https://*.example.com"]\n'
    spec = load(write(tmp_path, GOOD + line)).components["web"]
    assert spec.allowed_outbound_hosts == ("redis://127.0.0.1:*", "https://*.example.com")
