"""The terminal's lines for events, and the banner's URLs."""

from __future__ import annotations

from pathlib import Path

from runtime.serve.terminal import LiveStatus, region_url
from runtime.stores.events import Event, preview

AT = 1_700_000_000.0


def event(n: int, kind: str, **fields: object) -> Event:
    return Event(n, AT + n, kind, dict(fields))


def text(status: LiveStatus, *events: Event) -> list[str]:
    return [line.plain[9:] for line in status.lines(events)]  # without the HH:MM:SS stamp


def test_a_run_of_changes_on_one_link_is_one_line(tmp_path: Path) -> None:
    status = LiveStatus(tmp_path, full=True)
    link = {"store": "default", "from": "us-east", "to": "eu-west", "op": "set"}
    lines = text(
        status,
        event(1, "request", region="us-east", method="PUT", path="/kv/a", status=200, ms=3.21),
        *(event(n, "kv.sent", key=f"k{n}", **link) for n in range(2, 5)),
        event(5, "kv.applied", key="k2", **link),
    )
    assert lines == [
        "PUT /kv/a 200 3.2 ms us-east",
        "kv default: 3 changes us-east -> eu-west sent",
        "kv default: 'k2' us-east -> eu-west applied",
    ]


def test_conflicts_network_and_syncs_read_as_sentences(tmp_path: Path) -> None:
    status = LiveStatus(tmp_path, full=True)
    conflict = event(
        1,
        "kv.conflict",
        store="default",
        key="owner",
        region="eu-west",
        winner={"region": "eu-west", "value": preview(b"bob"), "deleted": False},
        loser={"region": "us-east", "value": preview(None), "deleted": True},
    )
    links = [{"regions": ["eu-west", "us-east"], "partitioned": True, "lag_ms": 1000.0}]
    cut = event(2, "network", action="partition", region="eu-west", other=None, links=links)
    synced = event(3, "sql.synced", database="default", region="ap-south", pages=2, ms=0.84)
    assert text(status, conflict, cut, synced) == [
        "kv default: conflict on 'owner' in eu-west: kept 'bob' (eu-west), "
        "dropped (deleted) (us-east)",
        "network: partition eu-west; cut: eu-west<->us-east",
        "sql default: ap-south replica synced (2 pages, 0.8 ms)",
    ]


def test_off_a_terminal_only_the_rare_events_are_shown(tmp_path: Path) -> None:
    status = LiveStatus(tmp_path, full=False)
    links = [{"regions": ["a", "b"], "partitioned": False, "lag_ms": 2000.0}]
    lines = text(
        status,
        event(1, "request", region="a", method="GET", path="/", status=500, ms=1.0),
        event(2, "kv.sent", store="s", key="k", **{"from": "a", "to": "b"}, op="set"),
        event(3, "network", action="lag", region=None, other=None, links=links),
    )
    assert lines == ["network: lag every link; every link up; lag 2000 ms"]


def test_region_urls_use_names_under_localhost_only() -> None:
    assert region_url("http://localhost:3000", "eu-west") == "http://eu-west.localhost:3000"
    assert region_url("http://10.0.0.5:3000", "eu-west") == "http://10.0.0.5:3000"
