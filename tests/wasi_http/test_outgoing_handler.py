"""Outbound HTTP of a built component, run on a second wasi:http host: jco + Node.

The component's outgoing requests (`framework.http.fetch` over
`wasi:http/outgoing-handler`) are otherwise only made under `edge up`, where
wasmtime-py provides the interface. Here the same built httpprobe component is
transpiled by jco and served by preview2-shim (see harness.py), and its
outgoing-handler is preview2-shim's own, which sends the request with Node's
http client. Each test asks the component to call a loopback HTTP upstream of
the test's own, and checks both what the guest reports and what the upstream
received.

No allow-list applies here: `allowed_outbound_hosts` is enforced by the host,
and preview2-shim's outgoing handler sends every request it is given. That is
expected, and not what these tests are about: they show that the component's
outgoing request, its headers and its body streams work on an independent host.
Enforcing the allow-list is the job of `edge up` (and of Spin), not of the guest.

Where the two hosts differ, the tests assert only what both should do. Seen so
far: preview2-shim hands the guest Node's view of the response headers, so
repeated fields arrive folded into one (`x-multi: a, b`; `set-cookie` values
joined by a bare ","), and `transfer-encoding` is passed on; Node's agent adds
`connection: keep-alive` to each request. A refused connection is
`connection-refused` on both.

Needs Node >= 20 and `tools/install-node-tools.sh`; without them these tests skip.
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from .harness import JcoServer, serve

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
GUEST_TIMEOUT = 20.0  # the guest's bound on each outbound exchange (its `timeout`)
CLIENT_TIMEOUT = 60.0  # the test's bound on each call to the component
UPSTREAM_IDLE = 10.0  # the upstream closes a connection idle this long
_WRITE = 64 * 1024


def pattern(size: int) -> bytes:
    """The bytes the probe sends for `send_bytes: size` (as app.py makes them)."""
    block = bytes(range(256))
    return (block * (size // 256 + 1))[:size]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def payload(size: int) -> bytes:
    """What the upstream answers on /bytes/<size>: reproducible, not a pattern."""
    return random.Random(size).randbytes(size)


# --- the upstream: a loopback HTTP/1.1 server that records what it receives ----


@dataclass(frozen=True)
class Received:
    """One request as the upstream read it off the wire."""

    method: str
    target: str
    headers: list[tuple[str, str]]  # names lower-cased, in the order they came
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key == name]
        assert len(values) <= 1, f"{name} came {len(values)} times: {values}"
        return values[0] if values else None


class Upstream:
    """The test's own HTTP server on 127.0.0.1 (an ephemeral port), in threads."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.upstream = self
        self.port: int = self._server.server_address[1]
        self.authority = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.authority}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def record(self, request: Received) -> None:
        with self._lock:
            self.received.append(request)

    def one(self, path: str) -> Received:
        """The only request the upstream received for `path`."""
        with self._lock:
            matching = [r for r in self.received if r.path == path]
        assert len(matching) == 1, f"{len(matching)} requests for {path}: {matching}"
        return matching[0]


class _Server(ThreadingHTTPServer):
    upstream: Upstream


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Node's agent expects
    timeout = UPSTREAM_IDLE
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: pytest shows what the assertions need

    def _serve(self) -> None:
        body = self._read_body()
        received = Received(
            self.command,
            self.path,
            [(name.lower(), value) for name, value in self.headers.items()],
            body,
        )
        self.server.upstream.record(received)
        path, query = received.path, parse_qs(urlsplit(self.path).query)
        if path.startswith("/json"):
            document = {"method": self.command, "target": self.path, "greeting": "héllo"}
            self._answer(
                200,
                json.dumps(document).encode(),
                [("content-type", "application/json"), ("x-upstream", "loopback")],
            )
        elif path.startswith("/echo"):
            self._answer(
                201,
                f"got {len(body)} bytes, sha256 {sha256(body)}".encode(),
                [("content-type", "text/plain"), ("x-got-bytes", str(len(body)))],
            )
        elif path.startswith("/bytes/"):
            data = payload(int(path.removeprefix("/bytes/")))
            headers = [("content-type", "application/octet-stream")]
            self._answer(200, data, headers, chunked=query.get("framing") == ["chunked"])
        elif path == "/raw":
            self._answer(202, b"", [])
        else:
            self._answer(404, b"no such upstream path\n", [("content-type", "text/plain")])

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers, if any
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # the CRLF after each chunk
        length = self.headers.get("content-length")
        return self.rfile.read(int(length)) if length else b""

    def _answer(
        self, status: int, body: bytes, headers: list[tuple[str, str]], chunked: bool = False
    ) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if chunked:
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), _WRITE):
                piece = body[start : start + _WRITE]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        self.wfile.flush()


# --- fixtures -------------------------------------------------------------------


