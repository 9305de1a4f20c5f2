"""Crash safety of KV replication: SIGKILL a real `edge up` with changes in flight,
restart it on the same state directory, and every acknowledged write reaches
every region (the outbox is durable, delivery is acknowledged after apply).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .edgeup import EdgeUp, wait_for

pytestmark = pytest.mark.e2e

REGIONS = ["us-east", "eu-west", "ap-south"]


def _start(
    servers: list[EdgeUp], manifest: Path, state: Path, lag: str, jitter: str = "0"
) -> EdgeUp:
    up = EdgeUp(
        manifest,
        state,
        "--workers",
        "2",
        "--replication-lag",
        lag,
        "--jitter",
        jitter,
        "--seed",
        "3",
    )
    servers.append(up)
    return up


def _status(http: httpx.Client) -> dict[str, Any]:
    [store] = http.get("/_edge/replication").json()["kv"]
    assert store["store"] == "default"
    return dict(store)


def _backlog(http: httpx.Client) -> int:
    return sum(link["backlog"] for link in _status(http)["links"])


def _mismatches(http: httpx.Client, expected: dict[str, bytes | None]) -> Iterator[str]:
    """Each expected key a region does not serve as expected, as "region:key:status"."""
    for region in REGIONS:
        for key, value in expected.items():
            got = http.get(f"/kv/{key}", headers={"x-edge-region": region})
            want = 404 if value is None else 200
            if got.status_code != want or (value is not None and got.content != value):
                yield f"{region}:{key}:{got.status_code}"


def _converged(http: httpx.Client, expected: dict[str, bytes | None]) -> bool:
    """Every region serves every expected key (None: absent), and replicas agree."""
    if next(_mismatches(http, expected), None) is not None:
        return False
    return bool(_status(http)["replicas_agree"]) and _backlog(http) == 0


def _wait_converged(
    http: httpx.Client, up: EdgeUp, expected: dict[str, bytes | None], before: str = ""
) -> None:
    """Wait for convergence after a restart; on timeout, say what is missing and why."""
    try:
        wait_for(lambda: _converged(http, expected), 20, "every acked write everywhere")
    except AssertionError:
        missing = list(itertools.islice(_mismatches(http, expected), 20))
        raise AssertionError(
            f"{before}missing after restart: {missing}; status {_status(http)}\n{up.output()}"
        ) from None


def test_kill_with_replication_pending_loses_no_acknowledged_write(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp]
) -> None:
    state = tmp_path / "state"
    first = _start(launched, built["kvprobe"], state, lag="2s")
    expected: dict[str, bytes | None] = {}
    with httpx.Client(base_url=first.url, timeout=10) as http:
        for i in range(50):
            region = REGIONS[i % 3]
            key, value = f"k{i}", f"v{i}-{region}".encode()
            resp = http.put(f"/kv/{key}", content=value, headers={"x-edge-region": region})
            if resp.status_code == 200:
                expected[key] = value
        # Overwrites and deletes in the writing region (one file: its HLC orders them).
        for i in range(0, 10):
            region = REGIONS[i % 3]
            resp = http.put(f"/kv/k{i}", content=b"second", headers={"x-edge-region": region})
            if resp.status_code == 200:
                expected[f"k{i}"] = b"second"
        for i in range(10, 15):
            region = REGIONS[i % 3]
            resp = http.delete(f"/kv/k{i}", headers={"x-edge-region": region})
            if resp.status_code == 204:
                expected[f"k{i}"] = None
        assert len(expected) == 50  # a healthy server acknowledges every write
        # The writer's region reads its own writes; the others have not seen them yet.
        assert http.get("/kv/k49", headers={"x-edge-region": "eu-west"}).content == b"v49-eu-west"
        assert http.get("/kv/k49", headers={"x-edge-region": "us-east"}).status_code == 404
        backlog = _backlog(http)
        assert backlog > 0, "replication finished before the kill; the test proves nothing"
    first.kill()

    second = _start(launched, built["kvprobe"], state, lag="100ms")
    with httpx.Client(base_url=second.url, timeout=10) as http:
        _wait_converged(http, second, expected, f"backlog before kill {backlog}; ")
        assert http.get("/kv").json() == sorted(k for k, v in expected.items() if v is not None)


def test_kill_during_continuous_writes_and_replication(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp]
) -> None:
    """Writes keep coming and replication keeps delivering while the runtime is killed.

    Every write uses its own key, so the outcome does not depend on timing:
    acknowledged writes must all arrive everywhere; a write cut off by the kill
    may or may not have happened, but then identically in every region.
    """
    state = tmp_path / "state"
    first = _start(launched, built["kvprobe"], state, lag="300ms", jitter="100ms")
    acked: dict[str, bytes | None] = {}
    attempted: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        with httpx.Client(base_url=first.url, timeout=5) as http:
            i = 0
            while not stop.is_set():
                region = REGIONS[i % 3]
                key, value = f"c{i}", f"{i}@{region}".encode()
                attempted.append(key)
                try:
                    resp = http.put(f"/kv/{key}", content=value, headers={"x-edge-region": region})
                except httpx.HTTPError:
                    return  # the server is gone
                if resp.status_code == 200:
                    acked[key] = value
                i += 1
                time.sleep(0.005)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=first.url, timeout=10) as http:

            def in_full_swing() -> bool:
                # Replication has delivered (c0, written in us-east, is in ap-south)
                # and still has changes in flight. The per-link "delivered" counter of
                # /_edge/replication cannot show it: it is always 0 under `edge up`.
                if len(acked) < 60:
                    return False
                early = http.get("/kv/c0", headers={"x-edge-region": "ap-south"})
                return early.status_code == 200 and _backlog(http) > 0

            wait_for(in_full_swing, 30, "writes acknowledged while replication delivers")
        first.kill()  # the writer is mid-request or about to send one
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(acked) >= 60

    second = _start(launched, built["kvprobe"], state, lag="100ms")
    with httpx.Client(base_url=second.url, timeout=10) as http:
        _wait_converged(http, second, acked)
        # Writes cut off by the kill: present in all regions or in none.
        unknown = [key for key in attempted if key not in acked]
        for key in unknown:
            seen = {
                http.get(f"/kv/{key}", headers={"x-edge-region": r}).status_code for r in REGIONS
            }
            assert len(seen) == 1, (key, seen)
        listed = set(http.get("/kv").json())
        assert set(acked) <= listed <= set(attempted)
