"""The Turso model on the stores, without wasm: routing, round trips, partitions, syncs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.regions.clock import VirtualClock
from runtime.regions.network import Network
from runtime.regions.sql_routing import PrimaryUnreachable, RoutedConnection, SqlRouter
from runtime.stores import ReplicaSync, ReplicaWriteError, SqlError, StateLayout, StoreRegistry
from runtime.stores._sqlite import driver

from .sql_cluster import Cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    c.run("us-east", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
    c.replicator.catch_up()
    yield c
    c.close()


WRITES = [
    "INSERT INTO t (v) VALUES ('x')",
    "INSERT INTO t (v) VALUES ('x') RETURNING id",
    "WITH n(v) AS (SELECT 'y') INSERT INTO t (v) SELECT v FROM n",
    "UPDATE t SET v = 'z' WHERE id = 99",
    "DELETE FROM t WHERE 0",
    "REPLACE INTO t (id, v) VALUES (7, 'r')",
    "CREATE TABLE IF NOT EXISTS t (id INTEGER)",
    "CREATE INDEX IF NOT EXISTS t_v ON t (v)",
    "DROP TABLE IF EXISTS t",
    "ALTER TABLE t ADD COLUMN w TEXT",
    "PRAGMA user_version = 3",
    "BEGIN",
    "SAVEPOINT s",
    "CREATE TEMP TABLE scratch (x)",
    "ANALYZE",
    "VACUUM",
]

READS = [
    "SELECT * FROM t",
    "  -- a comment\n SELECT count(*) FROM t",
    "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3) SELECT n FROM c",
    "VALUES (1), (2)",
    "EXPLAIN SELECT * FROM t",
    "PRAGMA table_info(t)",
    "PRAGMA user_version",
    "SELECT name FROM sqlite_master",
]


@pytest.mark.parametrize("sql", WRITES)
def test_a_replica_refuses_every_write_before_it_runs(cluster: Cluster, sql: str) -> None:
    db = cluster.registries["eu-west"].sql("default", read_only=True)
    before = db.content_digest()
    with pytest.raises(ReplicaWriteError) as info:
        db.execute(sql)
    assert "read-only replica" in str(info.value)
    assert db.content_digest() == before


@pytest.mark.parametrize("sql", READS)
def test_reads_run_on_the_local_replica_for_free(cluster: Cluster, sql: str) -> None:
    start = cluster.clock.now()
    cluster.run("eu-west", sql)
    assert cluster.clock.now() == start  # no round trip to the primary


@pytest.mark.parametrize("sql", [w for w in WRITES if w not in ("BEGIN", "SAVEPOINT s")])
def test_writes_from_a_replica_region_pay_the_round_trip(cluster: Cluster, sql: str) -> None:
    start = cluster.clock.now()
    cluster.run("eu-west", sql)
    assert cluster.clock.now() - start == pytest.approx(
        2 * cluster.network.latency("eu-west", "us-east")
    )


def test_the_primary_region_pays_nothing(cluster: Cluster) -> None:
    start = cluster.clock.now()
    cluster.run("us-east", "INSERT INTO t (v) VALUES ('p')")
    assert cluster.clock.now() == start
    assert isinstance(cluster.router.connect("eu-west", "default"), RoutedConnection)


def test_the_writer_reads_its_write_others_only_after_the_lag(cluster: Cluster) -> None:
    cluster.run("eu-west", "INSERT INTO t (v) VALUES ('mine')")
    assert cluster.run("eu-west", "SELECT v FROM t") == [("mine",)]
    assert cluster.run("us-east", "SELECT v FROM t") == [("mine",)]
    assert cluster.run("ap-south", "SELECT v FROM t") == []
    cluster.replicator.poll()
    due = cluster.replicator.next_due()
    assert due == pytest.approx(cluster.clock.now() + 1.0)
    cluster.clock.advance_to(due - 0.001)
    assert cluster.replicator.step() == 0
    cluster.clock.advance_to(due)
    assert cluster.replicator.step() == 2  # eu-west is re-copied too (already current)
    assert cluster.run("ap-south", "SELECT v FROM t") == [("mine",)]
    assert cluster.replicator.agree("default")


def test_a_transaction_runs_whole_on_the_primary(cluster: Cluster) -> None:
    with cluster.router.connect("ap-south", "default") as conn:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (v) VALUES ('a')")
        # Reads inside the transaction see it: they run on the primary too.
        assert conn.execute("SELECT count(*) FROM t").rows == [(1,)]
        assert cluster.run("ap-south", "SELECT count(*) FROM t") == [(0,)]
        conn.execute("COMMIT")
        assert not conn.in_transaction
    assert cluster.run("ap-south", "SELECT count(*) FROM t") == [(1,)]


def test_closing_mid_transaction_leaves_nothing(cluster: Cluster) -> None:
    conn = cluster.router.connect("eu-west", "default")
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t (v) VALUES ('lost')")
    conn.close()
    assert cluster.run("us-east", "SELECT count(*) FROM t") == [(0,)]


def test_changes_and_rowid_follow_the_last_write_as_on_one_connection(cluster: Cluster) -> None:
    with cluster.router.connect("eu-west", "default") as conn:
        conn.execute("INSERT INTO t (v) VALUES ('a'), ('b')")
        assert (conn.changes(), conn.last_insert_rowid()) == (2, 2)
        read = conn.execute("SELECT * FROM t")  # a read on the replica changes neither
        assert (conn.changes(), conn.last_insert_rowid()) == (2, 2)
        assert (read.changes, read.last_insert_rowid) == (2, 2)  # its result says so too
    with cluster.router.connect("us-east", "default") as primary:  # as the primary's region sees
        primary.execute("INSERT INTO t (v) VALUES ('c'), ('d')")
        read = primary.execute("SELECT * FROM t")
        assert (read.changes, read.last_insert_rowid) == (2, 4)


def test_errors_of_the_primary_come_back_verbatim(cluster: Cluster) -> None:
    cluster.run("us-east", "INSERT INTO t (v) VALUES ('dup')")
    with pytest.raises(SqlError, match="UNIQUE constraint failed: t.v"):
        cluster.run("eu-west", "INSERT INTO t (v) VALUES ('dup')")
    with pytest.raises(SqlError, match="syntax error"):
        cluster.run("eu-west", "SELEKT 1")
    with pytest.raises(SqlError, match="no transaction is active"):
        cluster.run("eu-west", "COMMIT")


def test_a_write_to_a_table_the_replica_has_not_seen_goes_to_the_primary(cluster: Cluster) -> None:
    cluster.run("us-east", "CREATE TABLE fresh (x)")
    with pytest.raises(SqlError, match="no such table: fresh"):
        cluster.run("eu-west", "SELECT * FROM fresh")  # a stale read, as on Turso
    cluster.run("eu-west", "INSERT INTO fresh VALUES (1)")
    assert cluster.run("eu-west", "SELECT * FROM fresh") == [(1,)]


def test_schema_changes_do_not_depend_on_the_replica_having_the_table(cluster: Cluster) -> None:
    cluster.run("us-east", "CREATE TABLE fresh (x)")
    cluster.run("eu-west", "DROP TABLE IF EXISTS fresh")  # eu-west never saw it
    assert cluster.run("us-east", "SELECT name FROM sqlite_master WHERE name = 'fresh'") == []


def test_a_with_clause_write_to_a_table_the_replica_has_not_seen(cluster: Cluster) -> None:
    cluster.run("us-east", "CREATE TABLE fresh (x)")
    cluster.run("eu-west", "WITH v(x) AS (VALUES (1)) INSERT INTO fresh SELECT x FROM v")
    assert cluster.run("us-east", "SELECT x FROM fresh") == [(1,)]


def test_a_cut_off_region_reads_but_its_writes_time_out(cluster: Cluster) -> None:
    cluster.run("us-east", "INSERT INTO t (v) VALUES ('old')")
    cluster.replicator.catch_up()
    cluster.network.partition("ap-south")
    start = cluster.clock.now()
    with pytest.raises(PrimaryUnreachable, match="cannot reach the primary region us-east"):
        cluster.run("ap-south", "INSERT INTO t (v) VALUES ('new')")
    assert cluster.clock.now() - start == pytest.approx(2.0)  # the write timeout
    assert cluster.run("ap-south", "SELECT v FROM t") == [("old",)]
    assert cluster.run("us-east", "SELECT v FROM t") == [("old",)]


def test_a_partition_mid_transaction_rolls_it_back(cluster: Cluster) -> None:
    with cluster.router.connect("eu-west", "default") as conn:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (v) VALUES ('half')")
        cluster.network.partition("eu-west")
        with pytest.raises(PrimaryUnreachable, match="transaction was rolled back"):
            conn.execute("INSERT INTO t (v) VALUES ('other half')")
        assert not conn.in_transaction
        with pytest.raises(SqlError, match="no transaction is active"):
            conn.execute("COMMIT")
    cluster.network.heal(cluster.clock.now())
    assert cluster.run("us-east", "SELECT count(*) FROM t") == [(0,)]


def test_a_replica_behind_a_partition_catches_up_after_heal(cluster: Cluster) -> None:
    cluster.network.partition("ap-south")
    cluster.run("us-east", "INSERT INTO t (v) VALUES ('x')")
    cluster.replicator.poll()
    cluster.clock.advance(60)
    cluster.replicator.step()
    assert cluster.run("ap-south", "SELECT count(*) FROM t") == [(0,)]
    assert cluster.replicator.pending() == 2 - 1  # eu-west synced, ap-south waits
    cluster.network.heal(cluster.clock.now())
    assert cluster.replicator.next_due() == pytest.approx(cluster.clock.now() + 1.0)
    cluster.clock.advance(1.0)
    cluster.replicator.step()
    assert cluster.run("ap-south", "SELECT count(*) FROM t") == [(1,)]
    assert cluster.replicator.pending() == 0


def test_a_copy_is_exact_and_never_goes_back(cluster: Cluster, tmp_path: Path) -> None:
    primary = cluster.registries["us-east"].sql("default")
    replica = cluster.registries["eu-west"].sql("default", read_only=True)
    primary.execute("INSERT INTO t (v) VALUES ('1')")
    assert cluster.sync.sync("default", "eu-west")
    assert replica.content_digest() == primary.content_digest()
    assert not cluster.sync.sync("default", "eu-west")  # nothing new: no copy
    # A second process's sync object copies a newer state; ours cannot undo it.
    other = ReplicaSync(cluster.layout, "us-east", cluster.clock.now)
    primary.execute("INSERT INTO t (v) VALUES ('2')")
    assert other.sync("default", "eu-west")
    other.close()
    assert replica.execute("SELECT count(*) FROM t").rows == [(2,)]
    assert cluster.sync.synced_at("default", "eu-west") == cluster.clock.now()


def test_status_says_which_replicas_are_current(cluster: Cluster) -> None:
    cluster.run("eu-west", "INSERT INTO t (v) VALUES ('x')")
    (database,) = cluster.replicator.status()["sql"]
    assert database["primary"] == "us-east" and not database["replicas_agree"]
    by_region = {s["region"]: s for s in database["regions"]}
    assert by_region["us-east"]["role"] == "primary"
    assert by_region["eu-west"]["current"] and not by_region["ap-south"]["current"]
    assert by_region["ap-south"]["lag_ms"] == 1000.0


def test_the_primary_must_be_a_region(tmp_path: Path) -> None:
    registry = StoreRegistry(StateLayout(tmp_path), "us-east")
    with pytest.raises(ValueError, match="primary region 'mars'"):
        SqlRouter(
            {"us-east": registry},
            "mars",
            network=lambda: Network(["us-east"]),
            clock=VirtualClock(),
            sync=ReplicaSync(StateLayout(tmp_path), "mars", VirtualClock().now),
        )


def test_read_only_connections_are_not_writable_even_raw(tmp_path: Path) -> None:
    # The guard sits on the SQLite connection itself, not in a wrapper.
    from runtime.stores import SqlDatabase

    db = SqlDatabase(tmp_path / "r.sqlite", read_only=True)
    with db.connect() as conn:
        raw = conn._raw
        assert raw is not None
        with pytest.raises(driver.DatabaseError, match="not authorized"):
            raw.execute("CREATE TABLE x (y)")
    db.close()