@pytest.fixture(scope="module")
def probe(
    node: str, built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JcoServer]:
    """The httpprobe app's `probe` component, served under jco."""
    workdir = tmp_path_factory.mktemp("jco-httpprobe")
    with serve(node, built["httpprobe"], workdir, "probe") as server:
        yield server


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port bound but not listening: a connection to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def guest_fetch(probe: JcoServer, **spec: Any) -> dict[str, Any]:
    """What the component reports for one `fetch` it makes (POST /fetch)."""
    spec.setdefault("timeout", GUEST_TIMEOUT)
    with probe.client() as client:
        resp = client.post("/fetch", json=spec, timeout=CLIENT_TIMEOUT)
    assert resp.status_code == 200, f"{resp.status_code}: {resp.text}\n{probe.stderr()}"
    report: dict[str, Any] = resp.json()
    return report


# --- the tests ------------------------------------------------------------------


def test_get_returns_json_to_the_guest(probe: JcoServer, upstream: Upstream) -> None:
    report = guest_fetch(probe, url=f"{upstream.url}/json/get?q=1&r=two")

    assert "error" not in report, report
    assert report["status"] == 200
    assert report["headers"]["content-type"] == "application/json"
    assert report["headers"]["x-upstream"] == "loopback"
    assert json.loads(report["text"]) == {
        "method": "GET",
        "target": "/json/get?q=1&r=two",
        "greeting": "héllo",
    }
    assert report["headers"]["content-length"] == str(report["size"])

    seen = upstream.one("/json/get")
    assert (seen.method, seen.target) == ("GET", "/json/get?q=1&r=two")
    assert seen.header("host") == upstream.authority  # the URL's authority, set by the host
    assert seen.body == b""
    assert seen.header("content-length") is None  # the client adds one only with a body
    assert seen.header("transfer-encoding") is None


def test_post_headers_and_body_reach_the_upstream(probe: JcoServer, upstream: Upstream) -> None:
    text = "ünïcode body, with a comma and a newline\n" * 3
    report = guest_fetch(
        probe,
        url=f"{upstream.url}/echo/post",
        method="POST",
        headers={"content-type": "text/plain; charset=utf-8", "x-trace": "t-123"},
        body=text,
    )

    data = text.encode("utf-8")
    seen = upstream.one("/echo/post")
    assert seen.method == "POST"
    assert seen.header("content-type") == "text/plain; charset=utf-8"
    assert seen.header("x-trace") == "t-123"
    assert seen.header("content-length") == str(len(data))  # the framework client says it
    assert seen.header("transfer-encoding") is None
    assert seen.body == data

    assert report["status"] == 201
    assert report["headers"]["x-got-bytes"] == str(len(data))
    assert report["text"] == f"got {len(data)} bytes, sha256 {sha256(data)}"


def test_mebibyte_request_body(probe: JcoServer, upstream: Upstream) -> None:
    report = guest_fetch(probe, url=f"{upstream.url}/echo/big", method="PUT", send_bytes=MIB)

    seen = upstream.one("/echo/big")
    assert seen.method == "PUT"
    assert seen.header("content-length") == str(MIB)
    assert len(seen.body) == MIB
    assert sha256(seen.body) == sha256(pattern(MIB))
    assert report["status"] == 201
    assert report["text"] == f"got {MIB} bytes, sha256 {sha256(pattern(MIB))}"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_mebibyte_response_body(probe: JcoServer, upstream: Upstream, framing: str) -> None:
    report = guest_fetch(probe, url=f"{upstream.url}/bytes/{MIB}?framing={framing}")

    assert "error" not in report, report
    assert report["status"] == 200
    assert report["size"] == MIB
    assert report["sha256"] == sha256(payload(MIB))
    assert "text" not in report  # the probe leaves out bodies over 4 KiB
    if framing == "chunked":
        # Whether the guest sees the `transfer-encoding` header is the host's
        # choice (preview2-shim passes it on, wasmtime drops it): not asserted.
        assert "content-length" not in report["headers"]
    else:
        assert report["headers"]["content-length"] == str(MIB)


def test_refused_connection_is_an_outbound_http_error(probe: JcoServer, refusing_port: int) -> None:
    url = f"http://127.0.0.1:{refusing_port}/nothing-listens"
    report = guest_fetch(probe, url=url)

    # preview2-shim maps Node's ECONNREFUSED to wasi:http's connection-refused.
    assert report == {
        "error": {
            "type": "OutboundHTTPError",
            "code": "connection-refused",
            "message": f"GET {url}: connection-refused",
        }
    }


def test_raw_bindings_request_reaches_the_upstream(probe: JcoServer, upstream: Upstream) -> None:
    # /raw builds the request with the wasi:http bindings directly, and never
    # asks for (nor finishes) its outgoing body.
    with probe.client() as client:
        resp = client.post("/raw", json={"authority": upstream.authority}, timeout=CLIENT_TIMEOUT)

    assert resp.status_code == 200, resp.text
    assert resp.json() == {"status": 202}
    seen = upstream.one("/raw")
    assert (seen.method, seen.target, seen.body) == ("GET", "/raw", b"")
    assert seen.header("host") == upstream.authority
