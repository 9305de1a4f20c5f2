"""Outbound HTTP end to end: the httpprobe component in wasmtime, a real loopback upstream.

The allow-list comes from the app's variables (allow_a, allow_b, allow_c), so
each test sets the rules it checks. A denied request must never reach the
upstream: the tests count the connections it accepted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime.regions.network import Network
from runtime.testing import Emulator

from .edgeup import EdgeUp
from .upstream import Upstream, pattern, sha256

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


Probe = Callable[..., Emulator]


@pytest.fixture
def probe(emulate: Callable[..., Emulator]) -> Probe:
    def make(*rules: str, regions: list[str] | None = None, **options: Any) -> Emulator:
        env = {f"SPIN_VARIABLE_ALLOW_{k}": rule for k, rule in zip("ABC", rules, strict=False)}
        return emulate("httpprobe", regions=regions or ["us-east"], env=env, **options)

    return make


def fetch(edge: Emulator, region: str = "us-east", path: str = "/fetch", **spec: Any) -> Any:
    response = edge.client(region).post(path, json=spec)
    assert response.status_code == 200, response.text
    return response.json()


# --- requests and responses ----------------------------------------------------------


def test_get_returns_status_headers_and_body(probe: Probe, upstream: Upstream) -> None:
    edge = probe(upstream.origin)
    got = fetch(edge, url=upstream.url("/json?q=1"))
    assert got["status"] == 200
    assert got["headers"]["x-upstream"] == "yes"
    assert got["headers"]["content-type"] == "application/json"
    assert got["text"] == '{"hello": "world", "n": 1}'
    assert [(r.method, r.path) for r in upstream.requests] == [("GET", "/json?q=1")]


def test_post_sends_method_headers_and_body(probe: Probe, upstream: Upstream) -> None:
    edge = probe(upstream.origin)
    got = fetch(
        edge, url=upstream.url("/echo"), method="PUT", headers={"x-token": "t1"}, body="héllo"
    )
    assert got["status"] == 200
    assert got["text"] == "héllo"
    assert got["headers"]["x-seen-method"] == "PUT"
    assert got["headers"]["x-seen-x-token"] == "t1"
    (seen,) = upstream.requests
    assert seen.method == "PUT"
    assert seen.body == "héllo".encode()
    assert seen.headers["x-token"] == "t1"
    assert seen.headers["content-length"] == str(len("héllo".encode()))
    assert seen.headers["host"] == f"127.0.0.1:{upstream.port}"


def test_five_mib_each_way(probe: Probe, upstream: Upstream) -> None:
    edge = probe(upstream.origin)
    sent = fetch(edge, url=upstream.url("/echo"), method="POST", send_bytes=5 * MiB)
    assert sent["status"] == 200
    (seen,) = upstream.requests
    assert len(seen.body) == 5 * MiB and sha256(seen.body) == sha256(pattern(5 * MiB))
    assert sent["size"] == 5 * MiB and sent["sha256"] == sha256(pattern(5 * MiB))
    got = fetch(edge, url=upstream.url(f"/bytes/{5 * MiB}"))
    assert got["size"] == 5 * MiB and got["sha256"] == sha256(pattern(5 * MiB))


def test_response_over_the_limit_is_refused_not_cut(probe: Probe, upstream: Upstream) -> None:
    edge = probe(upstream.origin)
    got = fetch(edge, url=upstream.url("/bytes/5000"), max_response_bytes=4096)
    assert got["error"]["code"] == "HTTP-response-body-size"
    assert "longer than 4096 bytes" in got["error"]["message"]


def test_error_statuses_are_responses(probe: Probe, upstream: Upstream) -> None:
    edge = probe(upstream.origin)
    assert fetch(edge, url=upstream.url("/status/503"))["status"] == 503
    assert fetch(edge, url=upstream.url("/status/404"))["status"] == 404


# --- the allow-list -------------------------------------------------------------------


def _rules(port: int) -> list[tuple[str, str, bool]]:
    """(rule, URL, allowed) for each form of rule Spin reads."""
    here = f"127.0.0.1:{port}"
    return [
        (f"http://{here}", f"http://{here}/json", True),
        (f"https://{here}", f"http://{here}/json", False),  # scheme
        (f"http://{here}", f"http://localhost:{port}/json", False),  # another host
        (f"http://localhost:{port}", f"http://localhost:{port}/json", True),
        ("http://127.0.0.1", f"http://{here}/json", False),  # default port 80
        ("http://127.0.0.1:*", f"http://{here}/json", True),
        (f"*://{here}", f"http://{here}/json", True),
        (f"http://*:{port}", f"http://{here}/json", True),
        ("*://*:*", f"http://{here}/json", True),
        (f"http://127.0.0.0/8:{port}", f"http://{here}/json", True),  # CIDR
        (f"http://10.0.0.0/8:{port}", f"http://{here}/json", False),
        (f"http://127.0.0.0/8:{port}", f"http://localhost:{port}/json", False),  # names never
        (f"http://127.0.0.1:{port}..{port + 1}", f"http://{here}/json", True),  # range
        (f"http://127.0.0.1:{port - 5}..{port}", f"http://{here}/json", False),  # end excluded
        (f"http://*.localhost:{port}", f"http://localhost:{port}/json", False),  # apex excluded
        ("http://self", f"http://{here}/json", False),
    ]


@pytest.mark.parametrize("case", range(len(_rules(1000))))
def test_allow_list_rule_forms(probe: Probe, upstream: Upstream, case: int) -> None:
    rule, url, allowed = _rules(upstream.port)[case]
    edge = probe(rule)
    got = fetch(edge, url=url)
    if allowed:
        assert got.get("status") == 200, (rule, url, got)
        assert upstream.connections >= 1
    else:
        assert got["error"]["type"] == "HTTPRequestDenied", (rule, url, got)
        assert got["error"]["code"] == "HTTP-request-denied"
        assert upstream.connections == 0, "a denied request connected"


def test_no_list_denies_everything(probe: Probe, upstream: Upstream) -> None:
    edge = probe(upstream.origin)  # the rules of the probe; `locked` has none
    got = fetch(edge, path="/locked/fetch", url=upstream.url("/json"))
    assert got["error"]["code"] == "HTTP-request-denied"
    assert fetch(edge, path="/locked/fetch", url="/hello")["error"]["code"] == (
        "HTTP-request-denied"
    )
    assert upstream.connections == 0


def test_templates_resolve_and_empty_ones_drop(probe: Probe, upstream: Upstream) -> None:
    # allow_b and allow_c stay "" (their defaults): dropped, as Spin drops them.
    edge = probe(upstream.origin)
    assert fetch(edge, url=upstream.url("/json"))["status"] == 200
    assert fetch(edge, url=f"http://localhost:{upstream.port}/json")["error"]["code"] == (
        "HTTP-request-denied"
    )


def test_raw_wasi_http_call_is_filtered_by_the_host(probe: Probe, upstream: Upstream) -> None:
    """The host enforces the list, whatever client the guest uses."""
    edge = probe(upstream.origin)
    denied = fetch(edge, path="/raw", authority=f"localhost:{upstream.port}")
    assert denied == {"error": "ErrorCode_HttpRequestDenied"}
    assert upstream.connections == 0
    assert fetch(edge, path="/raw", authority=f"127.0.0.1:{upstream.port}") == {"status": 404}
    assert [r.path for r in upstream.requests] == ["/raw"]


# --- self requests and service chaining ------------------------------------------------


def test_self_request_is_routed_by_the_app(probe: Probe, upstream: Upstream) -> None:
    edge = probe("http://self")
    got = fetch(edge, url="/hello/there?x=1")
    assert got["status"] == 200
    inner = _inner(got)
    assert inner["component"] == "probe"
    assert inner["path"] == "/hello/there" and inner["query"] == {"x": "1"}
    assert inner["headers"]["spin-full-url"] == "http://self.alt/hello/there?x=1"
    # self.alt is a self request too; http://self/... is a host named "self" (denied).
    assert _inner(fetch(edge, url="http://self.alt/a"))["path"] == "/a"
    assert fetch(edge, url="http://self/a")["error"]["code"] == "HTTP-request-denied"


def test_self_request_ignores_the_host_header(probe: Probe, upstream: Upstream) -> None:
    """CVE-2024-32980: the inbound Host header must not choose where a self request goes."""
    edge = probe("http://self")
    response = edge.client("us-east").post(
        "/fetch",
        json={"url": "/hello"},
        headers={"host": f"127.0.0.1:{upstream.port}"},
    )
    assert _inner(response.json())["component"] == "probe"
    assert upstream.connections == 0


def test_self_request_needs_a_self_rule(probe: Probe, upstream: Upstream) -> None:
    edge = probe(upstream.origin)
    assert fetch(edge, url="/hello")["error"]["code"] == "HTTP-request-denied"


def test_service_chaining_runs_the_other_component(probe: Probe) -> None:
    edge = probe("http://*.spin.internal")
    got = fetch(edge, url="http://other.spin.internal/x/y?z=1", method="POST", body="abc")
    inner = _inner(got)
    assert inner["component"] == "other"
    assert inner["method"] == "POST"
    assert inner["path"] == "/x/y" and inner["query"] == {"z": "1"}
    assert inner["sha256"] == sha256(b"abc")
    # The wildcard stands for the app's components only.
    assert fetch(edge, url="http://nope.spin.internal/")["error"]["code"] == "HTTP-request-denied"


def test_service_chaining_by_exact_name(probe: Probe) -> None:
    edge = probe("http://other.spin.internal")
    assert _inner(fetch(edge, url="http://other.spin.internal/"))["component"] == "other"
    assert fetch(edge, url="http://probe.spin.internal/")["error"]["code"] == (
        "HTTP-request-denied"
    )


def test_chaining_to_an_unknown_component_under_allow_all(probe: Probe) -> None:
    edge = probe("*://*:*")
    assert fetch(edge, url="http://nope.spin.internal/")["error"]["code"] == (
        "destination-not-found"
    )


def test_a_request_loop_is_stopped(probe: Probe) -> None:
    edge = probe("http://self")
    response = edge.client("us-east").get("/loop")
    # Each level answers what the one below it said; the deepest was refused.
    assert response.json() == {"error": {"type": "OutboundHTTPError", "code": "loop-detected"}}


# --- failures: hung and broken upstreams ----------------------------------------------


def test_hung_upstream_is_cut_at_the_timeout(probe: Probe, upstream: Upstream) -> None:
    edge = probe(upstream.origin)
    started = time.monotonic()
    got = fetch(edge, url=upstream.url("/hang"), timeout=0.3)
    assert time.monotonic() - started < 3
    assert got["error"]["type"] == "HTTPTimeoutError"
    assert fetch(edge, url=upstream.url("/json"))["status"] == 200  # still serving


def test_hung_upstream_without_a_timeout_ends_before_the_deadline(
    probe: Probe, upstream: Upstream
) -> None:
    """The host bounds every request by what is left of the handler's time, so the
    guest gets the failure in time to answer, and no thread stays blocked."""
    edge = probe(upstream.origin, deadline_ms=1500)
    started = time.monotonic()
    got = fetch(edge, url=upstream.url("/hang"))
    elapsed = time.monotonic() - started
    assert 1.0 < elapsed < 3, elapsed
    assert got["error"]["type"] == "HTTPTimeoutError", got
    assert edge.host.engine.watchdog.stuck_calls() == 0
    assert fetch(edge, url=upstream.url("/json"))["status"] == 200


def test_trickling_upstream_is_cut_at_the_timeout(probe: Probe, upstream: Upstream) -> None:
    edge = probe(upstream.origin)
    got = fetch(edge, url=upstream.url("/trickle"), timeout=0.5)
    assert got["error"]["type"] == "HTTPTimeoutError"
    assert "reading the response body" in got["error"]["message"]


def test_reset_connection_is_an_error(probe: Probe, upstream: Upstream) -> None:
    edge = probe(upstream.origin)
    got = fetch(edge, url=upstream.url("/reset"))
    assert got["error"]["type"] == "OutboundHTTPError", got
    assert got["error"]["code"], got
    assert fetch(edge, url=upstream.url("/json"))["status"] == 200


def test_nothing_listening_is_connection_refused(probe: Probe, upstream: Upstream) -> None:
    port = upstream.port
    upstream.close()
    edge = probe(f"http://127.0.0.1:{port}")
    got = fetch(edge, url=f"http://127.0.0.1:{port}/json")
    assert got["error"]["code"] == "connection-refused", got


# --- regions --------------------------------------------------------------------------


def test_origin_in_a_region_costs_its_round_trip(probe: Probe, upstream: Upstream) -> None:
    edge = probe(upstream.origin, regions=["us-east", "ap-south"], origins={"127.0.0.1": "us-east"})
    far = 2 * edge.network.latency("ap-south", "us-east")
    assert far > 0
    before = edge.now()
    assert fetch(edge, region="us-east", url=upstream.url("/json"))["status"] == 200
    assert edge.now() == before  # same region: no latency
    assert fetch(edge, region="ap-south", url=upstream.url("/json"))["status"] == 200
    assert edge.now() == pytest.approx(before + far)


def test_each_outbound_request_is_in_the_event_log(probe: Probe, upstream: Upstream) -> None:
    edge = probe(
        upstream.origin,
        "http://self",
        "http://other.spin.internal",
        regions=["us-east", "ap-south"],
        origins={"127.0.0.1": "us-east"},
    )
    fetch(edge, url=upstream.url("/json?api_key=secret"))
    fetch(edge, region="ap-south", url=upstream.url("/json"))  # the origin is in us-east
    fetch(edge, url="/hello")
    fetch(edge, url="http://other.spin.internal/x")
    fetch(edge, url=f"http://localhost:{upstream.port}/json")
    seen = [
        {k: e.get(k) for k in ("region", "component", "method", "url", "route", "to", "error")}
        for e in edge.events("outbound.http")
    ]
    assert seen == [
        _sent("us-east", "GET", upstream.url("/json?…"), "network"),
        _sent("ap-south", "GET", upstream.url("/json"), "network"),
        _sent("us-east", "GET", "/hello", "self"),
        {**_sent("us-east", "GET", "http://other.spin.internal/x", "chain"), "to": "other"},
        {
            **_sent("us-east", "GET", f"http://localhost:{upstream.port}/json", "refuse"),
            "error": "HTTP-request-denied",
        },
    ]
    assert "secret" not in json.dumps(edge.events())  # a query may hold a key: never shown
    far = edge.events("outbound.http")[1]
    assert far["delay_ms"] == pytest.approx(2e3 * edge.network.latency("ap-south", "us-east"))


def _sent(region: str, method: str, url: str, route: str) -> dict[str, Any]:
    return {
        "region": region,
        "component": "probe",
        "method": method,
        "url": url,
        "route": route,
        "to": None,
        "error": None,
    }


# --- under edge up: real clock, worker processes -------------------------------------------


def test_edge_up_outbound_http(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp], upstream: Upstream
) -> None:
    env = {"SPIN_VARIABLE_ALLOW_A": upstream.origin, "SPIN_VARIABLE_ALLOW_B": "http://self"}
    server = EdgeUp(
        built["httpprobe"],
        tmp_path / "state",
        "--workers",
        "1",
        "--regions",
        "us-east,ap-south",
        "--origin",
        "127.0.0.1=us-east",
        "--deadline-ms",
        "1500",
        env=env,
    )
    launched.append(server)

    def call(region: str, **spec: Any) -> tuple[Any, float]:
        started = time.monotonic()
        answer = httpx.post(
            f"{server.url}/fetch", json=spec, headers={"x-edge-region": region}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        return answer.json(), time.monotonic() - started

    def faster_of_two(region: str) -> tuple[Any, float]:
        # A loaded machine delays some calls by more than the round trip.
        return min((call(region, url=upstream.url("/json")) for _ in range(2)), key=lambda c: c[1])

    near, near_s = faster_of_two("us-east")
    far, far_s = faster_of_two("ap-south")
    assert near["status"] == far["status"] == 200
    round_trip = 2 * Network(["us-east", "ap-south"]).latency("us-east", "ap-south")
    assert far_s - near_s > 0.8 * round_trip, (near_s, far_s, round_trip)
    # A self request goes to this process's own endpoint, whatever Host said.
    inner, _ = call("us-east", url="/hello")
    assert _inner(inner)["component"] == "probe"
    # A hung upstream: the guest gets its timeout before the deadline, the
    # worker keeps serving, and no worker is replaced.
    hung, hung_s = call("us-east", url=upstream.url("/hang"))
    assert hung["error"]["type"] == "HTTPTimeoutError" and hung_s < 3
    assert call("us-east", url=upstream.url("/json"))[0]["status"] == 200
    assert "replacing" not in server.output().lower()


def _inner(got: dict[str, Any]) -> Any:
    """The JSON a self or chained request answered, from the probe's report."""
    assert got.get("status") == 200, got
    return json.loads(got["text"])
