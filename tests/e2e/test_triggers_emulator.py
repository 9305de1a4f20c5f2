"""Redis and cron triggers in the Emulator: the real components, the real Redis server.

tests/apps/triggerprobe records what its handlers got in each region's KV
store (GET /state); examples/jobs counts events and rolls them up into Turso.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from runtime.errors import EdgeError
from runtime.testing import Emulator

from ..runtime.outbound.conftest import needs_redis_server

pytestmark = pytest.mark.e2e

REGIONS = ["us-east", "eu-west", "ap-south"]
TEN_MINUTES = 600


@pytest.fixture
def probe(emulate: Callable[..., Emulator]) -> Callable[..., Emulator]:
    needs_redis_server()

    def make(**options: Any) -> Emulator:
        options.setdefault("jitter", 0)
        return emulate("triggerprobe", **options)

    return make


@pytest.fixture
def other_client(request: pytest.FixtureRequest) -> Iterator[Callable[[Emulator], redis.Redis]]:
    """A Redis client of the test's own on an Emulator's server, closed at the end."""
    made: list[redis.Redis] = []

    def make(edge: Emulator) -> redis.Redis:
        assert edge.redis is not None
        client = redis.Redis.from_url(edge.redis.address, protocol=2)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def state(edge: Emulator, region: str) -> dict[str, Any]:
    response = edge.client(region).get("/state")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def record_of(payload: bytes) -> dict[str, Any]:
    return {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}


def test_a_message_is_handled_in_every_region(probe: Callable[..., Emulator]) -> None:
    edge = probe()
    runs = edge.publish("events", b"hello")
    assert list(runs) == REGIONS
    assert all(run.ok and run.error is None for run in runs.values())
    assert list(edge.publish("audit", "audit trail")) == REGIONS
    for region in REGIONS:
        assert state(edge, region)["messages"] == [
            record_of(b"hello"),
            record_of(b"audit trail"),
        ]
    runs_made = [(r.kind, r.name, r.component, r.region, r.ok) for r in edge.trigger_runs]
    assert runs_made == [("redis", "events", "jobs", region, True) for region in REGIONS] + [
        ("redis", "audit", "jobs", region, True) for region in REGIONS
    ]
    assert [r.size for r in edge.trigger_runs] == [5] * 3 + [11] * 3
    # The history of the stores says which trigger made each write.
    writes = edge.history.writes()
    assert [(op.region, op.source) for op in writes] == [
        (region, f"redis:{channel}") for channel in ("events", "audit") for region in REGIONS
    ]
    assert "[redis:audit]" in str(writes[-1])
    assert {op.source for op in edge.history.ops(kind="get", key="messages")} >= {"http"}


def test_a_restricted_channel_runs_only_in_its_regions(probe: Callable[..., Emulator]) -> None:
    edge = probe(trigger_regions={"redis:audit": ["us-east"], "cron:jobs": ["eu-west"]})
    assert [s.regions for s in edge.triggers.redis] == [tuple(REGIONS), ("us-east",)]
    assert list(edge.publish("audit", b"a")) == ["us-east"]
    assert list(edge.publish("events", b"e")) == REGIONS
    # Before replication, each region holds only what it handled itself.
    assert state(edge, "us-east")["messages"] == [record_of(b"a"), record_of(b"e")]
    assert state(edge, "eu-west")["messages"] == [record_of(b"e")]
    assert list(edge.run_cron("jobs")) == ["eu-west"]
    with pytest.raises(EdgeError, match="no Redis trigger of the app subscribes to 'nobody'"):
        edge.publish("nobody", b"x")


def test_the_channel_comes_from_a_variable(probe: Callable[..., Emulator]) -> None:
    edge = probe(regions=["us-east"], env={"SPIN_VARIABLE_CHANNEL": "news"})
    assert sorted(s.channel for s in edge.triggers.redis) == ["audit", "news"]
    assert edge.publish("news", b"n")["us-east"].ok
    with pytest.raises(EdgeError, match="'events'"):
        edge.publish("events", b"e")
    assert state(edge, "us-east")["messages"] == [record_of(b"n")]


def test_a_one_mebibyte_payload(probe: Callable[..., Emulator]) -> None:
    edge = probe(regions=["us-east", "eu-west"])
    payload = random.Random(1).randbytes(1024 * 1024)
    runs = edge.publish("events", payload)
    assert all(run.ok for run in runs.values()), runs
    for region in ("us-east", "eu-west"):
        assert state(edge, region)["messages"] == [record_of(payload)]
    assert [r.size for r in edge.trigger_runs] == [len(payload)] * 2


def test_a_handler_that_raises_or_loops_fails_its_run_and_the_next_one_is_handled(
    probe: Callable[..., Emulator], caplog: pytest.LogCaptureFixture
) -> None:
    edge = probe(regions=["us-east", "eu-west"], deadline_ms=1000)
    raised = edge.publish("events", b"raise")
    assert [run.ok for run in raised.values()] == [False, False]
    # Spin's inbound-redis error is an enum: the reason is the guest's last log line,
    # and the whole traceback is in the log.
    assert [run.error for run in raised.values()] == [
        "the handler returned Spin's error (RuntimeError: asked to fail)"
    ] * 2
    assert "RuntimeError: asked to fail" in caplog.text
    looped = edge.publish("events", b"loop")
    assert [run.ok for run in looped.values()] == [False, False]
    assert all("deadline of 1000 ms" in (run.error or "") for run in looped.values())
    assert all(run.ok for run in edge.publish("events", b"after").values())
    assert all(run.ok for run in edge.run_cron("jobs").values())
    for region in ("us-east", "eu-west"):
        assert state(edge, region)["messages"] == [record_of(b"after")]
        assert state(edge, region)["ticks"] == [int(edge.now())]
    outcomes = [(r.kind, r.region, r.ok) for r in edge.trigger_runs]
    assert outcomes == [
        ("redis", "us-east", False),
        ("redis", "eu-west", False),
        ("redis", "us-east", False),
        ("redis", "eu-west", False),
        ("redis", "us-east", True),
        ("redis", "eu-west", True),
        ("cron", "us-east", True),
        ("cron", "eu-west", True),
    ]
    assert str(edge.trigger_runs[0]).endswith(
        "us-east redis:events -> jobs (size 5) failed: "
        "the handler returned Spin's error (RuntimeError: asked to fail)"
    )


def test_messages_published_by_another_client_are_delivered_in_order(
    probe: Callable[..., Emulator], other_client: Callable[[Emulator], redis.Redis]
) -> None:
    edge = probe(regions=["us-east"])
    other = other_client(edge)
    assert other.publish("events", b"first") == 1  # the Emulator's subscription
    assert other.publish("audit", b"second") == 1
    assert state(edge, "us-east")["messages"] == []  # waits for the Emulator to read it
    edge.publish("events", b"third")
    assert state(edge, "us-east")["messages"] == [
        record_of(b"first"),
        record_of(b"second"),
        record_of(b"third"),
    ]
    other.publish("events", b"at advance")
    edge.advance("1s")
    assert state(edge, "us-east")["messages"][-1] == record_of(b"at advance")
    other.publish("audit", b"delivered")
    other.publish("events", b"on demand")
    delivered = edge.deliver_messages()
    assert [(r.name, r.size, r.ok) for r in delivered] == [("audit", 9, True), ("events", 9, True)]
    assert edge.deliver_messages() == []
    assert len(state(edge, "us-east")["messages"]) == 6


def test_cron_fires_on_the_virtual_clock_over_a_day(probe: Callable[..., Emulator]) -> None:
    regions = ["us-east", "eu-west"]
    edge = probe(regions=regions)
    start = int(edge.now())
    assert start % TEN_MINUTES == 0  # the virtual clock starts at midnight UTC
    edge.advance(TEN_MINUTES - 1)
    assert edge.trigger_runs == []
    edge.advance(1)
    assert [(r.region, r.time, r.timestamp) for r in edge.trigger_runs] == [
        (region, float(start + TEN_MINUTES), start + TEN_MINUTES) for region in regions
    ]
    edge.advance(24 * 3600 - TEN_MINUTES)
    expected = [start + TEN_MINUTES * k for k in range(1, 145)]
    for region in regions:
        assert state(edge, region)["ticks"] == expected
        ran = [r for r in edge.trigger_runs if r.region == region]
        assert [r.timestamp for r in ran] == expected
        assert all(r.ok and r.kind == "cron" and r.name == "jobs" for r in ran)
        assert all(r.time == r.timestamp for r in ran)
    assert edge.now() == start + 24 * 3600
    edge.check_convergence()


def test_settle_does_not_fire_cron_and_the_next_advance_catches_up(
    probe: Callable[..., Emulator],
) -> None:
    edge = probe(regions=["us-east", "eu-west"], replication_lag="15m")
    start = int(edge.now())
    edge.publish("events", b"x")
    assert edge.settle() == 15 * 60
    assert edge.trigger_runs[2:] == []  # the firing at 10 min has not run
    edge.advance(0)
    late = edge.trigger_runs[2:]
    assert [(r.region, r.timestamp, r.time) for r in late] == [
        (region, start + TEN_MINUTES, float(start + 15 * 60)) for region in ("us-east", "eu-west")
    ]


def scenario(edge: Emulator, other: redis.Redis) -> None:
    for i in range(3):
        edge.publish("events", f"message {i}")
        other.publish("audit", f"other {i}")
        edge.advance("7m")
    edge.run_cron("jobs", "ap-south")
    edge.advance("40m")


def test_same_seed_same_runs(
    probe: Callable[..., Emulator], other_client: Callable[[Emulator], redis.Redis]
) -> None:
    def run(seed: int) -> tuple[list[Any], list[Any]]:
        edge = probe(seed=seed, replication_lag="2s", jitter="1500ms")
        scenario(edge, other_client(edge))
        runs = [(r.kind, r.name, r.region, r.time, r.ok, r.timestamp) for r in edge.trigger_runs]
        ops = [
            (op.region, op.time, op.key, op.kind, op.value, op.hlc, op.origin, op.source)
            for op in edge.history.ops()
        ]
        return runs, ops

    first = run(7)
    assert first == run(7)
    runs = first[0]
    assert len([r for r in runs if r[0] == "cron"]) == 3 * 6 + 1  # 6 firings in 61 min
    assert len([r for r in runs if r[0] == "redis"]) == 6 * 3


def test_run_cron_fires_now_and_leaves_the_schedule_alone(probe: Callable[..., Emulator]) -> None:
    edge = probe(regions=["us-east", "eu-west"])
    start = int(edge.now())
    edge.advance("90s")
    runs = edge.run_cron("jobs")
    assert list(runs) == ["us-east", "eu-west"] and all(r.ok for r in runs.values())
    assert list(edge.run_cron("jobs", region="eu-west")) == ["eu-west"]
    assert state(edge, "us-east")["ticks"] == [start + 90]
    assert state(edge, "eu-west")["ticks"] == [start + 90, start + 90]
    edge.advance("510s")  # the schedule's first firing, at 10 minutes
    assert [r.timestamp for r in edge.trigger_runs] == [start + 90] * 3 + [start + 600] * 2
    with pytest.raises(EdgeError, match="has no cron trigger"):
        edge.run_cron("nope")
    with pytest.raises(KeyError):
        edge.run_cron("jobs", region="mars")


def test_a_cron_jobs_writes_replicate_to_the_other_regions(probe: Callable[..., Emulator]) -> None:
    edge = probe(trigger_regions={"cron:jobs": ["us-east"]}, replication_lag="1s")
    start = int(edge.now())
    edge.advance("10m")
    assert state(edge, "us-east")["ticks"] == [start + TEN_MINUTES]
    assert state(edge, "eu-west")["ticks"] == []  # one second of lag to go
    edge.advance("1s")
    for region in REGIONS:
        assert state(edge, region)["ticks"] == [start + TEN_MINUTES]
    (write,) = edge.history.writes()
    assert (write.region, write.key, write.source, write.time) == (
        "us-east",
        "ticks",
        "cron:jobs",
        float(start + TEN_MINUTES),
    )
    edge.check_convergence()
    edge.check_read_your_writes()
    edge.check_monotonic_reads()
    edge.check_no_lost_writes()


# --- examples/jobs --------------------------------------------------------------------


@pytest.fixture
def jobs(emulate: Callable[..., Emulator]) -> Callable[..., Emulator]:
    needs_redis_server()

    def make(**options: Any) -> Emulator:
        options.setdefault("jitter", 0)
        return emulate("jobs", **options)

    return make


def stats(edge: Emulator, region: str) -> dict[str, Any]:
    response = edge.client(region).get("/stats")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def event(kind: str) -> str:
    return json.dumps({"type": kind})


def test_jobs_counts_events_and_rolls_them_up_every_minute(
    jobs: Callable[..., Emulator], caplog: pytest.LogCaptureFixture
) -> None:
    # Counted in one region, rolled up in all three.
    edge = jobs(trigger_regions={"redis:events": ["us-east"]})
    start = int(edge.now())
    for kind in ("signup", "signup", "order"):
        assert list(edge.publish("events", event(kind))) == ["us-east"]
    bad = edge.publish("events", b"not json")["us-east"]
    assert not bad.ok and "ValueError: an event is JSON, not b'not json'" in caplog.text
    # A handler publishes too: POST /events, delivered at the next read.
    published = edge.client("eu-west").post("/events", json={"type": "order"})
    assert published.status_code == 202, published.text
    assert edge.client("eu-west").post("/events", json=[1]).status_code == 400
    assert [(r.region, r.ok) for r in edge.deliver_messages()] == [("us-east", True)]
    assert stats(edge, "us-east") == {"counting": {"order": 2, "signup": 2}, "totals": {}}

    edge.advance("59s")  # the counters reach every region; no roll-up yet
    assert stats(edge, "ap-south")["counting"] == {"order": 2, "signup": 2}
    edge.publish("events", event("signup"))  # ap-south and eu-west will roll up 2
    edge.advance("1s")
    rollups = [r for r in edge.trigger_runs if r.kind == "cron"]
    assert [(r.region, r.timestamp, r.ok) for r in rollups] == [
        (region, start + 60, True) for region in REGIONS
    ]
    edge.advance("5s")
    for region in REGIONS:
        assert stats(edge, region) == {
            "counting": {"order": 2, "signup": 3},
            "totals": {
                "order": {"count": 2, "rolled_up_at": start + 60},
                "signup": {"count": 3, "rolled_up_at": start + 60},
            },
        }
    sources = {op.source for op in edge.sql_history.ops()}
    assert sources == {"cron:jobs", "http"}
    edge.check_read_your_writes()
    edge.check_monotonic_reads()
    edge.check_convergence()
    edge.check_no_lost_writes()

    # Nothing new: the next minute's roll-up changes no total.
    edge.advance("1m")
    assert stats(edge, "eu-west")["totals"]["signup"] == {"count": 3, "rolled_up_at": start + 60}
    assert len([r for r in edge.trigger_runs if r.kind == "cron"]) == 6


def test_jobs_counting_in_every_region_writes_the_counters_concurrently(
    jobs: Callable[..., Emulator],
) -> None:
    # Why the README counts in one region: each region's subscriber writes the
    # same counter unaware of the others, and last-writer-wins keeps one write.
    edge = jobs()
    assert list(edge.publish("events", event("signup"))) == REGIONS
    edge.check_convergence()
    assert all(stats(edge, r)["counting"] == {"signup": 1} for r in REGIONS)
    with pytest.raises(AssertionError, match="count:signup"):
        edge.check_no_lost_writes()
