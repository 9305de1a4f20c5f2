"""The regions explorer (/_edge/ui) in a real headless Chromium, on a real `edge up`.

The users example (SQL users, key-value preferences) in three regions: the page
shows the regions, partitions and sets lag through the admin API, marks a key
that differs between regions until replication delivers it, and shows a stale
read on a lagging replica. It saves docs/explorer.png (the README shows it).
Pages of another origin, and requests with another Host, are refused.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..runtime.outbound.conftest import needs_redis_server
from .chromium import chromium_context
from .edgeup import ROOT, EdgeUp, wait_for

pytestmark = pytest.mark.e2e

REGIONS = ["us-east", "eu-west", "ap-south"]
LAG = 5.0  # long enough for the page to see what has not arrived yet
SCREENSHOT = ROOT / "docs" / "explorer.png"


@pytest.fixture(scope="module")
def edge(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeUp]:
    server = EdgeUp(built["users"], tmp_path_factory.mktemp("explorer") / "state")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium_context(viewport={"width": 1400, "height": 1000}) as context:
        yield context


@pytest.fixture
def http(edge: EdgeUp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=edge.url, timeout=10) as client:
        yield client


def _replication(http: httpx.Client) -> dict[str, Any]:
    answer = http.get("/_edge/replication")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _cut(http: httpx.Client) -> set[str]:
    links = _replication(http)["links"]
    return {"|".join(link["regions"]) for link in links if link["partitioned"]}


def _replicas_current(http: httpx.Client) -> bool:
    return all(r["current"] for db in _replication(http)["sql"] for r in db["regions"])


def _query(page: Any, region: str, sql: str) -> None:
    page.select_option("#sql-region", region)
    page.fill("#sql-text", sql)
    page.click("#sql-run")


def test_the_explorer_shows_and_changes_the_regions(
    edge: EdgeUp, http: httpx.Client, browser: Any
) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://localhost:{edge.port}/_edge/ui")
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    # With the event log the page follows GET /_edge/events; without, it polls.
    live = http.get("/_edge/events/recent").status_code == 200
    expect(page.locator("#feed-status")).to_have_attribute(
        "data-state", "live" if live else "polling"
    )

    # Three regions on the map, joined by three links.
    nodes = page.locator("#map g.node")
    expect(nodes).to_have_count(3)
    assert sorted(nodes.evaluate_all("ns => ns.map(n => n.dataset.region)")) == sorted(REGIONS)
    expect(page.locator("#map line.link")).to_have_count(3)

    assert http.post("/users", json={"name": "Ada", "email": "ada@example.org"}).status_code == 201
    wait_for(lambda: _replicas_current(http), timeout=15, what="the first user everywhere")

    # Lag on us-east's links, set from the page (a same-origin POST with Origin).
    page.select_option("#net-region", "us-east")
    page.select_option("#net-other", "")
    page.fill("#net-lag", f"{LAG:g}s")
    page.click("#btn-lag")
    wait_for(
        lambda: all(
            link["lag_ms"] == LAG * 1000
            for link in _replication(http)["links"]
            if "us-east" in link["regions"]
        ),
        what="the lag set from the page",
    )
    expect(page.locator("#net-message")).to_contain_text("lag")

    # A key written in us-east differs in the page until the lag has passed.
    written = time.monotonic()
    assert http.put("/users/1/preferences", json={"theme": "dark"}).status_code == 200
    row = page.locator('#kv-table tr[data-key="prefs:1"]')
    expect(row).to_have_attribute("data-differs", "true", timeout=(LAG - 1.5) * 1000)
    assert time.monotonic() - written < LAG  # seen while it was still on its way
    expect(page.locator('#kv-pending .outbox[data-from="us-east"]').first).to_contain_text(
        "prefs:1"
    )
    expect(row).to_have_attribute("data-differs", "false", timeout=(LAG + 8) * 1000)
    if live:
        # The feed has the write and its delivery to each region, newest first.
        applied = page.locator('#feed li[data-kind="kv.applied"]', has_text="prefs:1")
        expect(applied).to_have_count(2)
        expect(page.locator('#feed li[data-kind="request"]').first).to_contain_text(
            "PUT /users/1/preferences"
        )
    assert time.monotonic() - written >= LAG  # not before replication delivered it
    expect(page.locator("#kv-pending")).to_contain_text("every change has been delivered")

    # A stale read: the replica in eu-west has not seen the second user yet.
    grace = {"name": "Grace", "email": "grace@example.org"}
    assert http.post("/users", json=grace).status_code == 201
    _query(page, "eu-west", "SELECT count(*) AS n FROM users")
    result = page.locator("#sql-result table td").first
    expect(result).to_have_text("1", timeout=3000)
    expect(page.locator("#sql-result")).to_contain_text("from eu-west")
    _query(page, "us-east", "SELECT count(*) AS n FROM users")
    expect(result).to_have_text("2", timeout=3000)
    replica = page.locator('#sql-regions tr[data-region="eu-west"]')
    expect(replica).to_have_attribute("data-current", "false", timeout=3000)
    expect(replica).to_have_attribute("data-current", "true", timeout=(LAG + 8) * 1000)
    _query(page, "eu-west", "SELECT count(*) AS n FROM users")
    expect(result).to_have_text("2", timeout=3000)

    # The query box only reads, and says why it refuses; the server keeps serving.
    _query(page, "us-east", "DELETE FROM users")
    expect(page.locator("#sql-result .error")).to_contain_text("only reads")
    _query(page, "us-east", "SELEC 1")
    expect(page.locator("#sql-result .error")).to_contain_text("syntax error")
    assert len(http.get("/users").json()) == 2

    # Partition ap-south from the page: the admin API has it cut off.
    page.select_option("#net-region", "ap-south")
    page.select_option("#net-other", "")
    page.click("#btn-partition")
    wait_for(
        lambda: _cut(http) == {"ap-south|eu-west", "ap-south|us-east"},
        what="ap-south partitioned",
    )
    if live:
        expect(page.locator('#feed li[data-kind="network"]').first).to_contain_text(
            "partition ap-south"
        )
    expect(page.locator('#map line[data-link="ap-south|us-east"]')).to_have_attribute(
        "data-partitioned", "true"
    )
    expect(page.locator('#map g.node[data-region="ap-south"]')).to_have_class("node cut")

    # What cannot reach ap-south waits in the outboxes, marked as differing.
    linus = {"name": "Linus", "email": "linus@example.org"}
    assert http.post("/users", json=linus).status_code == 201
    prefs = {"theme": "light", "language": "en", "tz": "Europe/London"}
    assert http.put("/users/2/preferences", json=prefs).status_code == 200
    expect(page.locator('#kv-pending .outbox[data-to="ap-south"]').first).to_contain_text(
        "waits for heal", timeout=5000
    )
    second = page.locator('#kv-table tr[data-key="prefs:2"]')
    expect(second).to_have_attribute("data-differs", "true", timeout=5000)
    _query(page, "ap-south", "SELECT id, name, email FROM users ORDER BY id")
    expect(page.locator("#sql-result")).to_contain_text("2 rows from ap-south")
    users = page.locator("#sql-tables tr.differs")  # 3 users in us-east, 2 in ap-south
    expect(users).to_contain_text("users", timeout=5000)

    # A whole value, as JSON.
    page.click('#kv-table tr[data-key="prefs:1"] td.present button >> nth=1')
    expect(page.locator("#kv-value pre")).to_contain_text('"theme": "dark"')

    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.click("#btn-heal-all")
    wait_for(lambda: not _cut(http), what="every link healed")
    expect(second).to_have_attribute("data-differs", "false", timeout=(LAG + 8) * 1000)
    expect(users).to_have_count(0, timeout=(LAG + 8) * 1000)
    assert errors == []


def test_the_page_is_its_own_origin_under_a_region_name(edge: EdgeUp, browser: Any) -> None:
    """Opened as eu-west.localhost, the page's reads and POSTs (with that Origin) pass."""
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(f"http://eu-west.localhost:{edge.port}/_edge/ui")
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    expect(page.locator("#map g.node")).to_have_count(3)
    page.click("#btn-heal-all")
    expect(page.locator("#net-message")).to_have_text("healed every link")


