"""Where an outbound HTTP request may go: the decisions, without wasm or sockets."""

from __future__ import annotations

import logging

import pytest

from runtime.outbound.http_policy import MAX_CHAIN_DEPTH, HttpPolicy, Target

COMPONENTS = ["api", "users"]


def policy(*entries: str, **variables: str) -> HttpPolicy:
    def lookup(name: str) -> str:
        return variables[name]

    return HttpPolicy.for_component(
        "api",
        list(entries),
        lookup,
        COMPONENTS,
        origins={"origin.example.com": "us-east"},
        round_trip=lambda region: {"us-east": 0.2}[region],
    )


def target(authority: str | None, scheme: str | None = "http", path: str = "/") -> Target:
    return Target("GET", scheme, authority, path)


def test_network_allowed_and_denied() -> None:
    rules = policy("https://api.example.com", "http://localhost:3000..3002")
    assert rules.decide(target("api.example.com", "https")).route == "network"
    assert rules.decide(target("api.example.com:443", "https")).route == "network"
    assert rules.decide(target("localhost:3001")).route == "network"
    for denied in [target("api.example.com"), target("localhost:3002"), target("other.com")]:
        decision = rules.decide(denied)
        assert (decision.route, decision.error) == ("refuse", "HTTP-request-denied")


def test_no_scheme_is_https() -> None:
    # wasmtime sends a request without a scheme as https.
    assert policy("https://a.com").decide(target("a.com", None)).route == "network"
    assert policy("http://a.com").decide(target("a.com", None)).route == "refuse"


def test_empty_list_denies_all() -> None:
    rules = policy()
    assert rules.decide(target("a.com")).route == "refuse"
    assert rules.decide(target(None)).route == "refuse"


def test_self_requests() -> None:
    for rule in ["http://self", "https://self", "*://self:*", "http://*:*", "*://*:*"]:
        decision = policy(rule).decide(target(None, None, "/x"))
        assert (decision.route, decision.component) == ("self", None), rule
        assert policy(rule).decide(target("self.alt")).route == "self", rule
    # A host named "self" is not a self request (as Spin reads it).
    assert policy("http://self").decide(target("self")).route == "refuse"
    assert policy("redis://self").decide(target(None)).route == "refuse"


def test_service_chaining() -> None:
    rules = policy("http://*.spin.internal")
    decision = rules.decide(target("users.spin.internal"))
    assert (decision.route, decision.component) == ("chain", "users")
    assert rules.decide(target("nope.spin.internal")).error == "HTTP-request-denied"
    # Allowed by a wildcard host, yet no such component.
    assert policy("*://*:*").decide(target("nope.spin.internal")).error == ("destination-not-found")
    assert policy("http://users.spin.internal").decide(target("api.spin.internal")).route == (
        "refuse"
    )


def test_loops_are_refused_at_the_depth_limit() -> None:
    rules = policy("http://self")
    assert rules.decide(target(None), depth=MAX_CHAIN_DEPTH - 1).route == "self"
    assert rules.decide(target(None), depth=MAX_CHAIN_DEPTH).error == "loop-detected"


def test_templates_resolve_on_first_use() -> None:
    rules = policy("https://{{ host }}", "{{ optional }}", host="a.com", optional="")
    assert rules.decide(target("a.com", "https")).route == "network"
    assert rules.decide(target("b.com", "https")).route == "refuse"


def test_an_unresolvable_template_is_a_configuration_error() -> None:
    decision = policy("https://{{ missing }}").decide(target("a.com", "https"))
    assert (decision.route, decision.error) == ("refuse", "configuration-error")


def test_origins_pay_their_round_trip() -> None:
    rules = policy("*://*:*")
    assert rules.decide(target("origin.example.com")).delay == pytest.approx(0.2)
    assert rules.decide(target("ORIGIN.example.com:8080")).delay == pytest.approx(0.2)
    assert rules.decide(target("elsewhere.example.com")).delay == 0


def test_refusals_are_logged_without_the_path(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="edge.http"):
        policy().decide(target("a.com", "https", "/x?token=secret"))
    assert "https://a.com" in caplog.text
    assert "secret" not in caplog.text
