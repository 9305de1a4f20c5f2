"""Hrana over the Turso-model router: a replica region's endpoint, as `edge up` serves it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import libsql_client
import pytest
from libsql_client import LibsqlError

from runtime.hrana import create_hrana_app
from runtime.regions.sql_routing import SqlRouter

from ..regions.sql_cluster import Cluster
from .helpers import Pipeline, rows, running

REGIONS = ["us-east", "eu-west"]


@pytest.fixture
def router(tmp_path: Path) -> Iterator[SqlRouter]:
    cluster = Cluster(tmp_path, REGIONS)
    yield cluster.router
    cluster.close()


@pytest.fixture
def replica_address(router: SqlRouter) -> Iterator[str]:
    with running(create_hrana_app(lambda: router.connect("eu-west", "default"))) as address:
        yield address


@pytest.mark.parametrize("scheme", ["http", "ws"])
def test_writes_go_to_the_primary_and_the_region_reads_them(
    router: SqlRouter, replica_address: str, scheme: str
) -> None:
    with libsql_client.create_client_sync(f"{scheme}://{replica_address}") as client:
        client.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
        client.batch(["INSERT INTO t (v) VALUES ('a')", "INSERT INTO t (v) VALUES ('b')"])
        assert [r[0] for r in client.execute("SELECT v FROM t ORDER BY id").rows] == ["a", "b"]
        with pytest.raises(LibsqlError) as failed:
            client.execute("INSERT INTO t (v) VALUES ('a')")
        assert failed.value.code == "SQLITE_CONSTRAINT_UNIQUE"
    with router.connect("us-east", "default") as primary:
        assert primary.execute("SELECT count(*) FROM t").rows == [(2,)]


def test_transaction_and_describe_on_a_replica(router: SqlRouter, replica_address: str) -> None:
    with router.connect("us-east", "default") as primary:
        primary.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    with httpx.Client(base_url=f"http://{replica_address}") as http:
        stream = Pipeline(http)
        stream.execute("BEGIN")
        stream.execute("INSERT INTO t (v) VALUES ('x')")
        assert rows(stream.execute("SELECT v FROM t")) == [["x"]]  # on the primary, in the tx
        (described,) = stream.send({"type": "describe", "sql": "SELECT id, v FROM t WHERE v = ?"})
        result = described["response"]["result"]
        assert result["cols"] == [
            {"name": "id", "decltype": "INTEGER"},
            {"name": "v", "decltype": "TEXT"},
        ]
        stream.execute("ROLLBACK")
        assert stream.send({"type": "close"})[0]["type"] == "ok"
    with router.connect("us-east", "default") as primary:
        assert primary.execute("SELECT count(*) FROM t").rows == [(0,)]
