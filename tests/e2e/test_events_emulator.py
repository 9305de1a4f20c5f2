"""The Emulator's events: replication's kv.sent, kv.applied and kv.conflict on virtual time."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from runtime.testing import Emulator

pytestmark = pytest.mark.e2e

REGIONS = ["us-east", "eu-west"]


@pytest.fixture
def edge(emulate: Callable[..., Emulator]) -> Emulator:
    return emulate("kvprobe", regions=REGIONS, replication_lag="1s", jitter=0)


def test_a_write_is_sent_at_once_and_applied_after_the_lag(edge: Emulator) -> None:
    us = edge.client("us-east")
    assert us.put("/kv/colour", content=b"blue").status_code == 200
    edge.advance("10ms")
    sent = edge.events("kv.sent")
    assert [(e["key"], e["from"], e["to"], e["op"]) for e in sent] == [
        ("colour", "us-east", "eu-west", "set")
    ]
    assert edge.events("kv.applied") == []
    edge.advance("990ms")
    applied = edge.events("kv.applied")
    assert [(e["store"], e["key"], e["from"], e["to"]) for e in applied] == [
        ("default", "colour", "us-east", "eu-west")
    ]
    assert applied[0]["at"] - sent[0]["at"] == pytest.approx(1.0, abs=0.02)
    assert applied[0]["id"] > sent[0]["id"]
    assert edge.events("kv.conflict") == []


def test_writes_made_apart_by_a_partition_give_a_conflict_with_both_values(
    edge: Emulator,
) -> None:
    us, eu = edge.client("us-east"), edge.client("eu-west")
    edge.partition("eu-west")
    assert us.put("/kv/owner", content=b"alice").status_code == 200
    edge.advance("2s")
    assert eu.put("/kv/owner", content=b"bob").status_code == 200  # later: it wins
    edge.advance("2s")
    assert edge.events("kv.sent") == []  # nothing leaves over a cut link
    edge.heal()
    edge.settle()
    assert us.get("/kv/owner").text == eu.get("/kv/owner").text == "bob"
    (conflict,) = edge.events("kv.conflict")
    assert conflict["store"] == "default" and conflict["key"] == "owner"
    assert conflict["region"] == "eu-west"
    assert conflict["winner"] == {
        "region": "eu-west",
        "value": {"text": "bob", "hex": b"bob".hex(), "size": 3},
        "deleted": False,
    }
    assert conflict["loser"]["region"] == "us-east"
    assert conflict["loser"]["value"]["text"] == "alice"


def test_an_ordinary_overwrite_from_another_region_is_no_conflict(edge: Emulator) -> None:
    us, eu = edge.client("us-east"), edge.client("eu-west")
    us.put("/kv/n", content=b"1")
    edge.settle()
    eu.put("/kv/n", content=b"2")  # eu-west saw 1 before writing 2
    edge.settle()
    us.delete("/kv/n")
    edge.settle()
    assert edge.events("kv.conflict") == []
    ops = [(e["from"], e["op"]) for e in edge.events("kv.applied")]
    assert ops == [("us-east", "set"), ("eu-west", "set"), ("us-east", "delete")]


def test_replicas_catching_up_are_sql_synced_events(
    emulate: Callable[..., Emulator],
) -> None:
    edge = emulate(
        "sqlprobe", regions=["us-east", "eu-west", "ap-south"], replication_lag="1s", jitter=0
    )
    eu = edge.client("eu-west")
    schema = "CREATE TABLE t (n INTEGER)"
    answer = eu.post("/sql", json={"statements": [schema], "mode": "each"})
    assert answer.status_code == 200, answer.text
    # The writer's replica syncs at once (it reads its own write), the others after the lag.
    (own,) = edge.events("sql.synced")
    assert (own["database"], own["region"]) == ("default", "eu-west")
    assert own["pages"] >= 1 and own["ms"] >= 0
    edge.advance("1s")
    later = [e["region"] for e in edge.events("sql.synced")[1:]]
    assert later == ["ap-south"]  # eu-west has nothing left to catch up