def test_with_an_admin_token_the_page_asks_for_it_and_sends_it(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp], browser: Any
) -> None:
    from playwright.sync_api import expect

    secret = "explorer-test-token"
    edge = EdgeUp(built["users"], tmp_path / "state", env={"EDGE_ADMIN_TOKEN": secret})
    launched.append(edge)
    with httpx.Client(base_url=edge.url, timeout=10) as http:
        # The page's files hold no state and load without it; nothing else does.
        assert http.get("/_edge/ui").status_code == 200
        assert http.get("/_edge/ui/explorer.js").status_code == 200
        assert http.get("/_edge/kv/keys").status_code == 401
        assert http.get("/_edge/ui", headers={"origin": "http://evil.example"}).status_code == 403
        live = http.get("/_edge/events/recent", headers=edge.admin_headers).status_code == 200

    url = f"http://localhost:{edge.port}/_edge/ui"
    page = browser.new_page()
    page.goto(url)
    expect(page.locator("#token-form")).to_be_visible()
    page.fill("#token-input", "not the token")
    page.click("#token-form button")
    expect(page.locator("#token-form")).to_be_visible()  # refused, asked again
    page.fill("#token-input", secret)
    page.click("#token-form button")
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    expect(page.locator("#map g.node")).to_have_count(3)
    expect(page.locator("#feed-status")).to_have_attribute(
        "data-state", "live" if live else "polling"
    )
    page.select_option("#net-region", "eu-west")
    page.click("#btn-partition")
    expect(page.locator("#net-message")).to_have_text("partitioned eu-west")
    page.click("#btn-heal-all")
    expect(page.locator("#net-message")).to_have_text("healed every link")

    # Given in the URL's fragment (never sent to the server), then dropped from it.
    other = browser.new_page()
    other.goto(f"{url}#token={secret}")
    other.wait_for_selector("body[data-ready=true]", timeout=15_000)
    assert other.url == url
    expect(other.locator("#token-form")).to_be_hidden()
    if live:
        expect(other.locator("#feed li[data-kind='network']").first).to_contain_text("heal")


