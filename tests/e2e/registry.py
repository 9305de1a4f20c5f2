"""A real OCI registry on loopback for the push and pull tests: the distribution
project's registry (Debian's docker-registry, installed by tools/install-registry.sh),
on 127.0.0.1 and a free port, with its storage in a temporary directory, no
authentication and plain HTTP. Its access log is kept, so tests can count the
requests it served.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

BINARIES = ("docker-registry", "registry")

_CONFIG = """\
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: edge-tests-only
"""


def registry_binary() -> str | None:
    for name in BINARIES:
        if path := shutil.which(name):
            return path
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LoopbackRegistry:
    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.config = directory / "config.yml"
        self.log = directory / "registry.log"
        (directory / "storage").mkdir(parents=True, exist_ok=True)
        self.config.write_text(_CONFIG.format(storage=directory / "storage", port=self.port))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [self.binary, "serve", str(self.config)], stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the registry exited:\n{self.log.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://{self.address}/v2/", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"the registry did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def requests(self, method: str, path_pattern: str) -> int:
        """How many `METHOD /v2/...` requests matching `path_pattern` (a regex) it served."""
        pattern = re.compile(rf'"{method} (/v2/\S*)')
        return sum(
            1
            for match in pattern.finditer(self.log.read_text(errors="replace"))
            if re.search(path_pattern, match.group(1))
        )
