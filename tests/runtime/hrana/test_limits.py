"""Over Hrana a statement stops at the statement time limit and results stay bounded."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from runtime.hrana import statements
from runtime.hrana.server import DEFAULT_MAX_THREADS
from runtime.stores import SqlDatabase
from runtime.stores.results import MAX_RESULT_BYTES

from .helpers import rows, stmt

FOREVER = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
MIB_ROWS = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT ?) "
    "SELECT zeroblob(1048576) FROM c"
)


@pytest.fixture
def short_limit(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(statements, "STATEMENT_TIME_LIMIT", 0.5)
    return 0.5


def test_a_statement_that_never_ends_is_interrupted(http: httpx.Client, short_limit: float) -> None:
    response = http.post("/v1/execute", json={"stmt": stmt(FOREVER)})
    assert response.status_code == 400
    assert response.json() == {
        "message": "interrupted: the statement ran past the statement time limit of 0.5 s; "
        "the statement was rolled back",
        "code": "SQLITE_INTERRUPT",
    }


def test_more_endless_statements_than_threads_all_come_back(
    http: httpx.Client, short_limit: float
) -> None:
    count = DEFAULT_MAX_THREADS + 2

    def endless(_: int) -> httpx.Response:
        return http.post("/v1/execute", json={"stmt": stmt(FOREVER)})

    with ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(endless, range(count)))
    assert {a.json()["code"] for a in answers} == {"SQLITE_INTERRUPT"}
    served = http.post("/v1/execute", json={"stmt": stmt("SELECT 1")})
    assert rows(served.json()["result"]) == [[1]]


def test_an_interrupted_insert_commits_nothing(
    http: httpx.Client, db: SqlDatabase, short_limit: float
) -> None:
    endless_insert = (
        "INSERT INTO t (v) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        "SELECT x FROM c"
    )
    answer = http.post("/v1/execute", json={"stmt": stmt(endless_insert)})
    assert answer.json()["code"] == "SQLITE_INTERRUPT"
    assert db.execute("SELECT count(*) FROM t").rows == [(0,)]


def test_a_result_over_the_limit_is_an_error(http: httpx.Client) -> None:
    over = MAX_RESULT_BYTES // (1024 * 1024) + 1
    response = http.post("/v1/execute", json={"stmt": stmt(MIB_ROWS, over)})
    assert response.status_code == 400
    assert response.json()["code"] == "SQLITE_TOOBIG"
    assert response.json()["message"].startswith("result too large")


def test_the_results_of_one_batch_share_the_limit(http: httpx.Client) -> None:
    third = MAX_RESULT_BYTES // (1024 * 1024) // 3 + 1  # three of these pass the limit
    steps = [{"stmt": stmt(MIB_ROWS, third)} for _ in range(3)] + [{"stmt": stmt("SELECT 1")}]
    result = http.post("/v1/batch", json={"batch": {"steps": steps}}).json()["result"]
    assert [e is None for e in result["step_errors"]] == [True, True, False, True]
    assert result["step_errors"][2]["code"] == "SQLITE_TOOBIG"
    assert "the batch's results take more than" in result["step_errors"][2]["message"]
    assert len(rows(result["step_results"][0])) == third
    assert rows(result["step_results"][3]) == [[1]]
