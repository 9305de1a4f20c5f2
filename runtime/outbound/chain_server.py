"""The in-process endpoint that self requests and service chaining go to.

wasmtime's wasi:http sends every request over a socket, and the host cannot
make a response resource of its own, so a request the app makes to itself
(`/api/x`, `http://users.spin.internal/x`) is redirected here: a listener on
127.0.0.1 owned by this process, started on first use. Its path carries a
random token of this process, the region and the target, so another local
process cannot reach the app through it, and the request's Host header never
decides where it goes. Each connection is served on a thread of its own,
because the caller's guest call is still waiting for the answer.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote

import h11

log = logging.getLogger("edge.http")

PREFIX = "/.edge-chain/"
SELF_TARGET = "-"  # in the path: route by the path, not to one component
_HOP_BY_HOP = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding"})
_IO_TIMEOUT = 60.0  # seconds without a byte from the caller before the connection goes


@dataclass(frozen=True)
class ChainedRequest:
    region: str
    component: str | None  # None: a self request, routed by the app's router
    depth: int  # how many self or chained requests led to this one
    method: str
    path: str  # with the query
    headers: list[tuple[str, str]]
    body: bytes


Reply = tuple[int, list[tuple[str, str]], bytes]


class ChainServer:
    def __init__(self, dispatch: Callable[[ChainedRequest], Reply], max_body_bytes: int) -> None:
        self._dispatch = dispatch
        self._max_body = max_body_bytes
        self._token = secrets.token_urlsafe(24)
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._closed = False

    def address(self) -> str:
        """host:port of the endpoint (listening from the first call on)."""
        with self._lock:
            if self._sock is None:
                if self._closed:
                    raise RuntimeError("the chain server is closed")
                self._sock = socket.create_server(("127.0.0.1", 0))
                threading.Thread(target=self._accept, name="edge-chain", daemon=True).start()
            host, port = self._sock.getsockname()[:2]
        return f"{host}:{port}"

    def path(self, region: str, component: str | None, depth: int, path: str) -> str:
        """The path that carries a request for `component` (None: by route) in `region`."""
        target = quote(component, safe="") if component else SELF_TARGET
        rest = path if path.startswith("/") else "/" + path
        return f"{PREFIX}{self._token}/{quote(region, safe='')}/{target}/{depth}{rest}"

    def close(self) -> None:
        with self._lock:
            self._closed = True
            sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        sock = self._sock
        while sock is not None:
            try:
                conn, _ = sock.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(_IO_TIMEOUT)
            http = h11.Connection(h11.SERVER)
            try:
                reply = self._answer(http, conn)
            except (OSError, h11.ProtocolError) as exc:
                log.warning("a self or chained request was not read: %s", exc)
                return
            status, headers, body = reply
            out = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
            out += [("content-length", str(len(body))), ("connection", "close")]
            with contextlib.suppress(OSError, h11.ProtocolError):
                conn.sendall(http.send(h11.Response(status_code=status, headers=out)) or b"")
                conn.sendall(http.send(h11.Data(data=body)) or b"")
                conn.sendall(http.send(h11.EndOfMessage()) or b"")

    def _answer(self, http: h11.Connection, conn: socket.socket) -> Reply:
        request: h11.Request | None = None
        body = bytearray()
        while True:
            event = http.next_event()
            if event is h11.NEED_DATA:
                http.receive_data(conn.recv(65536))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > self._max_body:
                    return _text(413, f"request body over {self._max_body} bytes")
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                raise OSError("the caller closed the connection")
        assert request is not None
        chained = self._parse(request, bytes(body))
        if chained is None:
            return _text(404, "not found")
        return self._dispatch(chained)

    def _parse(self, request: h11.Request, body: bytes) -> ChainedRequest | None:
        target = request.target.decode("latin-1")
        if not target.startswith(PREFIX):
            return None
        parts = target[len(PREFIX) :].split("/", 4)
        if len(parts) < 4 or not hmac.compare_digest(parts[0], self._token):
            return None
        region, component, depth = unquote(parts[1]), unquote(parts[2]), parts[3]
        if len(parts) < 5 or not depth.isdigit():
            return None
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers]
        return ChainedRequest(
            region,
            None if component == SELF_TARGET else component,
            int(depth),
            request.method.decode("ascii"),
            "/" + parts[4],
            headers,
            body,
        )


def _text(status: int, message: str) -> Reply:
    return status, [("content-type", "text/plain; charset=utf-8")], message.encode()
