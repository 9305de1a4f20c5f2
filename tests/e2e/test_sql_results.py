"""SQL results reach a real component exactly, and one over the limit is a DatabaseError.

The rows are lowered to wasmtime's C API in one pass (runtime/wasm/rows.py);
these check every kind of value through the sqlprobe app, and that a result
without end stops at the limit instead of growing the worker's memory.
"""

from __future__ import annotations

import pytest

from runtime.stores.results import MAX_RESULT_BYTES

pytestmark = pytest.mark.e2e

COUNTED = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT ?) "
ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "


@pytest.fixture
def probe(emulate):
    client = emulate("sqlprobe", regions=["us-east"], deadline_ms=30_000).client()

    def run(*statements):
        resp = client.post("/sql", json={"statements": list(statements)})
        assert resp.status_code == 200, resp.text
        return resp.json()

    return run


def test_every_kind_of_value_round_trips_in_many_rows(probe) -> None:
    select = (
        COUNTED + "SELECT x, -9223372036854775808, 9223372036854775807, x / 7.0, 1e308, '', "
        "'ünïcødé ' || x, x'', x'00ff', NULL FROM c"
    )
    result = probe([select, [3000]])["results"][0]
    assert len(result["rows"]) == 3000
    for x, row in enumerate(result["rows"], start=1):
        assert row == [
            x,
            -(2**63),
            2**63 - 1,
            x / 7.0,
            1e308,
            "",
            f"ünïcødé {x}",
            {"hex": ""},
            {"hex": "00ff"},
            None,
        ]
    assert result["columns"][0] == "x"


def test_rows_of_different_shapes_and_empty_results(probe) -> None:
    results = probe("SELECT 1 WHERE 0", "SELECT 1, 2, 3", [COUNTED + "SELECT NULL FROM c", [5]])
    assert [r["rows"] for r in results["results"]] == [[], [[1, 2, 3]], [[None]] * 5]


def test_a_result_without_end_is_a_database_error(probe) -> None:
    answer = probe(ENDLESS + "SELECT x, printf('%.*c', 100, 'x') FROM c")
    assert answer["error"].startswith(
        f"result too large: the statement returns more than {MAX_RESULT_BYTES} bytes"
    )
    assert probe("SELECT 1")["results"][0]["rows"] == [[1]]  # and the next one works


def test_blobs_up_to_the_limit_arrive_and_past_it_are_refused(emulate, probe) -> None:
    faults = emulate("faults", regions=["us-east"], deadline_ms=30_000).client()
    largest = MAX_RESULT_BYTES - 32  # one value: the limit less its count of 32
    assert faults.get(f"/sql/blob?size={largest}").text == str(largest)
    too_long = faults.get(f"/sql/blob?size={largest + 33}")
    assert too_long.status_code == 413
    assert too_long.text == "string or blob too big"
    mib = 1024 * 1024
    over = probe([COUNTED + "SELECT zeroblob(1048576) FROM c", [MAX_RESULT_BYTES // mib + 1]])
    assert over["error"].startswith("result too large")
