"""Background jobs: events from Redis counted in key-value, rolled up into Turso every minute.

- The Redis subscriber (channel `events`) takes a JSON object with a string
  `type` and adds one to the key-value counter `count:<type>`. Anything else
  fails the run (the host logs why), and the next message is handled as usual.
- The cron job (`0 * * * * *`: every minute at second 0) copies every counter
  into the Turso table `totals`. A total only ever grows: a region whose
  key-value replica is behind, or whose run comes late, never moves one back.
- `GET /stats`: the counters (this region's key-value replica), the totals
  (this region's replica of the database) and when each total last grew.
- `POST /events`: publishes the request's JSON on `events`, as
  `redis-cli publish events '{...}'` would; the subscriber counts it.
"""

import json
from typing import Any

from framework import (
    BadRequest,
    CronEvent,
    Request,
    Response,
    cron_component,
    http_component,
    kv,
    redis,
    redis_component,
    turso,
    variables,
)

CHANNEL = "events"
PREFIX = "count:"

SCHEMA = """
CREATE TABLE IF NOT EXISTS totals (
    type TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    rolled_up_at INTEGER NOT NULL
)
"""
# The larger count wins, so the roll-up can run in every region, late or not.
UPSERT = """
INSERT INTO totals (type, count, rolled_up_at) VALUES (?, ?, ?)
ON CONFLICT (type) DO UPDATE SET count = excluded.count, rolled_up_at = excluded.rolled_up_at
WHERE excluded.count > totals.count
"""


def _event_type(payload: bytes) -> str:
    try:
        event = json.loads(payload)
    except ValueError:
        raise ValueError(f"an event is JSON, not {payload[:60]!r}") from None
    kind = event.get("type") if isinstance(event, dict) else None
    if not isinstance(kind, str) or not kind:
        raise ValueError(f'an event is a JSON object with a string "type", not {payload[:60]!r}')
    return kind


def _counters(store: kv.Store) -> dict[str, int]:
    keys = sorted(key for key in store.keys() if key.startswith(PREFIX))
    return {key[len(PREFIX) :]: int(store.get_json(key, 0)) for key in keys}


def _has_totals(db: turso.Connection) -> bool:
    # Look in the local replica first: CREATE is a write, which a region other
    # than the primary sends to the primary.
    found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'totals'")
    return found.first() is not None


@redis_component
def count_event(payload: bytes) -> None:
    key = PREFIX + _event_type(payload)
    store = kv.open_default()
    store.set_json(key, int(store.get_json(key, 0)) + 1)


@cron_component
def roll_up(event: CronEvent) -> None:
    counts = _counters(kv.open_default())
    if not counts:
        return
    db = turso.connect()
    if not _has_totals(db):
        db.execute(SCHEMA)
    db.batch([(UPSERT, [kind, n, event.timestamp]) for kind, n in counts.items()])


@http_component("/stats", methods=["GET"])
def stats(req: Request) -> dict[str, Any]:
    db = turso.connect()
    totals: dict[str, dict[str, Any]] = {}
    if _has_totals(db):
        for row in db.execute("SELECT type, count, rolled_up_at FROM totals ORDER BY type"):
            kind, count, at = row
            totals[str(kind)] = {"count": count, "rolled_up_at": at}
    return {"counting": _counters(kv.open_default()), "totals": totals}


@http_component("/events", methods=["POST"])
def publish(req: Request) -> Response:
    try:
        kind = _event_type(req.body)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    with redis.open(variables.get("redis_address")) as conn:
        conn.publish(CHANNEL, req.body)
    return Response.json({"published": kind, "channel": CHANNEL}, status=202)
