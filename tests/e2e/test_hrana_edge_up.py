"""The Hrana endpoints of a real `edge up`, driven by libsql-client, and a second
`edge up` whose runtime config points its database at the first one, as at Turso."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import libsql_client
import pytest

from .edgeup import EdgeUp, sql_probe, wait_for
from .test_regions_sql import SCHEMA

pytestmark = pytest.mark.e2e


def _count(url: str) -> int:
    with libsql_client.create_client_sync(url) as client:
        try:
            return int(client.execute("SELECT count(*) FROM log").rows[0][0])
        except libsql_client.LibsqlError as exc:
            assert "no such table" in str(exc)
            return 0


def test_libsql_client_against_the_regions_of_edge_up(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp]
) -> None:
    up = EdgeUp(
        built["sqlprobe"],
        tmp_path / "state",
        "--workers",
        "2",
        "--replication-lag",
        "500ms",
        "--jitter",
        "0",
    )
    launched.append(up)
    urls = up.database_urls()
    assert set(urls) == {"us-east", "eu-west", "ap-south"}
    assert all(url.startswith("http://127.0.0.1:") for url in urls.values())

    with libsql_client.create_client_sync(urls["us-east"].replace("http:", "ws:")) as primary:
        primary.execute(SCHEMA)
    wait_for(lambda: _count(urls["ap-south"]) == 0 and _count(urls["eu-west"]) == 0)

    # A write through a replica region's endpoint runs on the primary, paying the
    # round trip; that region reads it at once; ap-south only after the lag.
    with libsql_client.create_client_sync(urls["eu-west"].replace("http:", "ws:")) as eu:
        started = time.monotonic()
        eu.execute("INSERT INTO log (region, n) VALUES (?, ?)", ["eu-west", 2**63 - 1])
        assert time.monotonic() - started >= 0.080
        assert eu.execute("SELECT n FROM log").rows[0][0] == 2**63 - 1
    assert _count(urls["ap-south"]) == 0
    assert wait_for(lambda: _count(urls["ap-south"]) == 1) >= 0.2

    # Handlers and Hrana clients share the same databases.
    with httpx.Client(base_url=up.url, timeout=10) as http:
        seen = sql_probe(http, "ap-south", "SELECT region, n FROM log")
        assert seen["results"][0]["rows"] == [["eu-west", 2**63 - 1]]
        assert "error" not in sql_probe(
            http, "us-east", ["INSERT INTO log (region, n) VALUES (?, ?)", ["handler", 2]]
        )
    assert _count(urls["us-east"]) == 2

    # A transaction through a replica region: all of it on the primary, or none.
    with libsql_client.create_client_sync(urls["ap-south"].replace("http:", "ws:")) as ap:
        tx = ap.transaction()
        tx.execute("INSERT INTO log (region, n) VALUES ('ap-south', 3)")
        tx.rollback()
        tx = ap.transaction()
        tx.execute("INSERT INTO log (region, n) VALUES ('ap-south', 4)")
        tx.commit()
        assert [r[0] for r in ap.execute("SELECT n FROM log ORDER BY n").rows] == [2, 4, 2**63 - 1]


def test_a_second_edge_up_uses_the_first_as_its_remote_database(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp]
) -> None:
    first = EdgeUp(built["sqlprobe"], tmp_path / "first", "--workers", "1")
    launched.append(first)
    primary_url = first.database_urls()["us-east"]
    config = tmp_path / "runtime-config.toml"
    config.write_text(
        f'[sqlite_database.default]\ntype = "libsql"\nurl = "{primary_url}"\ntoken = "not-needed"\n'
    )
    second = EdgeUp(
        built["sqlprobe"],
        tmp_path / "second",
        "--workers",
        "1",
        "--runtime-config-file",
        str(config),
    )
    launched.append(second)
    assert "not-needed" not in second.output()  # the token is never printed
    assert f"SQL database 'default' -> {primary_url} (libSQL, all regions)" in second.output()
    with httpx.Client(base_url=second.url, timeout=10) as http:
        assert "error" not in sql_probe(http, "eu-west", SCHEMA)
        insert = ["INSERT INTO log (region, n) VALUES (?, ?)", ["second", 7]]
        assert "error" not in sql_probe(http, "ap-south", insert)
        rows = sql_probe(http, "us-east", "SELECT region, n FROM log")["results"][0]["rows"]
        assert rows == [["second", 7]]
        # The remote database's own errors come back to the handler as they are.
        failed = sql_probe(http, "us-east", "SELEKT 1")
        assert "syntax error" in failed["error"]
    # The rows live in the first edge up's primary, not in the second's state.
    assert _count(primary_url) == 1
    assert not (tmp_path / "second" / "us-east" / "sql" / "default.sqlite").exists() or (
        _count_local(tmp_path / "second" / "us-east" / "sql" / "default.sqlite") == 0
    )


def _count_local(path: Path) -> int:
    from runtime.stores._sqlite import driver

    with driver.connect(path) as conn:
        found = conn.execute("SELECT name FROM sqlite_master WHERE name = 'log'").fetchall()
        return 0 if not found else int(conn.execute("SELECT count(*) FROM log").fetchone()[0])


def test_a_configured_token_is_required(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGE_HRANA_TOKEN", "s3cret-token")
    up = EdgeUp(built["sqlprobe"], tmp_path / "state", "--workers", "1")
    launched.append(up)
    url = up.database_urls()["eu-west"]
    for scheme_url in (url, url.replace("http:", "ws:")):
        for token in (None, "wrong"):
            with (
                libsql_client.create_client_sync(scheme_url, auth_token=token) as refused,
                pytest.raises(libsql_client.LibsqlError) as failed,
            ):
                refused.execute("SELECT 1")
            assert failed.value.code == "UNAUTHORIZED"
        with libsql_client.create_client_sync(scheme_url, auth_token="s3cret-token") as good:
            assert good.execute("SELECT 41 + 1").rows[0][0] == 42
    assert "s3cret-token" not in up.output()


def test_edge_up_with_databases_stops_cleanly(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp]
) -> None:
    for workers in ("1", "2"):
        up = EdgeUp(built["sqlprobe"], tmp_path / f"state-{workers}", "--workers", workers)
        launched.append(up)  # stopped even if an assertion fails first
        assert _count(up.database_urls()["eu-west"]) == 0
        assert up.stop() == 0
        assert "Traceback" not in up.output(), up.output()
        assert not (tmp_path / f"state-{workers}" / "endpoints.json").exists()
