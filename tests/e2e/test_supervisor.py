"""The supervisor of a real `edge up` and its workers: a worker that stops
answering is replaced, a supervisor that dies takes its workers with it, and a
stop is quick even when workers do not answer.

Workers are found as the supervisor's children in /proc (Linux).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.runtime.hrana.helpers import RawWs, run, stmt

from .edgeup import EdgeUp, sql_probe, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc"),
]


def workers(up: EdgeUp) -> set[int]:
    pid = up.process.pid
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "zombie" not in state


def all_serving(up: EdgeUp, count: int) -> None:
    """Wait until `count` workers have sent their first heartbeat (they have loaded)."""
    wait_for(
        lambda: up.output().count("is serving (pid") >= count, timeout=60, what="workers loaded"
    )


def refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def served(up: EdgeUp, times: int = 20) -> None:
    with httpx.Client(base_url=up.url, timeout=10) as http:
        for _ in range(times):
            assert http.get("/_edge/health", headers={"connection": "close"}).status_code == 200


def heal(up: EdgeUp) -> bool:
    try:
        return httpx.post(f"{up.url}/_edge/heal", json={}, timeout=10).status_code == 200
    except httpx.TransportError:
        return False


def test_workers_stop_when_their_supervisor_is_killed(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp]
) -> None:
    up = EdgeUp(built["sqlprobe"], tmp_path / "state", "--workers", "2")
    launched.append(up)
    children = workers(up)
    assert len(children) == 2
    os.kill(up.process.pid, signal.SIGKILL)  # no shutdown code runs in the supervisor
    up.process.wait(timeout=10)
    wait_for(lambda: not any(running(pid) for pid in children), timeout=15, what="orphans exit")
    assert refused(up.port)  # nothing holds the HTTP port any more


def test_a_worker_that_stops_answering_is_replaced(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp]
) -> None:
    up = EdgeUp(
        built["sqlprobe"],
        tmp_path / "state",
        *("--workers", "2", "--deadline-ms", "1000", "--worker-timeout", "2s"),
    )
    launched.append(up)
    all_serving(up, 2)  # a worker still loading has a minute for its first heartbeat
    frozen = min(workers(up))
    os.kill(frozen, signal.SIGSTOP)  # its event loop, wasm thread and all
    wait_for(lambda: not running(frozen), timeout=20, what="the stopped worker to be killed")
    wait_for(lambda: len(workers(up)) == 2, timeout=30, what="a replacement worker")
    served(up)
    # Stopped between heartbeats it misses the next one; stopped while its wasm
    # thread was on a job (a refill), that job outlasts the timeout first.
    output = up.output()
    assert "no heartbeat for" in output or "its wasm thread has been on one job" in output
    assert up.process.poll() is None


def test_a_handler_stuck_in_a_host_call_gets_its_504_and_no_worker_is_replaced(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp]
) -> None:
    # A write in a region cut off from the primary waits for the link (up to
    # --sql-write-timeout); the request deadline cuts that wait, so the worker is
    # not stuck and the supervisor has nothing to replace.
    up = EdgeUp(
        built["sqlprobe"],
        tmp_path / "state",
        *("--workers", "2", "--deadline-ms", "1000", "--worker-timeout", "2s"),
        *("--sql-write-timeout", "60s"),
    )
    launched.append(up)
    all_serving(up, 2)
    before = workers(up)
    eu = {"x-edge-region": "eu-west"}
    with httpx.Client(base_url=up.url, timeout=60) as http:
        assert "error" not in sql_probe(http, "us-east", "CREATE TABLE t (x)")
        assert http.post("/_edge/partition", json={"region": "eu-west"}).status_code == 200
        started = time.monotonic()
        answer = http.post("/sql", json={"statements": ["INSERT INTO t VALUES (1)"]}, headers=eu)
        assert answer.status_code == 504, answer.text
        assert time.monotonic() - started < 10
        assert heal(up)
        time.sleep(3)  # longer than the worker timeout
        assert workers(up) == before
        assert "is stuck" not in up.output()
        # The cut-off write was never run, and the region writes again.
        assert sql_probe(http, "eu-west", "INSERT INTO t VALUES (2)")["results"][0]
        rows = sql_probe(http, "us-east", "SELECT x FROM t")["results"][0]["rows"]
        assert rows == [[2]]
    served(up)


def test_sigterm_stops_quickly_even_with_stuck_workers(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp]
) -> None:
    up = EdgeUp(built["sqlprobe"], tmp_path / "state", "--workers", "2")
    launched.append(up)
    children = workers(up)
    for pid in children:
        os.kill(pid, signal.SIGSTOP)
    started = time.monotonic()
    up.process.send_signal(signal.SIGTERM)
    up.process.wait(timeout=30)
    took = time.monotonic() - started
    assert up.process.returncode == 0, up.output()
    # It waits a few seconds for the workers together, then kills them (it took 20 s
    # when each worker had 10 s of its own); the margin is for a loaded machine.
    assert took < 12, f"edge up took {took:.1f}s to stop"
    assert not any(running(pid) for pid in children)


def test_sigterm_with_clients_connected_is_quick(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp]
) -> None:
    up = EdgeUp(built["sqlprobe"], tmp_path / "state", "--workers", "2")
    launched.append(up)

    async def scenario() -> float:
        # Open Hrana streams, one in a transaction, and keep-alive HTTP connections.
        clients = []
        for url in up.database_urls().values():
            ws = await RawWs.connect(url.removeprefix("http://"))
            await ws.ok({"type": "open_stream", "stream_id": 1})
            await ws.ok({"type": "execute", "stream_id": 1, "stmt": stmt("BEGIN")})
            clients.append(ws)
        async with httpx.AsyncClient(base_url=up.url) as http:
            assert (await http.get("/_edge/health")).status_code == 200
            started = time.monotonic()
            up.process.send_signal(signal.SIGTERM)
            while up.process.poll() is None and time.monotonic() - started < 30:
                await asyncio.sleep(0.05)
            took = time.monotonic() - started
        for ws in clients:
            await ws.session.close()
        return took

    took = run(scenario)
    assert up.process.returncode == 0, up.output()
    assert took < 12, f"edge up took {took:.1f}s to stop"
