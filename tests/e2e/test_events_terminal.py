"""`edge up` on a terminal: the banner's URLs, then one line per request and replication event."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import httpx
import pytest

from .edgeup import ROOT, _free_port, wait_for

pytestmark = pytest.mark.e2e

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


class Terminal:
    """What a process wrote to its pseudo-terminal, read by a thread."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError):  # EIO once every writer has closed it
            while chunk := os.read(self.fd, 65536):
                self._chunks.append(chunk)

    def text(self) -> str:
        return ANSI.sub("", b"".join(self._chunks).decode(errors="replace")).replace("\r", "")


def test_the_live_status_shows_requests_and_replication_on_a_terminal(
    built: dict[str, Path], tmp_path: Path
) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))  # no wrapping
    args = [sys.executable, "-m", "runtime.cli", "up", "-f", str(built["kvprobe"]), "--no-build"]
    args += ["--listen", f"127.0.0.1:{port}", "--state-dir", str(tmp_path / "state")]
    args += ["--regions", "us-east,eu-west", "--hrana-port", "0", "--replication-lag", "200ms"]
    env = dict(os.environ, TERM="xterm-256color", EDGE_LOG_LEVEL="info", COLUMNS="200")
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        args, cwd=ROOT, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    screen = Terminal(master)
    try:
        wait_for(lambda: _healthy(url), timeout=60, poll=0.2, what=f"edge up:\n{screen.text()}")
        text = screen.text()
        assert f"app:      http://localhost:{port}" in text
        assert re.search(rf"us-east +http://us-east\.localhost:{port} \(default\)", text)
        assert re.search(rf"eu-west +http://eu-west\.localhost:{port}\n", text)
        assert f"explorer: http://localhost:{port}/_edge/ui" in text
        response = httpx.put(f"{url}/kv/colour", content=b"blue", timeout=10)
        assert response.status_code == 200
        line = re.compile(r"\d\d:\d\d:\d\d PUT /kv/colour 200 [\d.]+ ms us-east")
        wait_for(lambda: line.search(screen.text()) is not None, what=f"{screen.text()}")
        wait_for(
            lambda: "kv default: 'colour' us-east -> eu-west applied" in screen.text(),
            what=f"the applied line:\n{screen.text()}",
        )
        assert "kv default: 'colour' us-east -> eu-west sent" in screen.text()
        # On a terminal the live status is the record of requests: no second line of the log.
        assert re.search(r"PUT /kv/colour 200 [\d.]+ms", screen.text()) is None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            os.close(master)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_edge/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
