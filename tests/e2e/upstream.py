"""A loopback HTTP server that outbound-HTTP tests call, and that tells what reached it.

It counts the TCP connections it accepts (before any byte is read), so a test
can show that a denied request never connected, and records each request's
method, path, headers and body (read whole, chunked or by content-length).

    /json           a small JSON answer with a header of its own
    /echo           the request body back, its method and headers as x-seen-*
    /bytes/N        N bytes of `pattern(N)`
    /status/N       an empty answer with status N
    /hang           no answer until the test ends (or 30 s)
    /reset          the connection reset, without an answer
    /trickle        the headers, then one byte every 100 ms for 20 s
"""

from __future__ import annotations

import hashlib
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def pattern(size: int) -> bytes:
    """What httpprobe's `send_bytes` sends, and what /bytes/N answers."""
    block = bytes(range(256))
    return (block * (size // 256 + 1))[:size]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    upstream: Upstream

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        with self.upstream.lock:
            self.upstream.connections += 1
        return conn, addr


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(
        self, status: int, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _serve(self) -> None:
        upstream = self.server.upstream
        body = self._body()
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        with upstream.lock:
            upstream.requests.append(seen)
        path = self.path.split("?")[0]
        if path == "/json":
            self._answer(
                200,
                b'{"hello": "world", "n": 1}',
                {"content-type": "application/json", "x-upstream": "yes"},
            )
        elif path == "/echo":
            extra = {f"x-seen-{k}": v for k, v in seen.headers.items() if k.startswith("x-")}
            self._answer(200, body, {"x-seen-method": self.command, **extra})
        elif path.startswith("/bytes/"):
            self._answer(200, pattern(int(path.removeprefix("/bytes/"))))
        elif path.startswith("/status/"):
            self._answer(int(path.removeprefix("/status/")))
        elif path == "/hang":
            upstream.released.wait(30)
            self._answer(200, b"late")
        elif path == "/reset":
            # SO_LINGER 0: close() sends a RST instead of a FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
        elif path == "/trickle":
            self.send_response(200)
            self.send_header("content-length", "200")
            self.end_headers()
            for _ in range(200):
                if upstream.released.wait(0.1):
                    return
                self.wfile.write(b".")
                self.wfile.flush()
        else:
            self._answer(404, b"no such route")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve


class Upstream:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connections = 0
        self.requests: list[Seen] = []
        self.released = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.upstream = self
        self.port: int = self._server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def url(self, path: str) -> str:
        return self.origin + path

    def close(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if len(self.requests) >= count:
                    return
            time.sleep(0.01)
