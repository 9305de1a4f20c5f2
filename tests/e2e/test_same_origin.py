"""A hostile web page against a real `edge up`: the exact requests a browser sends.

A page at http://evil.example (or at another local dev server) may POST to any
loopback port with the content types that need no CORS preflight, open
WebSockets anywhere (browsers apply no CORS to them), and, by DNS rebinding,
make its own host name point at 127.0.0.1 and read the answers. None of it may
reach the admin API or the Hrana endpoints; the app's own routes are the app's.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import libsql_client
import pytest

from .edgeup import ROOT, EdgeUp

pytestmark = pytest.mark.e2e

EVIL = "http://evil.example"
# What Chrome adds to a fetch() from a page of another site.
CROSS_SITE = {"origin": EVIL, "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors"}
TEXT = {"content-type": "text/plain;charset=UTF-8"}
CREATE = json.dumps({"stmt": {"sql": "CREATE TABLE pwned (x)"}})


@pytest.fixture(scope="module")
def up(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeUp]:
    server = EdgeUp(built["sqlprobe"], tmp_path_factory.mktemp("origin") / "state")
    yield server
    server.stop()


def _hrana(up: EdgeUp, region: str = "us-east") -> str:
    return up.database_urls()[region]


def _tables(up: EdgeUp) -> list[str]:
    with libsql_client.create_client_sync(_hrana(up)) as client:
        rows = client.execute("SELECT name FROM sqlite_master WHERE type = 'table'").rows
    return [str(row[0]) for row in rows]


def _links_cut(up: EdgeUp) -> bool:
    links = httpx.get(f"{up.url}/_edge/replication").json()["links"]
    return any(link["partitioned"] for link in links)


def _handshake(url: str, origin: str | None, host: str | None = None) -> str:
    """The status line the server answers a browser's WebSocket handshake with."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET / HTTP/1.1",
        f"Host: {host or parts.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Protocol: hrana3",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = sock.recv(4096).decode("latin-1")
    return answer.split("\r\n", 1)[0]


def test_hrana_refuses_cross_site_posts_and_runs_nothing(up: EdgeUp) -> None:
    url = _hrana(up)
    blind = httpx.post(f"{url}/v1/execute", content=CREATE, headers={**CROSS_SITE, **TEXT})
    assert blind.status_code == 403
    assert "evil.example" in blind.json()["message"]
    # Another dev server on loopback is another origin too.
    other = {"origin": "http://localhost:5173", "content-type": "application/json"}
    assert httpx.post(f"{url}/v2/pipeline", content=CREATE, headers=other).status_code == 403
    assert httpx.post(f"{url}/v2/pipeline", content=CREATE, headers=TEXT).status_code == 415
    assert "pwned" not in _tables(up)


def test_hrana_refuses_a_rebound_host_name(up: EdgeUp) -> None:
    url = _hrana(up)
    port = urlsplit(url).port
    # After rebinding, the page's requests are same-origin for the browser: Host is its name.
    rebound = {
        "host": f"evil.example:{port}",
        "origin": f"http://evil.example:{port}",
        "content-type": "application/json",
    }
    answer = httpx.post(f"{url}/v1/execute", content=CREATE, headers=rebound)
    assert answer.status_code == 403 and "evil.example" in answer.json()["message"]
    no_origin = {"host": f"evil.example:{port}", "content-type": "application/json"}
    assert httpx.post(f"{url}/v1/execute", content=CREATE, headers=no_origin).status_code == 403
    assert "pwned" not in _tables(up)


def test_hrana_websocket_handshakes_from_other_pages_are_refused(up: EdgeUp) -> None:
    url = _hrana(up, "eu-west")
    port = urlsplit(url).port
    assert " 403 " in _handshake(url, EVIL)
    assert " 403 " in _handshake(url, "null")  # sandboxed frames and file: pages
    assert " 403 " in _handshake(url, "http://localhost:5173")
    assert " 403 " in _handshake(url, None, host=f"evil.example:{port}")
    # Pages of this edge up itself, and clients that send no Origin, get through.
    assert " 101 " in _handshake(url, f"http://localhost:{up.port}")
    assert " 101 " in _handshake(url, f"http://eu-west.localhost:{up.port}")
    assert " 101 " in _handshake(url, None)