def test_the_triggers_panel_runs_a_cron_job_and_the_feed_shows_outbound_calls(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp], browser: Any
) -> None:
    """The jobs example: a cron job run from the page, a message published through
    outbound Redis and handled by the Redis trigger, all in the feed."""
    from playwright.sync_api import expect

    needs_redis_server()
    edge = EdgeUp(built["jobs"], tmp_path / "state", "--regions", "us-east,eu-west")
    launched.append(edge)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://localhost:{edge.port}/_edge/ui")
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    expect(page.locator("#feed-status")).to_have_attribute("data-state", "live")

    cron = page.locator('#triggers tr[data-trigger="cron"][data-region="eu-west"]')
    expect(cron).to_contain_text("never")
    cron.locator("button").click()
    expect(page.locator("#trigger-message")).to_have_text("jobs ran in eu-west")
    expect(cron.locator("td").nth(3)).to_have_text("1")
    expect(page.locator('#feed li[data-kind="trigger"]').first).to_contain_text(
        "cron jobs in eu-west ok"
    )
    # The page's run is eu-west's alone.
    expect(
        page.locator('#triggers tr[data-trigger="cron"][data-region="us-east"] td').nth(3)
    ).to_have_text("0")

    with httpx.Client(base_url=edge.url, timeout=10) as http:
        sent = http.post("/events", json={"type": "click"}, headers={"x-edge-region": "us-east"})
        assert sent.status_code == 202, sent.text
    call = page.locator('#feed li[data-kind="outbound.redis"]').first
    expect(call).to_contain_text("redis publish events")
    expect(call).to_contain_text("from jobs in us-east")
    expect(page.locator('#feed li[data-kind="trigger"]', has_text="redis jobs")).not_to_have_count(
        0
    )
    # Outbound calls have their own switch in the feed.
    page.uncheck("#feed-outbound")
    expect(call).to_be_hidden()
    page.check("#feed-outbound")
    expect(call).to_be_visible()
    assert errors == []


