"""The request deadline is wall-clock time for the whole request, host calls included.

Real components (tests/apps/faults) in wasmtime: a handler that sleeps in WASI,
one whose SQL statement never ends, one whose INSERT never ends. Each gets its
504 at the deadline with a message naming what was cut short, nothing of the
stopped statement stays committed, and the next request is served.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from runtime.testing import Emulator

from .edgeup import EdgeUp

pytestmark = pytest.mark.e2e

DEADLINE_MS = 1000
# Generous bounds for a loaded 2-core machine: each of these would take 20 s or
# for ever without the deadline.
PROMPTLY = 10.0


@pytest.fixture(scope="module")
def edge(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    with Emulator(
        built["faults"],
        regions=["us-east"],
        state_dir=tmp_path_factory.mktemp("deadlines"),
        build=False,
        deadline_ms=DEADLINE_MS,
        env={},
    ) as emulator:
        yield emulator


@pytest.fixture
def client(edge):
    return edge.client()


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_a_sleeping_handler_is_answered_at_the_deadline(client) -> None:
    resp, took = timed(lambda: client.get("/sleep?seconds=20"))
    assert resp.status_code == 504
    assert resp.json() == {
        "error": f"the request ran past its deadline of {DEADLINE_MS} ms while blocked in a "
        "host call (such as time.sleep or outbound I/O)"
    }
    assert took < PROMPTLY
    # The sleeping instance is abandoned, not waited for: the next request is served now.
    ok, took = timed(lambda: client.get("/ok"))
    assert ok.json() == {"ok": True, "method": "GET"}
    assert took < PROMPTLY


def test_a_statement_that_never_ends_is_interrupted(client) -> None:
    resp, took = timed(lambda: client.get("/sql/forever"))
    assert resp.status_code == 504
    assert resp.json() == {
        "error": f"the request ran past its deadline of {DEADLINE_MS} ms in a SQL statement, "
        "which was interrupted and rolled back"
    }
    assert took < PROMPTLY
    assert client.get("/ok").status_code == 200


@pytest.mark.parametrize("query", ["", "?transaction=1"])
def test_an_insert_stopped_at_the_deadline_commits_nothing(client, query: str) -> None:
    resp = client.post(f"/sql/insert-forever{query}")
    assert resp.status_code == 504
    assert "in a SQL statement, which was interrupted and rolled back" in resp.json()["error"]
    # The handler would COMMIT after the interrupted INSERT: it never runs again.
    count = client.post("/sql", json={"sql": "SELECT count(*) FROM endless"})
    assert count.json()["rows"] == [[0]]


def test_a_loop_in_the_handler_is_stopped_in_its_code(client) -> None:
    resp = client.get("/loop")
    assert resp.status_code == 504
    assert resp.json() == {
        "error": f"the request ran past its deadline of {DEADLINE_MS} ms in the handler's code"
    }


def test_many_sleeping_handlers_in_a_row_each_end_at_the_deadline(edge, client) -> None:
    started = time.monotonic()
    for _ in range(4):
        assert client.get("/sleep?seconds=30").status_code == 504
    assert time.monotonic() - started < 4 * PROMPTLY
    assert client.get("/ok").status_code == 200
    assert edge.host.engine.watchdog.stuck_calls() <= 5  # their threads sleep on, bounded


def test_edge_up_keeps_serving_while_every_worker_has_a_stuck_handler(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp]
) -> None:
    workers = 2
    up = EdgeUp(
        built["faults"], tmp_path / "state", "--workers", str(workers), "--deadline-ms", "1000"
    )
    launched.append(up)
    stuck = ["/sleep?seconds=60", "/sql/forever"] * workers  # more than the workers
    with httpx.Client(base_url=up.url, timeout=30) as http, ThreadPoolExecutor(len(stuck)) as pool:
        started = time.monotonic()
        answers = list(pool.map(http.get, stuck))
        assert [a.status_code for a in answers] == [504] * len(stuck)
        assert time.monotonic() - started < 3 * PROMPTLY  # not the 60 s of the sleeps
        assert http.get("/ok").json() == {"ok": True, "method": "GET"}
    assert "ran past the request deadline of 1000 ms" in up.output()


def test_while_too_many_handlers_are_stuck_new_ones_get_a_503(emulate) -> None:
    edge = emulate("faults", regions=["us-east"], deadline_ms=DEADLINE_MS)
    edge.host.engine.watchdog.max_stuck = 1  # this Emulator's own engine
    client = edge.client()
    assert client.get("/sleep?seconds=3").status_code == 504  # still asleep, abandoned
    refused = client.get("/ok")
    assert refused.status_code == 503
    assert refused.json() == {"error": "too many requests are still blocked past their deadline"}
    started = time.monotonic()
    while edge.host.engine.watchdog.stuck_calls() and time.monotonic() - started < 30:
        time.sleep(0.05)
    assert client.get("/ok").status_code == 200  # served again once the sleeper woke


def test_an_abandoned_handlers_transaction_is_rolled_back_at_once(client) -> None:
    resp, took = timed(lambda: client.post("/sql/sleep-in-transaction?seconds=20"))
    assert resp.status_code == 504
    assert "while blocked in a host call" in resp.json()["error"]
    assert took < PROMPTLY
    # Its write lock is gone now, not in 20 s, and its row never committed.
    write, took = timed(lambda: client.post("/sql", json={"sql": "INSERT INTO slept VALUES (2)"}))
    assert write.status_code == 200, write.text
    assert took < PROMPTLY
    rows = client.post("/sql", json={"sql": "SELECT x FROM slept"}).json()["rows"]
    assert rows == [[2]]
