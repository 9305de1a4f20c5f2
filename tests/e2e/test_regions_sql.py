"""SQL in the Turso model through the real sqlprobe component, on virtual time.

One primary region; writes from elsewhere run there and pay the round trip; the
writer's region reads its write at once; other replicas catch up after the lag;
a region cut off from the primary reads its replica and its writes time out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runtime.errors import EdgeError
from runtime.testing import Client, Emulator

from .edgeup import sql_probe

pytestmark = pytest.mark.e2e

REGIONS = ["us-east", "eu-west", "ap-south"]
SCHEMA = "CREATE TABLE log (id INTEGER PRIMARY KEY, region TEXT NOT NULL, n INTEGER UNIQUE)"


def sql(client: Client, *statements: Any, mode: str = "each") -> dict[str, Any]:
    """sqlprobe's answer in the client's region (the Emulator client speaks httpx's API)."""
    return sql_probe(client, client.region, *statements, mode=mode)  # type: ignore[arg-type]


def rows(client: Client) -> list[list[Any]]:
    result = sql(client, "SELECT id, region, n FROM log ORDER BY id")
    assert "error" not in result, result
    return result["results"][0]["rows"]


def insert(client: Client, n: int) -> dict[str, Any]:
    return sql(client, ["INSERT INTO log (region, n) VALUES (?, ?)", [client.region, n]])


def open_emulator(manifest: Path, state: Path, **options: Any) -> Emulator:
    options.setdefault("jitter", 0)
    edge = Emulator(
        manifest, regions=REGIONS, state_dir=state, build=False, replication_lag="1s", **options
    )
    assert "error" not in sql(edge.client(edge.primary_region), SCHEMA)
    edge.settle()
    return edge


@pytest.fixture
def edge(built: dict[str, Path], tmp_path: Path):
    with open_emulator(built["sqlprobe"], tmp_path) as emulator:
        yield emulator


def test_a_write_runs_on_the_primary_and_reaches_the_others_after_the_lag(edge) -> None:
    us, eu, ap = (edge.client(r) for r in REGIONS)
    start = edge.now()
    result = insert(eu, 1)
    assert result["results"][0]["rows_affected"] == 1
    # eu-west -> us-east and back, from the default latency matrix (40 ms each way).
    assert edge.now() - start == pytest.approx(0.080)
    assert rows(eu) == [[1, "eu-west", 1]]  # the writer reads its own write
    assert rows(us) == [[1, "eu-west", 1]]  # the primary has it
    assert rows(ap) == []  # ap-south's replica has not synced yet
    assert not edge.replicas_agree()
    edge.advance("999ms")
    assert rows(ap) == []
    edge.advance("1ms")
    assert rows(ap) == [[1, "eu-west", 1]]
    assert edge.replicas_agree()


def test_reads_never_pay_a_round_trip(edge) -> None:
    start = edge.now()
    for region in REGIONS:
        rows(edge.client(region))
    assert edge.now() == start


def test_the_primary_region_is_configurable(built: dict[str, Path], tmp_path: Path) -> None:
    with open_emulator(built["sqlprobe"], tmp_path, primary_region="ap-south") as edge:
        assert edge.status()["sql"][0]["primary"] == "ap-south"
        start = edge.now()
        insert(edge.client("ap-south"), 1)
        assert edge.now() == start
        insert(edge.client("us-east"), 2)
        assert edge.now() - start == pytest.approx(0.220)  # 110 ms each way


def test_a_batch_is_atomic_on_the_primary(edge) -> None:
    eu, ap = edge.client("eu-west"), edge.client("ap-south")
    insert(eu, 1)
    result = sql(
        ap,
        ["INSERT INTO log (region, n) VALUES (?, ?)", ["ap-south", 2]],
        ["INSERT INTO log (region, n) VALUES (?, ?)", ["ap-south", 1]],  # UNIQUE fails
        mode="batch",
    )
    assert result["error"] == "UNIQUE constraint failed: log.n"
    edge.settle()
    for region in REGIONS:
        assert rows(edge.client(region)) == [[1, "eu-west", 1]]


def test_a_handler_that_leaves_a_transaction_open_applies_nothing(edge) -> None:
    eu = edge.client("eu-west")
    result = sql(eu, ["INSERT INTO log (region, n) VALUES (?, ?)", ["eu-west", 5]], mode="abandon")
    assert result["results"][0]["rows_affected"] == 1  # it ran, inside the transaction
    edge.settle()
    for region in REGIONS:
        assert rows(edge.client(region)) == []


def test_a_transaction_reads_its_own_uncommitted_rows(edge) -> None:
    result = sql(
        edge.client("ap-south"),
        ["INSERT INTO log (region, n) VALUES (?, ?)", ["ap-south", 1]],
        "SELECT count(*) FROM log",
        mode="batch",
    )
    assert result["results"][1]["rows"] == [[1]]


def test_a_cut_off_region_serves_reads_and_fails_writes_after_the_timeout(edge) -> None:
    us, ap = edge.client("us-east"), edge.client("ap-south")
    insert(us, 1)
    edge.settle()
    edge.partition("ap-south")
    start = edge.now()
    result = insert(ap, 2)
    assert result["error"] == (
        "cannot reach the primary region us-east from ap-south (partitioned): "
        "gave up after 2s; the statement was not run"
    )
    assert edge.now() - start == pytest.approx(2.0)
    assert rows(ap) == [[1, "us-east", 1]]  # reads still work, from the replica
    insert(us, 3)  # the rest of the world goes on
    edge.advance("10s")
    assert rows(ap) == [[1, "us-east", 1]]  # ...without ap-south
    with pytest.raises(EdgeError, match="heal first"):
        edge.settle()
    edge.heal()
    edge.settle()
    assert rows(ap) == [[1, "us-east", 1], [2, "us-east", 3]]
    insert(ap, 4)
    assert [r[2] for r in rows(ap)] == [1, 3, 4]


def test_a_link_cut_between_two_replicas_does_not_matter(edge) -> None:
    edge.partition("eu-west", "ap-south")
    insert(edge.client("eu-west"), 1)
    edge.advance("1s")
    assert rows(edge.client("ap-south")) == [[1, "eu-west", 1]]


def test_status_shows_the_primary_and_which_replicas_are_behind(edge) -> None:
    insert(edge.client("eu-west"), 1)
    (database,) = edge.status()["sql"]
    assert database["database"] == "default" and database["primary"] == "us-east"
    current = {s["region"]: s["current"] for s in database["regions"]}
    assert current == {"us-east": True, "eu-west": True, "ap-south": False}
    assert not database["replicas_agree"]
    edge.settle()
    assert edge.status()["sql"][0]["replicas_agree"]


def test_the_same_seed_syncs_at_the_same_times(built: dict[str, Path], tmp_path: Path) -> None:
    def arrival(state: Path, seed: int) -> float:
        with open_emulator(built["sqlprobe"], state, jitter="500ms", seed=seed) as edge:
            insert(edge.client("us-east"), 1)
            start = edge.now()
            ap = edge.client("ap-south")
            while not rows(ap):
                edge.advance("10ms")
            return round(edge.now() - start, 3)

    first = arrival(tmp_path / "a", seed=7)
    assert arrival(tmp_path / "b", seed=7) == first
    assert 1.0 <= first <= 1.5


def test_replicas_are_read_only_to_the_host_too(edge) -> None:
    replicas = edge.sql_replicas()
    assert not replicas["us-east"].read_only
    assert replicas["eu-west"].read_only and replicas["ap-south"].read_only
