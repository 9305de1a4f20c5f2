"""The recorded key-value history and its checkers, through the real todo component."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runtime.stores._sqlite import driver
from runtime.testing import Emulator
from runtime.testing.kv_history import History, Op, monotonic_reads, read_your_writes

pytestmark = pytest.mark.e2e

REGIONS = ["us-east", "eu-west", "ap-south"]


@pytest.fixture
def edge(emulate: Callable[..., Emulator]) -> Emulator:
    return emulate("todo", regions=REGIONS, replication_lag="1s", jitter="300ms", seed=11)


def titles(edge: Emulator, region: str) -> list[str]:
    return [t["title"] for t in edge.client(region).get("/todos").json()]


def key(location: str) -> str:
    """The store key of the todo at `location` (/todos/<id>)."""
    return "todo:" + location.rsplit("/", 1)[1]


def roll_back(edge: Emulator, region: str, key: str, to: Op) -> None:
    """Overwrite a replica's row with an older write, bypassing LWW (a corrupt replica)."""
    path = edge.host.regions[region].stores.kv("default").path
    with driver.connect(path) as conn:
        conn.execute(
            "UPDATE entries SET value = ?, tombstone = 0, hlc = ?, origin = ? WHERE key = ?",
            (to.value, to.hlc, to.origin, key),
        )
    conn.close()


def test_checks_pass_through_lag_partitions_and_heal(edge: Emulator) -> None:
    us, eu, ap = (edge.client(r) for r in REGIONS)
    one = us.post("/todos", json={"title": "one"}).headers["location"]
    two = us.post("/todos", json={"title": "two"}).headers["location"]
    assert titles(edge, "us-east") == ["one", "two"]
    assert titles(edge, "eu-west") == []  # not replicated yet
    edge.advance("700ms")
    for region in REGIONS:
        titles(edge, region)  # some regions may have some of it: reads must stay monotonic
    edge.advance("1s")
    assert titles(edge, "eu-west") == ["one", "two"] == titles(edge, "ap-south")

    # eu-west is cut off; both sides edit todo one, and ap-south deletes todo two.
    edge.partition("eu-west")
    assert eu.put(one, json={"title": "eu edit"}).status_code == 200
    edge.advance("20ms")
    assert us.put(one, json={"title": "us edit, later"}).status_code == 200
    assert ap.delete(two).status_code == 204
    assert eu.get(one).json()["title"] == "eu edit"  # its own write
    edge.set_lag("3s", "us-east", "ap-south")
    edge.advance("2s")
    assert ap.get(one).json()["title"] == "one"  # us-east's edit is 3 s away
    assert titles(edge, "eu-west") == ["eu edit", "two"]  # still cut off
    edge.advance("2s")
    assert titles(edge, "ap-south") == ["us edit, later"]
    edge.heal()
    for _ in range(6):
        edge.advance("300ms")
        for region in REGIONS:
            titles(edge, region)
    eu.post("/todos", json={"title": "after heal"})

    edge.check_read_your_writes()
    edge.check_monotonic_reads()
    edge.check_convergence()
    for region in REGIONS:
        assert sorted(titles(edge, region)) == ["after heal", "us edit, later"]

    history = edge.history
    assert {op.region for op in history.ops()} == set(REGIONS)
    # The history saw replication: reads in one region of another region's writes.
    assert any(op.is_read and op.origin not in (None, op.region) for op in history.ops())
    assert any(op.kind == "delete" for op in history.ops(region="ap-south", key=key(two)))
    assert history.ops(region="eu-west", key=key(one), kind="set")[0].value is not None


def test_the_checker_catches_a_replica_that_goes_back(edge: Emulator) -> None:
    """A replica rolled back behind LWW's back: the recorded reads show it."""
    us, eu = edge.client("us-east"), edge.client("eu-west")
    todo = us.post("/todos", json={"title": "first"}).headers["location"]
    edge.settle()
    first = edge.history.ops(region="us-east", key=key(todo), kind="set")[-1]
    assert eu.get(todo).json()["title"] == "first"
    us.put(todo, json={"title": "second"})
    edge.settle()
    assert eu.get(todo).json()["title"] == "second"
    edge.check_read_your_writes()
    edge.check_monotonic_reads()

    roll_back(edge, "eu-west", key(todo), first)
    assert eu.get(todo).json()["title"] == "first"  # the stale value is served
    with pytest.raises(AssertionError, match="monotonic reads violation") as err:
        edge.check_monotonic_reads()
    assert f"in eu-west, get({key(todo)!r})" in str(err.value)
    assert "older than the earlier read" in str(err.value)
    with pytest.raises(AssertionError, match="replicas differ"):
        edge.check_convergence()

    # The writer's own region, rolled back, no longer reads its write.
    roll_back(edge, "us-east", key(todo), first)
    assert us.get(todo).json()["title"] == "first"
    with pytest.raises(AssertionError, match="read-your-writes violation") as err:
        edge.check_read_your_writes()
    assert "returned an older write" in str(err.value)


def test_the_checkers_catch_a_crafted_stale_read_in_a_real_history(edge: Emulator) -> None:
    us, ap = edge.client("us-east"), edge.client("ap-south")
    todo = us.post("/todos", json={"title": "a"}).headers["location"]
    us.put(todo, json={"title": "b"})
    edge.settle()
    assert ap.get(todo).json()["title"] == "b"
    real = edge.history.ops()
    assert read_your_writes(edge.history) == [] and monotonic_reads(edge.history) == []

    # Replay the real history, then a read in each region that returns the first write.
    first = edge.history.ops(region="us-east", key=key(todo), kind="set")[0]
    stale = [
        Op(r, edge.now(), "default", key(todo), "get", first.value, first.hlc, first.origin, True)
        for r in ("us-east", "ap-south")
    ]
    crafted = History([*real, *stale])
    [ryw] = read_your_writes(crafted)
    assert ryw.ops[1].region == "us-east" and ryw.ops[0].kind == "set"
    [mono] = monotonic_reads(crafted)
    assert mono.ops[1].region == "ap-south" and mono.ops[0].value != first.value


def test_history_can_be_turned_off(built: dict[str, Path], tmp_path: Path) -> None:
    with Emulator(
        built["todo"], regions=REGIONS[:2], state_dir=tmp_path, build=False, record_history=False
    ) as edge:
        edge.client("us-east").post("/todos", json={"title": "x"})
        edge.settle()
        assert edge.replicas_agree()
        with pytest.raises(RuntimeError, match="record_history"):
            edge.check_read_your_writes()
