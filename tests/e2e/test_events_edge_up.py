"""The live feed of a real `edge up`: /_edge/events (SSE) and /_edge/events/recent.

Requests are served by two worker processes and replication runs in the
supervisor: the feed shows the events of all of them, in one order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runtime.stores.events import KEEP, EventLog

from .edgeup import EdgeUp, wait_for
from .sse import EventStream

pytestmark = pytest.mark.e2e

REGIONS = "us-east,eu-west"


@pytest.fixture(scope="module")
def up(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeUp]:
    root = tmp_path_factory.mktemp("events")
    server = EdgeUp(
        built["kvprobe"], root / "state", "--regions", REGIONS, "--workers", "2", "--jitter", "0s"
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def http(up: EdgeUp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=up.url, timeout=10) as client:
        yield client
    # Whatever a test did to the network, the next one starts with it whole.
    httpx.post(f"{up.url}/_edge/heal", json={})
    httpx.post(f"{up.url}/_edge/lag", json={"lag": "1s", "jitter": "0s"})


def feed(up: EdgeUp, **params: object) -> EventStream:
    stream = EventStream(f"{up.url}/_edge/events", params=params or None)
    assert stream.status == 200
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    return stream


def test_a_request_through_the_app_is_in_the_feed_with_its_region_and_status(
    up: EdgeUp, http: httpx.Client
) -> None:
    with feed(up) as events:
        http.get("/_edge/regions")  # the admin API's own requests are not events
        assert http.get("/kv/nothing?x=1", headers={"x-edge-region": "eu-west"}).status_code == 404
        event, before = events.until(lambda e: e["kind"] == "request")
    assert [e for e in before if e["kind"] == "request"] == []  # none for /_edge/regions
    assert event["region"] == "eu-west"
    assert (event["method"], event["path"], event["status"]) == ("GET", "/kv/nothing", 404)
    assert event["component"] == "kvprobe"
    assert 0 < event["ms"] < 10_000
    assert abs(event["at"] - time.time()) < 30
    recent = http.get("/_edge/events/recent", params={"limit": 5}).json()
    assert recent["events"][-1]["id"] <= recent["last"]
    assert event in recent["events"]


def test_a_write_is_sent_then_applied_in_the_other_region_after_the_lag(
    up: EdgeUp, http: httpx.Client
) -> None:
    with feed(up) as events:
        answer = http.post("/_edge/lag", json={"lag": "1500ms", "jitter": "0s"})
        assert answer.status_code == 200
        # (The previous test's heal and lag may still be on their way: match this one.)
        lag, _ = events.until(lambda e: e["kind"] == "network" and e["links"][0]["lag_ms"] == 1500)
        assert (lag["action"], lag["region"], lag["other"]) == ("lag", None, None)
        assert lag["links"] == answer.json()["links"]
        assert http.put("/kv/colour", content=b"blue").status_code == 200  # in us-east
        sent, before = events.until(lambda e: e["kind"] == "kv.sent")
        applied, between = events.until(lambda e: e["kind"] == "kv.applied")
    assert {k: sent[k] for k in ("store", "key", "from", "to", "op")} == {
        "store": "default",
        "key": "colour",
        "from": "us-east",
        "to": "eu-west",
        "op": "set",
    }
    assert {k: applied[k] for k in ("store", "key", "from", "to", "op")} == {
        k: sent[k] for k in ("store", "key", "from", "to", "op")
    }
    assert 1.4 <= applied["at"] - sent["at"] < 3.0
    assert applied["id"] > sent["id"]
    # The PUT's own event comes from a worker, the others from the supervisor: one log.
    (put,) = [e for e in before + between if e["kind"] == "request"]
    assert (put["method"], put["path"], put["region"]) == ("PUT", "/kv/colour", "us-east")


def test_writes_apart_in_a_partition_give_a_conflict_with_both_values_after_heal(
    up: EdgeUp, http: httpx.Client
) -> None:
    with feed(up) as events:
        cut = http.post("/_edge/partition", json={"region": "eu-west"})
        assert cut.status_code == 200
        partition, _ = events.until(lambda e: e["kind"] == "network" and e["action"] == "partition")
        assert (partition["action"], partition["region"]) == ("partition", "eu-west")
        assert [link["partitioned"] for link in partition["links"]] == [True]
        assert http.put("/kv/owner", content=b"alice").status_code == 200
        time.sleep(0.05)
        eu = {"x-edge-region": "eu-west"}
        assert http.put("/kv/owner", content=b"bob", headers=eu).status_code == 200
        assert http.post("/_edge/heal", json={}).status_code == 200
        # An earlier test's network change may still be on its way into the log.
        healed, _ = events.until(lambda e: e["kind"] == "network" and e["action"] == "heal")
        assert healed["id"] > partition["id"]
        conflict, _ = events.until(lambda e: e["kind"] == "kv.conflict", timeout=15)
    assert (conflict["store"], conflict["key"], conflict["region"]) == (
        "default",
        "owner",
        "eu-west",
    )
    assert conflict["winner"]["region"] == "eu-west"
    assert conflict["winner"]["value"] == {"text": "bob", "hex": b"bob".hex(), "size": 3}
    assert conflict["loser"]["region"] == "us-east"
    assert conflict["loser"]["value"] == {"text": "alice", "hex": b"alice".hex(), "size": 5}
    wait_for(lambda: http.get("/kv/owner").text == "bob", what="us-east takes the winner")
    assert "network: partition eu-west" in up.output()  # the terminal's quiet status


def test_reconnecting_with_last_event_id_gets_only_the_later_events(
    up: EdgeUp, http: httpx.Client
) -> None:
    for n in range(4):
        http.get(f"/kv/probe-{n}")
    wait_for(
        lambda: (
            sum(
                e["path"].startswith("/kv/probe-")
                for e in http.get("/_edge/events/recent").json()["events"]
                if e["kind"] == "request"
            )
            == 4
        ),
        what="the four requests in the log",
    )
    with feed(up, after=0) as replay:  # what is kept, from the start
        oldest = replay.next()
        assert oldest.id == 1  # nothing trimmed yet: the first event of this edge up
        probes = []
        while len(probes) < 4:
            data, _ = replay.until(
                lambda e: e["kind"] == "request" and e["path"].startswith("/kv/probe-")
            )
            probes.append(data)
    assert [p["path"] for p in probes] == [f"/kv/probe-{n}" for n in range(4)]
    middle = probes[1]["id"]
    headers = {"last-event-id": str(middle)}
    with EventStream(f"{up.url}/_edge/events", headers=headers, params={"after": 0}) as again:
        assert again.status == 200
        later = again.next()
    assert later.id == middle + 1  # the header (a reconnect) wins over the page's ?after=
    with feed(up, after=middle) as by_query:
        assert by_query.next().id == middle + 1
    bad = httpx.get(f"{up.url}/_edge/events", params={"after": "soon"})
    assert bad.status_code == 400 and "after" in bad.json()["error"]


def test_pages_of_other_origins_and_rebound_host_names_are_refused(up: EdgeUp) -> None:
    for path in ("/_edge/events", "/_edge/events/recent"):
        foreign = httpx.get(up.url + path, headers={"origin": "http://evil.example"})
        assert foreign.status_code == 403, path
        rebound = httpx.get(up.url + path, headers={"host": f"evil.example:{up.port}"})
        assert rebound.status_code == 403, path
        other_port = httpx.get(up.url + path, headers={"origin": "http://localhost:1"})
        assert other_port.status_code == 403, path
    own = httpx.get(
        up.url + "/_edge/events/recent", headers={"origin": f"http://localhost:{up.port}"}
    )
    assert own.status_code == 200


def test_the_log_stays_bounded(up: EdgeUp, http: httpx.Client) -> None:
    # Another writer of the shared file, as a busy worker would be: 12,000 events.
    log = EventLog.in_state_dir(up.state)
    try:
        for _ in range(12):
            log.write([(time.time(), "test.filler", "{}")] * 1000)
        http.get("/kv/after-the-flood")
        wait_for(
            lambda: (
                http.get("/_edge/events/recent", params={"limit": 1})
                .json()["events"][0]
                .get("path")
                == "/kv/after-the-flood"
            ),
            what="the request after the flood",
        )
        assert log.count() <= KEEP
        everything = http.get("/_edge/events/recent", params={"limit": KEEP}).json()
        ids = [e["id"] for e in everything["events"]]
        assert len(ids) == KEEP and ids == list(range(ids[0], ids[0] + KEEP))
        assert ids[-1] == everything["last"]
        too_many = http.get("/_edge/events/recent", params={"limit": KEEP + 1})
        assert too_many.status_code == 400
    finally:
        log.close()
