"""Writes silently lost to last-writer-wins, through real components: caught, and avoided."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from runtime.testing import Emulator

pytestmark = pytest.mark.e2e

REGIONS = ["us-east", "eu-west", "ap-south"]


def test_the_checker_catches_ids_from_a_counter_in_each_region(
    emulate: Callable[..., Emulator],
) -> None:
    edge = emulate("kvprobe", regions=REGIONS[:2], replication_lag="1s", jitter=0)
    us, eu = edge.client("us-east"), edge.client("eu-west")
    # The old todo demo's pattern: both regions read the counter before either write arrives.
    assert us.post("/kv/seq/todo", content=b"bought milk").text == "1"
    assert eu.post("/kv/seq/todo", content=b"walked the dog").text == "1"
    edge.settle()
    kept = {edge.client(region).get("/kv/todo:1").content for region in REGIONS[:2]}
    assert len(kept) == 1  # the replicas agree, on one of the two
    with pytest.raises(AssertionError, match="lost write violation") as err:
        edge.check_no_lost_writes()
    message = str(err.value)
    loser = "us-east" if kept == {b"walked the dog"} else "eu-west"
    winner = "eu-west" if loser == "us-east" else "us-east"
    assert f"{loser}'s acknowledged set('todo:1')" in message
    assert f"overwritten by {winner}'s set" in message
    assert "made without having seen it" in message
    # The other checkers see nothing wrong: every replica converged, reads were fine.
    edge.check_read_your_writes()
    edge.check_monotonic_reads()
    edge.check_convergence()


def test_creates_one_after_another_lose_nothing(emulate: Callable[..., Emulator]) -> None:
    edge = emulate("kvprobe", regions=REGIONS[:2], replication_lag="1s", jitter=0)
    assert edge.client("us-east").post("/kv/seq/todo", content=b"a").text == "1"
    edge.settle()  # eu-west has seen the counter and the item before it writes
    assert edge.client("eu-west").post("/kv/seq/todo", content=b"b").text == "2"
    edge.settle()
    edge.check_no_lost_writes()


def test_the_demo_loses_no_todo_created_at_once_in_every_region(
    emulate: Callable[..., Emulator],
) -> None:
    edge = emulate("todo", regions=REGIONS, replication_lag="1s", jitter="300ms", seed=5)
    clients = {region: edge.client(region) for region in REGIONS}
    created = []
    for round_ in range(4):
        if round_ == 2:
            edge.partition("ap-south")
        for region, client in clients.items():
            answer = client.post("/todos", json={"title": f"{region} {round_}"})
            assert answer.status_code == 201
            created.append(answer.json()["id"])
        edge.advance("150ms")
    edge.heal()
    edge.settle()
    assert len(set(created)) == len(created) == 12
    for client in clients.values():
        assert sorted(t["id"] for t in client.get("/todos").json()) == sorted(created)
    edge.check_no_lost_writes()
    edge.check_convergence()