def _workers(edge: EdgeUp) -> set[int]:
    pid = edge.process.pid
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def test_the_feed_reconnects_and_misses_nothing(
    edge: EdgeUp, http: httpx.Client, browser: Any
) -> None:
    """Every worker killed: the page reconnects with Last-Event-ID and gets what it missed."""
    from playwright.sync_api import expect

    if http.get("/_edge/events/recent").status_code != 200:
        pytest.skip("this edge up has no event log (GET /_edge/events)")
    page = browser.new_page()
    page.goto(f"http://localhost:{edge.port}/_edge/ui")
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    status = page.locator("#feed-status")
    expect(status).to_have_attribute("data-state", "live")

    assert http.post("/_edge/lag", json={"lag": "1s"}).status_code == 200  # every link
    made = http.post("/users", json={"name": "Away", "email": f"away.{time.time()}@example.org"})
    assert made.status_code == 201
    key = f"prefs:{made.json()['id']}"
    assert http.put(f"/users/{made.json()['id']}/preferences", json={"a": 1}).status_code == 200
    # The replicator (in the supervisor) applies the change (after the lag of
    # 1 s) while no worker serves: a new worker takes longer to load.
    killed = time.time()
    for pid in _workers(edge):
        os.kill(pid, signal.SIGKILL)
    expect(status).not_to_have_attribute("data-state", "live", timeout=5000)
    expect(status).to_have_attribute("data-state", "live", timeout=60_000)
    back = time.time()
    applied = page.locator('#feed li[data-kind="kv.applied"]', has_text=key)
    expect(applied).to_have_count(2, timeout=10_000)
    log = http.get("/_edge/events/recent", params={"limit": 1000}).json()["events"]
    times = [e["at"] for e in log if e["kind"] == "kv.applied" and e["key"] == key]
    assert any(killed < at < back for at in times), (killed, times, back)
    ids = page.locator("#feed li").evaluate_all("ls => ls.map(l => Number(l.dataset.id))")
    assert len(ids) == len(set(ids)), "an event shown twice"
    assert ids == sorted(ids, reverse=True), "events out of order"


