"""Key-value replication between regions, through the real todo component, on virtual time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runtime.errors import EdgeError
from runtime.testing import Emulator

pytestmark = pytest.mark.e2e

REGIONS = ["us-east", "eu-west", "ap-south"]


@pytest.fixture
def edge(emulate: Callable[..., Emulator]) -> Emulator:
    return emulate("todo", regions=REGIONS, replication_lag="1s", jitter=0)


def titles(client) -> list[str]:
    return [t["title"] for t in client.get("/todos").json()]


def test_a_write_reaches_other_regions_after_the_lag(edge) -> None:
    us, eu, ap = (edge.client(r) for r in REGIONS)
    assert us.post("/todos", json={"title": "ship"}).status_code == 201
    assert titles(us) == ["ship"]  # read-your-writes in the writer's region
    assert titles(eu) == [] and titles(ap) == []
    edge.advance("999ms")
    assert titles(eu) == []
    edge.advance("1ms")
    assert titles(eu) == ["ship"] and titles(ap) == ["ship"]
    assert edge.replicas_agree("default")


def test_partitioned_region_catches_up_after_heal(edge) -> None:
    us, eu = edge.client("us-east"), edge.client("eu-west")
    edge.partition("eu-west")
    us.post("/todos", json={"title": "during the partition"})
    edge.advance("30s")
    assert titles(eu) == []
    assert not edge.replicas_agree("default")
    with pytest.raises(EdgeError, match="partitioned"):
        edge.settle()
    edge.heal()
    edge.advance("500ms")
    assert titles(eu) == []  # the change leaves when the link is back, then pays the lag
    edge.advance("500ms")
    assert titles(eu) == ["during the partition"]
    assert edge.settle() == 0
    assert edge.replicas_agree("default")


def test_conflicting_writes_resolve_last_writer_wins(edge) -> None:
    us, eu = edge.client("us-east"), edge.client("eu-west")
    todo = us.post("/todos", json={"title": "original"}).headers["location"]
    edge.settle()
    edge.partition("us-east", "eu-west")
    us.put(todo, json={"title": "from us-east"})
    edge.advance("10ms")
    eu.put(todo, json={"title": "from eu-west, later"})
    edge.advance("5s")
    edge.heal()
    edge.settle()
    for region in REGIONS:
        assert edge.client(region).get(todo).json()["title"] == "from eu-west, later"
    assert edge.replicas_agree("default")


def test_deletes_replicate_as_tombstones(edge) -> None:
    us, ap = edge.client("us-east"), edge.client("ap-south")
    todo = us.post("/todos", json={"title": "doomed"}).headers["location"]
    edge.settle()
    assert ap.delete(todo).status_code == 204
    edge.settle()
    assert us.get(todo).status_code == 404
    assert edge.replicas_agree("default")


def test_lag_can_change_per_link(edge) -> None:
    us, eu, ap = (edge.client(r) for r in REGIONS)
    edge.set_lag("10s", "us-east", "ap-south")
    us.post("/todos", json={"title": "x"})
    edge.advance("1s")
    assert titles(eu) == ["x"] and titles(ap) == []
    edge.advance("9s")
    assert titles(ap) == ["x"]


def test_same_seed_same_history(built: dict[str, Path], tmp_path: Path) -> None:
    """With jitter, the moment each write shows up elsewhere depends only on the seed."""

    def arrivals(state: Path, seed: int) -> list[float]:
        with Emulator(
            built["todo"],
            regions=["us-east", "eu-west"],
            state_dir=state,
            build=False,
            replication_lag="200ms",
            jitter="300ms",
            seed=seed,
        ) as edge:
            us, eu = edge.client("us-east"), edge.client("eu-west")
            for i in range(4):
                us.post("/todos", json={"title": f"t{i}"})
                edge.advance("50ms")
            start, seen, times = edge.now(), 0, []
            while seen < 4:
                edge.advance("10ms")
                now_seen = len(titles(eu))
                times += [round(edge.now() - start, 3)] * (now_seen - seen)
                seen = now_seen
            return times

    first = arrivals(tmp_path / "a", seed=42)
    assert first == arrivals(tmp_path / "b", seed=42)
    assert first != arrivals(tmp_path / "c", seed=7)
