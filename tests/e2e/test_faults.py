"""A misbehaving app: every fault gets a clear answer and the next request still works."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.stores import MAX_KEY_BYTES, MAX_VALUE_BYTES
from runtime.testing import Emulator

pytestmark = pytest.mark.e2e

# Short enough that the loop test is quick, long enough for a 1 MiB value on a
# loaded 2-core machine running the suite on both cores.
DEADLINE_MS = 2000


@pytest.fixture(scope="module")
def edge(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("faults")
    with Emulator(
        built["faults"],
        regions=["us-east"],
        state_dir=state,
        build=False,
        deadline_ms=DEADLINE_MS,
        memory_limit_mb=96,
        env={},
    ) as emulator:
        yield emulator


@pytest.fixture
def client(edge):
    return edge.client()


def test_exception_is_a_500_without_internals(client, caplog) -> None:
    resp = client.get("/raise")
    assert resp.status_code == 500
    assert resp.json() == {"error": "internal server error"}
    assert "secret" not in resp.text
    assert "secret internal detail" in caplog.text  # the traceback reaches the log
    assert client.get("/ok").status_code == 200


def test_infinite_loop_is_stopped_by_the_deadline(client) -> None:
    resp = client.get("/loop")
    assert resp.status_code == 504
    assert (
        resp.json()["error"]
        == f"the request ran past its deadline of {DEADLINE_MS} ms in the handler's code"
    )
    assert client.get("/ok").json() == {"ok": True, "method": "GET"}


def test_runaway_allocation_hits_the_memory_limit(client) -> None:
    resp = client.get("/alloc")
    assert resp.status_code == 500
    assert client.get("/ok").status_code == 200


def test_undeclared_store_is_access_denied(client) -> None:
    resp = client.get("/kv/undeclared")
    assert resp.status_code == 403
    assert resp.text == "access-denied"


def test_kv_value_limit_is_exact(client) -> None:
    assert client.post(f"/kv/big?size={MAX_VALUE_BYTES}").status_code == 200
    over = client.post(f"/kv/big?size={MAX_VALUE_BYTES + 1}")
    assert over.status_code == 413
    assert over.text.startswith("too large")
    assert str(MAX_VALUE_BYTES) in over.text


def test_kv_key_limit_is_exact(client) -> None:
    assert client.post(f"/kv/big-key?size={MAX_KEY_BYTES}").status_code == 200
    assert client.post(f"/kv/big-key?size={MAX_KEY_BYTES + 1}").status_code == 413


def test_invalid_sql_carries_sqlites_message(client) -> None:
    resp = client.post("/sql", json={"sql": "SELEC 1"})
    assert resp.status_code == 400
    assert resp.json()["error"] == 'near "SELEC": syntax error'
    missing = client.post("/sql", json={"sql": "SELECT * FROM nowhere"})
    assert "no such table: nowhere" in missing.json()["error"]


def test_sql_values_round_trip(client) -> None:
    params = [2**63 - 1, -(2**63), 2.5, "ünïcode", None, True]
    resp = client.post("/sql", json={"sql": "SELECT ?, ?, ?, ?, ?, ?", "params": params})
    assert resp.json()["rows"] == [[2**63 - 1, -(2**63), 2.5, "ünïcode", None, 1]]


def test_sql_write_reports_changes_and_rowid(client) -> None:
    client.post("/sql", json={"sql": "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v)"})
    first = client.post("/sql", json={"sql": "INSERT INTO t (v) VALUES (?)", "params": ["a"]})
    assert first.json()["rows_affected"] == 1
    rowid = first.json()["last_insert_rowid"]
    assert rowid >= 1
    second = client.post("/sql", json={"sql": "INSERT INTO t (v) VALUES ('b')"}).json()
    assert second["last_insert_rowid"] == rowid + 1
    updated = client.post("/sql", json={"sql": "UPDATE t SET v = 'c'"}).json()
    assert updated["rows_affected"] >= 2
    assert updated["last_insert_rowid"] is None


def test_batch_is_atomic(client) -> None:
    client.post("/sql", json={"sql": "CREATE TABLE IF NOT EXISTS u (id INTEGER PRIMARY KEY)"})
    ok = client.post(
        "/sql/batch",
        json={
            "statements": [
                ["INSERT INTO u (id) VALUES (?)", [1]],
                ["INSERT INTO u (id) VALUES (?)", [2]],
            ]
        },
    )
    assert ok.json() == {"rows_affected": [1, 1]}
    failed = client.post(
        "/sql/batch",
        json={
            "statements": [
                ["INSERT INTO u (id) VALUES (?)", [3]],
                ["INSERT INTO u (id) VALUES (?)", [1]],
            ]
        },
    )
    assert failed.status_code == 400
    assert "UNIQUE constraint failed" in failed.json()["error"]
    rows = client.post("/sql", json={"sql": "SELECT id FROM u ORDER BY id"}).json()["rows"]
    assert rows == [[1], [2]]  # the 3 of the failed batch was rolled back


def test_malformed_json_is_a_400(client) -> None:
    resp = client.post(
        "/echo-json", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400
    assert "not valid JSON" in resp.json()["error"]


def test_spin_request_headers(client) -> None:
    headers = client.get("/headers?x=1").json()
    assert headers["spin-full-url"] == "http://localhost/headers?x=1"
    assert headers["spin-matched-route"] == "/..."
    assert headers["spin-path-info"] == "/headers"
    assert headers["spin-component-route"] == ""
    assert headers["spin-base-path"] == "/"
    assert headers["spin-client-addr"].startswith("127.0.0.1:")


def test_variables(client) -> None:
    assert client.get("/var/greeting").json() == {"value": "hello"}
    assert client.get("/var/Not_Valid").status_code == 500


def test_variable_from_environment(built: dict[str, Path], tmp_path: Path) -> None:
    env = {"SPIN_VARIABLE_GREETING": "bonjour"}
    with Emulator(
        built["faults"], regions=["us-east"], state_dir=tmp_path, build=False, env=env
    ) as edge:
        assert edge.client().get("/var/greeting").json() == {"value": "bonjour"}
