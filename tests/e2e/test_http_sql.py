"""SQL in the Turso model through a real `edge up` (two workers, replicator in the
supervisor), on the real clock, over HTTP on loopback."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from .edgeup import EdgeUp, sql_probe, wait_for
from .test_regions_sql import SCHEMA

pytestmark = pytest.mark.e2e


def _count(http: httpx.Client, region: str) -> int:
    result = sql_probe(http, region, "SELECT count(*) FROM log")
    return 0 if "error" in result else result["results"][0]["rows"][0][0]


def test_turso_model_over_http(built: dict[str, Path], tmp_path: Path) -> None:
    up = EdgeUp(
        built["sqlprobe"],
        tmp_path / "state",
        "--workers",
        "2",
        "--replication-lag",
        "500ms",
        "--jitter",
        "0",
        "--sql-write-timeout",
        "400ms",
    )
    insert = "INSERT INTO log (region, n) VALUES (?, ?)"
    try:
        with httpx.Client(base_url=up.url, timeout=10) as http:
            assert "error" not in sql_probe(http, "us-east", SCHEMA)
            wait_for(lambda: http.get("/_edge/replication").json()["sql"][0]["replicas_agree"])

            started = time.monotonic()
            assert "error" not in sql_probe(http, "eu-west", [insert, ["eu-west", 1]])
            assert time.monotonic() - started >= 0.080  # the round trip to us-east
            assert _count(http, "eu-west") == 1  # read-your-writes in the writer's region
            assert _count(http, "ap-south") == 0
            waited = wait_for(lambda: _count(http, "ap-south") == 1)
            assert waited >= 0.2  # not before the lag

            regions = {r["name"]: r for r in http.get("/_edge/regions").json()["regions"]}
            assert regions["us-east"]["sql"]["default"]["role"] == "primary"
            assert regions["ap-south"]["sql"]["default"]["role"] == "replica"

            assert http.post("/_edge/partition", json={"region": "ap-south"}).status_code == 200
            failed = sql_probe(http, "ap-south", [insert, ["ap-south", 2]])
            assert "cannot reach the primary region us-east from ap-south" in failed["error"]
            assert _count(http, "ap-south") == 1  # reads keep working
            assert "error" not in sql_probe(http, "us-east", [insert, ["us-east", 3]])
            time.sleep(1.0)
            assert _count(http, "ap-south") == 1
            status = http.get("/_edge/replication").json()["sql"][0]
            ap = next(s for s in status["regions"] if s["region"] == "ap-south")
            assert ap["partitioned"] and not ap["current"] and not status["replicas_agree"]

            assert http.post("/_edge/heal", json={}).status_code == 200
            wait_for(lambda: _count(http, "ap-south") == 2)
            assert "error" not in sql_probe(http, "ap-south", [insert, ["ap-south", 4]])
            assert _count(http, "ap-south") == 3
            wait_for(lambda: http.get("/_edge/replication").json()["sql"][0]["replicas_agree"])
        assert "SQL primary: us-east" in up.output()
    finally:
        up.stop()
