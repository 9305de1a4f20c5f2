"""Raw HTTP/1.1 on a socket, for clients that misbehave in ways httpx will not."""

from __future__ import annotations

import contextlib
import os
import socket
import time


def exchange(port: int, data: bytes, *, half_close: bool = True, timeout: float = 30) -> bytes:
    """Send `data` in one segment (with the FIN if `half_close`); all bytes until the server
    closes, or what came before `timeout`."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # Corked, the data and the FIN leave together: the server reads both at once.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        else:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        return read_until_closed(sock, timeout)


def read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        out += chunk
    return out


def status_of(answer: bytes) -> int:
    """The status code of an HTTP/1.x answer (0 if there was none)."""
    line = answer.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 and line[0].startswith(b"HTTP/") else 0


class SlowClient:
    """A connection that sends its request one byte at a time and never finishes it.

    With `in_head` it trickles the request head, otherwise the body of a POST
    whose head says 100,000 bytes. `answer` is what the server sent before it
    closed the connection (None while it is open).
    """

    def __init__(self, port: int, *, in_head: bool) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setblocking(False)
        if in_head:
            self.sock.send(b"POST /todos HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        else:
            self.sock.send(
                b"POST /todos HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-length: 100000\r\n\r\n{"
            )
        self.received = b""
        self.answer: bytes | None = None

    def step(self) -> None:
        """Read what came; if the server has not closed, send one more byte."""
        if self.answer is not None:
            return
        try:
            while chunk := self.sock.recv(65536):
                self.received += chunk
            self._closed()
            return
        except BlockingIOError:
            pass
        except OSError:
            self._closed()
            return
        try:
            self.sock.send(b"x")
        except BlockingIOError:
            pass  # not accepted yet, and the kernel's buffer is full: fine
        except OSError:
            self._closed()

    def _closed(self) -> None:
        self.answer = self.received
        self.sock.close()


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def descriptor_targets(pid: int) -> list[str]:
    """What each open descriptor of `pid` is (for a failing count's message)."""
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return sorted(targets)


def settled_descriptors(pid: int, quiet: float = 1.0, timeout: float = 30.0) -> int:
    """The descriptor count once it stopped changing for `quiet` seconds (a loaded
    machine finishes the server's start-up work, e.g. its instance pool, late)."""
    deadline = time.monotonic() + timeout
    count, since = open_descriptors(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = open_descriptors(pid)
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return count
