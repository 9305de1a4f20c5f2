"""Crash safety of SQL in the Turso model: SIGKILL a real `edge up` while batches
are written from every region and replicas lag behind, restart it, and every
acknowledged batch is in every region, whole; a batch cut off by the kill is
either whole everywhere or nowhere.
"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from .edgeup import EdgeUp, sql_probe, wait_for
from .test_crash import REGIONS, _start
from .test_regions_sql import SCHEMA

pytestmark = pytest.mark.e2e

INSERT = "INSERT INTO log (region, n) VALUES (?, ?)"


def _numbers(http: httpx.Client, region: str) -> list[int]:
    result = sql_probe(http, region, "SELECT n FROM log ORDER BY n")
    return [] if "error" in result else [row[0] for row in result["results"][0]["rows"]]


def test_kill_during_sql_writes_loses_no_acknowledged_batch(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp]
) -> None:
    state = tmp_path / "state"
    first = _start(launched, built["sqlprobe"], state, lag="2s")
    with httpx.Client(base_url=first.url, timeout=10) as http:
        assert "error" not in sql_probe(http, "us-east", SCHEMA)
    acked: list[int] = []
    stop = threading.Event()

    def writer() -> None:
        # Each batch writes n and -n: a batch is whole or absent, never half.
        with httpx.Client(base_url=first.url, timeout=5) as http:
            i = 1
            while not stop.is_set():
                region = REGIONS[i % 3]
                batch = [[INSERT, [region, i]], [INSERT, [region, -i]]]
                try:
                    result = sql_probe(http, region, *batch, mode="batch")
                except httpx.HTTPError:
                    return  # the server is gone
                if "error" not in result:
                    acked.append(i)
                i += 1

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=first.url, timeout=10) as http:
            # Enough written, and ap-south's replica is behind the primary.
            wait_for(
                lambda: len(acked) >= 30 and len(_numbers(http, "ap-south")) < 2 * len(acked),
                30,
                "batches acknowledged while replicas lag",
            )
        first.kill()
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()

    second = _start(launched, built["sqlprobe"], state, lag="100ms")
    with httpx.Client(base_url=second.url, timeout=10) as http:
        primary = _numbers(http, "us-east")
        # Every acknowledged batch, whole; at most the one in flight besides.
        assert set(acked) <= set(primary)
        assert sorted(primary) == sorted(
            [n for n in primary if n > 0] + [-n for n in primary if n > 0]
        )
        assert len(primary) // 2 - len(acked) in (0, 1)
        wait_for(
            lambda: all(_numbers(http, r) == primary for r in REGIONS),
            20,
            "every replica equal to the primary after the restart",
        )
        status = http.get("/_edge/replication").json()["sql"][0]
        assert status["replicas_agree"]
