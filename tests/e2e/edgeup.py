"""`edge up` as a real subprocess for end-to-end tests, on a free loopback port.

It runs in its own process group, so `kill()` (SIGKILL) takes the supervisor
and every worker at once, as a crash would; `stop()` is the clean SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EdgeUp:
    """`edge up` in its own process group, so SIGKILL takes the supervisor and workers.

    `manifest` is a manifest's path, or an OCI reference (`REGISTRY/NAME:TAG`) for
    `edge up -f REF`."""

    def __init__(
        self,
        manifest: Path | str,
        state_dir: Path,
        *extra: str,
        env: dict[str, str] | None = None,
        command: str = "up",
        build: bool = False,
        ready_timeout: float = 60,
    ) -> None:
        """`command` "watch" runs `edge watch`; `build` builds what is stale first."""
        self.state = state_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = state_dir.parent / f"edge-up-{self.port}.log"
        args = [
            sys.executable,
            "-m",
            "runtime.cli",
            command,
            "-f",
            str(manifest),
            *([] if build else ["--no-build"]),
            "--listen",
            f"127.0.0.1:{self.port}",
            "--state-dir",
            str(state_dir),
            *extra,
        ]
        if "--hrana-port" not in extra:
            # Free ports, not the listen port + 1...: those may be taken.
            args += ["--hrana-port", "0"]
        env = dict(os.environ, EDGE_LOG_LEVEL="info", **(env or {}))
        # The admin API asks for the admin token, else the Hrana token, when one is set.
        token = env.get("EDGE_ADMIN_TOKEN") or env.get("EDGE_HRANA_TOKEN")
        self.admin_headers = {"authorization": f"Bearer {token}"} if token else {}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                args,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self.pgid = os.getpgid(self.process.pid)
        self._wait_ready(ready_timeout)

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"edge up exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/_edge/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"edge up did not start:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown code runs anywhere."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGKILL)
        self.process.wait(timeout=10)
        # The workers are reaped by init; wait until none of the group is left.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise AssertionError("processes of the killed edge up are still alive")

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL for whatever is left; the exit status (None if killed)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        status = self.process.poll()
        self.kill()  # whatever is left of the group
        return status

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def database_urls(self, label: str = "default") -> dict[str, str]:
        """region -> the Hrana URL of its copy of database `label` (from /_edge/regions)."""
        answer = httpx.get(f"{self.url}/_edge/regions", headers=self.admin_headers)
        regions = answer.json()["regions"]
        return {r["name"]: r["databases"][label] for r in regions}


def wait_for(
    predicate: Callable[[], bool],
    timeout: float = 10.0,
    what: str = "condition",
    poll: float = 0.02,
) -> float:
    """Poll `predicate` until true; returns the seconds it took (AssertionError on timeout)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(poll)
    raise AssertionError(f"not within {timeout} s: {what}")


def sql_probe(
    http: httpx.Client, region: str, *statements: Any, mode: str = "each"
) -> dict[str, Any]:
    """POST statements to the sqlprobe app (tests/apps/sqlprobe) in `region`; its JSON answer."""
    response = http.post(
        "/sql",
        json={"statements": list(statements), "mode": mode},
        headers={"x-edge-region": region},
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-edge-region"] == region
    return dict(response.json())