def test_real_clients_still_work_over_both_transports(up: EdgeUp) -> None:
    url = _hrana(up)
    for address in (url, url.replace("http:", "ws:")):
        with libsql_client.create_client_sync(address) as client:
            assert client.execute("SELECT 1 + 1").rows[0][0] == 2
    own_page = {"origin": f"http://localhost:{up.port}", "content-type": "application/json"}
    seven = '{"stmt": {"sql": "SELECT 7"}}'
    answer = httpx.post(f"{url}/v1/execute", content=seven, headers=own_page)
    assert answer.status_code == 200
    assert answer.json()["result"]["rows"] == [[{"type": "integer", "value": "7"}]]


def test_admin_api_refuses_cross_site_and_rebound_requests(up: EdgeUp) -> None:
    body = json.dumps({"region": "eu-west"})
    partition = f"{up.url}/_edge/partition"
    assert httpx.post(partition, content=body, headers={**CROSS_SITE, **TEXT}).status_code == 403
    rebound = {"host": f"evil.example:{up.port}", "content-type": "application/json"}
    assert httpx.post(partition, content=body, headers=rebound).status_code == 403
    assert httpx.get(f"{up.url}/_edge/regions", headers={"host": "evil.example"}).status_code == 403
    refused = httpx.post(f"{up.url}/_edge/lag", content='{"lag": "1h"}', headers=TEXT)
    assert refused.status_code == 415 and "application/json" in refused.json()["error"]
    assert not _links_cut(up)
    links = httpx.get(f"{up.url}/_edge/replication").json()["links"]
    assert all(link["lag_ms"] < 3_600_000 for link in links)

    # The CLI's requests, and this server's own pages, are answered.
    own = {"origin": f"http://localhost:{up.port}"}
    assert httpx.post(partition, json={"region": "eu-west"}, headers=own).status_code == 200
    assert _links_cut(up)
    assert httpx.post(f"{up.url}/_edge/heal", json={}).status_code == 200
    assert not _links_cut(up)


def test_app_routes_keep_their_own_semantics(up: EdgeUp) -> None:
    # The app decides what a cross-site request to it means; edge up does not.
    answer = httpx.post(
        f"{up.url}/sql",
        content=json.dumps({"statements": ["SELECT 1"]}),
        headers={**CROSS_SITE, **TEXT},
    )
    assert answer.status_code == 200


def test_an_admin_token_protects_the_admin_api(built: dict[str, Path], tmp_path: Path) -> None:
    token = "s3cret-admin-token"
    os.environ["EDGE_ADMIN_TOKEN"] = token
    try:
        server = EdgeUp(built["sqlprobe"], tmp_path / "state")
    finally:
        del os.environ["EDGE_ADMIN_TOKEN"]
    try:
        assert httpx.get(f"{server.url}/_edge/health").status_code == 200  # probes stay open
        refused = httpx.get(f"{server.url}/_edge/replication")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        wrong = {"authorization": "Bearer s3cret-admin-tokeX"}
        assert httpx.get(f"{server.url}/_edge/replication", headers=wrong).status_code == 401
        right = {"authorization": f"Bearer {token}"}
        assert httpx.get(f"{server.url}/_edge/replication", headers=right).status_code == 200
        # The edge CLI sends the token it finds in the environment.
        status = subprocess.run(
            [sys.executable, "-m", "runtime.cli", "partition", "ap-south", "--url", server.url],
            cwd=ROOT,
            env=dict(os.environ, EDGE_ADMIN_TOKEN=token),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        links = httpx.get(f"{server.url}/_edge/replication", headers=right).json()["links"]
        assert any(link["partitioned"] for link in links)
        assert token not in server.output()
    finally:
        server.stop()
