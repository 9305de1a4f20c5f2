"""Instance reuse, opt-in (`--max-instance-reuse-count`, `--idle-instance-timeout`).

The faults app counts, in a module global, the requests its instance served:
a fresh instance answers 1. Through the Emulator (virtual clock, so idle
timeouts expire when the test says) and through a real `edge up`.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from runtime.testing import Emulator

from .edgeup import ROOT, EdgeUp

pytestmark = pytest.mark.e2e


def served(client, n: int) -> list[int]:
    return [client.get("/instance").json()["served"] for _ in range(n)]


def emulator(built: dict[str, Path], tmp_path: Path, **options) -> Emulator:
    return Emulator(
        built["faults"],
        regions=["us-east"],
        state_dir=tmp_path,
        build=False,
        env={},
        **options,
    )


def test_a_fresh_instance_serves_each_request_by_default(built, tmp_path) -> None:
    with emulator(built, tmp_path) as emu:
        assert served(emu.client(), 5) == [1, 1, 1, 1, 1]


def test_an_instance_serves_the_given_count_then_a_fresh_one_takes_over(built, tmp_path) -> None:
    with emulator(built, tmp_path, max_instance_reuse_count=3) as emu:
        assert served(emu.client(), 7) == [1, 2, 3, 1, 2, 3, 1]
        assert emu.host.regions["us-east"].runners["faults"].stats["reused"] == 4


def test_a_range_draws_each_instance_its_own_count(built, tmp_path) -> None:
    with emulator(built, tmp_path, max_instance_reuse_count="2..5", seed=7) as emu:
        counts = served(emu.client(), 60)
    runs = [b for a, b in zip([*counts[1:], 1], counts, strict=True) if a == 1]
    # Every instance served 2, 3 or 4 requests (A..B excludes B), the last one maybe fewer.
    assert all(2 <= n <= 4 for n in runs[:-1]), runs
    assert len(set(runs[:-1])) > 1, runs


def test_an_idle_instance_is_dropped_after_the_timeout(built, tmp_path) -> None:
    with emulator(built, tmp_path, max_instance_reuse_count=100, idle_instance_timeout="5s") as emu:
        client = emu.client()
        assert served(client, 2) == [1, 2]
        emu.advance("4s")
        assert served(client, 1) == [3]
        emu.advance("6s")
        assert served(client, 1) == [1]


def test_a_handler_exception_keeps_the_instance_but_a_deadline_ends_it(built, tmp_path) -> None:
    # 64 MiB: a loaded machine fills it well within the deadline (256 MiB took ~0.5 s).
    options = {"max_instance_reuse_count": 100, "deadline_ms": 500, "memory_limit_mb": 64}
    with emulator(built, tmp_path, **options) as emu:
        client = emu.client()
        assert served(client, 2) == [1, 2]
        assert client.get("/raise").status_code == 500  # the framework's answer: the call ended
        assert served(client, 1) == [3]
        assert client.get("/loop").status_code == 504  # stopped at its deadline: never reused
        assert served(client, 2) == [1, 2]
        # At the memory limit the guest's MemoryError is the handler's exception: a 500
        # from the framework, and the instance carries on.
        assert client.get("/alloc").status_code == 500
        assert served(client, 1) == [3]


def test_a_handle_kept_from_an_earlier_request_is_a_clear_error(built, tmp_path, caplog) -> None:
    with emulator(built, tmp_path, max_instance_reuse_count=10) as emu:
        client = emu.client()
        assert client.post("/kv/kept", content=b"one").status_code == 200
        with caplog.at_level(logging.ERROR, logger="edge.host"):
            resp = client.post("/kv/kept", content=b"two")
        assert resp.status_code == 500
        assert "opened by an earlier request of this reused instance" in caplog.text
        assert "a host call failed" not in caplog.text  # the guest's mistake, not a host bug
        # The failed instance was dropped: a fresh one opens its own handle.
        assert client.post("/kv/kept", content=b"three").status_code == 200
        assert emu.kv_replicas()["default"]["us-east"].get("kept") == b"three"


def test_edge_up_takes_spins_flags(built, tmp_path) -> None:
    server = EdgeUp(
        built["faults"],
        tmp_path / "state",
        "--workers",
        "1",
        "--regions",
        "us-east",
        "--max-instance-reuse-count",
        "3",
        "--idle-instance-timeout",
        "1m",
    )
    try:
        got = [httpx.get(f"{server.url}/instance").json()["served"] for _ in range(7)]
    finally:
        server.stop()
    assert got == [1, 2, 3, 1, 2, 3, 1]


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--max-instance-reuse-count", "0", "at least 1 request"),
        ("--max-instance-reuse-count", "8..2", "empty range"),
        ("--max-instance-reuse-count", "many", "not a count or range"),
        ("--idle-instance-timeout", "soon", "not a duration"),
    ],
)
def test_bad_reuse_flags_are_refused(built, tmp_path, flag, value, message) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "runtime.cli",
            "up",
            "-f",
            str(built["faults"]),
            "--no-build",
            "--state-dir",
            str(tmp_path),
            flag,
            value,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