class _ForeignPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>another local server</title>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def foreign_origin() -> Iterator[str]:
    """Another web server on loopback: its pages are another origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ForeignPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_pages_of_another_origin_are_refused(
    edge: EdgeUp, http: httpx.Client, browser: Any, foreign_origin: str
) -> None:
    page = browser.new_page()
    page.goto(foreign_origin + "/")
    target = f"http://localhost:{edge.port}/_edge"
    # A POST a page may send without asking first (text/plain, no-cors), and a
    # JSON one (preflighted), both at the admin API of edge up.
    outcome = page.evaluate(
        """async (target) => {
            const simple = await fetch(target + "/partition", {
                method: "POST", mode: "no-cors", body: '{"region": "eu-west"}',
            }).then(() => "sent", (e) => "failed: " + e);
            const json = await fetch(target + "/partition", {
                method: "POST", headers: {"content-type": "application/json"},
                body: '{"region": "eu-west"}',
            }).then((r) => "answered " + r.status, (e) => "failed: " + e);
            const read = await fetch(target + "/kv/keys?store=default")
                .then((r) => "answered " + r.status, (e) => "failed: " + e);
            return {simple, json, read};
        }""",
        target,
    )
    # Refused with 403 by the guard, so the browser shows the page nothing.
    assert outcome["json"].startswith("failed"), outcome
    assert outcome["read"].startswith("failed"), outcome
    assert _cut(http) == set(), "a foreign page's request changed the network"

    # The same requests with headers a browser would send, seen by the server.
    foreign = {"origin": foreign_origin}
    for method, path in [
        ("GET", "/_edge/ui"),
        ("GET", "/_edge/kv/keys?store=default"),
        ("GET", "/_edge/sql/tables"),
        ("POST", "/_edge/partition"),
        ("POST", "/_edge/sql/query"),
    ]:
        body = {"region": "eu-west", "sql": "SELECT 1"} if method == "POST" else None
        answer = http.request(method, path, json=body, headers=foreign)
        assert answer.status_code == 403, (path, answer.text)
        rebound = http.request(method, path, json=body, headers={"host": "evil.example"})
        assert rebound.status_code == 403, (path, rebound.text)
    assert _cut(http) == set()


def test_the_page_is_served_with_its_headers(edge: EdgeUp, http: httpx.Client) -> None:
    page = http.get("/_edge/ui")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="ui/explorer.js">' in page.text
    script = http.get("/_edge/ui/explorer.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert http.get("/_edge/ui/../admin.py").status_code == 404
    assert http.get("/_edge/ui/nothing.js").status_code == 404


def test_bad_requests_get_clear_errors(edge: EdgeUp, http: httpx.Client) -> None:
    cases = [
        ("GET", "/_edge/kv/keys?store=nope", None, "unknown key-value store 'nope'"),
        ("GET", "/_edge/kv/keys?limit=lots", None, "limit must be a whole number"),
        ("GET", "/_edge/kv/keys?limit=0", None, "limit must be between 1 and 1000"),
        ("GET", "/_edge/kv/value?store=default&key=k", None, "say which value"),
        ("GET", "/_edge/kv/value?key=k&region=mars", None, "unknown region 'mars'"),
        ("GET", "/_edge/sql/tables?database=nope", None, "unknown database 'nope'"),
        ("POST", "/_edge/sql/query", {"region": "eu-west"}, '"sql" must be a statement'),
        ("POST", "/_edge/sql/query", {"region": "eu-west", "sql": " "}, "write a statement"),
        ("POST", "/_edge/sql/query", {"region": "eu-west", "sql": "SELECT 1; SELECT 2"}, "one"),
        ("POST", "/_edge/sql/query", {"region": "eu-west", "sql": "ATTACH 'x' AS x"}, "refused"),
        ("POST", "/_edge/sql/query", {"region": "eu-west", "sql": "BEGIN"}, "refused"),
        (
            "POST",
            "/_edge/sql/query",
            {"region": "us-east", "sql": "PRAGMA query_only = 0"},
            "refused",
        ),
    ]
    for method, path, body, expected in cases:
        answer = http.request(method, path, json=body)
        assert answer.status_code == 400, (path, body, answer.text)
        assert expected in answer.json()["error"], (path, body, answer.text)
    slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    started = time.monotonic()
    answer = http.post("/_edge/sql/query", json={"region": "us-east", "sql": slow})
    assert answer.status_code == 400 and "was stopped" in answer.json()["error"]
    assert time.monotonic() - started < 5
    # Still serving, and a value is read whole.
    fine = http.post("/_edge/sql/query", json={"region": "ap-south", "sql": "SELECT 1 AS one"})
    assert fine.json()["columns"] == ["one"] and fine.json()["rows"] == [[1]]
    missing = http.get("/_edge/kv/value", params={"key": "nothing", "region": "us-east"})
    assert missing.status_code == 200 and missing.json()["state"] == "absent"
