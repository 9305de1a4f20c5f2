"""ReplicaSync on real SQLite files: replicas follow the primary's WAL, exactly and never back.

The primary is written by a plain connection that leaves checkpoints alone,
as the runtime's own connections do; the thresholds of replication's
checkpoints are made small so that a test reaches them in a few hundred frames.
"""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.stores import ReplicaSync, SqlDatabase, SqlError, StateLayout, sqlsync
from runtime.stores._sqlite import driver, open_connection
from runtime.stores.syncrecords import ReplicaRecord, parse_replica
from runtime.stores.wal import WalPosition, read_header, wal_path

PRIMARY, REPLICAS = "us-east", ("eu-west", "ap-south")


class Setup:
    def __init__(self, root: Path) -> None:
        self.layout = StateLayout(root)
        self.path = self.layout.sql_path(PRIMARY, "default")
        self.writer = self.open_writer()
        self.writer.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
        self.sync = ReplicaSync(self.layout, PRIMARY, time.time)
        self.primary = SqlDatabase(self.path)
        self.replicas = {
            name: SqlDatabase(self.layout.sql_path(name, "default"), read_only=True)
            for name in REPLICAS
        }

    def open_writer(self) -> driver.Connection:
        conn = open_connection(self.path)
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # as the runtime's writers
        return conn

    def restart(self) -> None:
        """As a new process would: another ReplicaSync (the old one closed)."""
        self.sync.close()
        self.sync = ReplicaSync(self.layout, PRIMARY, time.time)

    def synced(self, region: str) -> sqlsync.SyncReport:
        assert self.sync.sync("default", region, force=True)
        report = self.sync.last
        assert report is not None
        assert dump(self.replicas[region]) == dump(self.primary)
        assert self.replicas[region].content_digest() == self.primary.content_digest()
        return report

    def record(self, region: str) -> ReplicaRecord | None:
        return parse_replica(self.layout.sql_sync_path(region, "default").read_text(), PRIMARY)

    def close(self) -> None:
        self.sync.close()
        self.writer.close()
        self.primary.close()
        for db in self.replicas.values():
            db.close()


def dump(db: SqlDatabase) -> list[tuple[object, ...]]:
    """The schema and every row, in order."""
    out: list[tuple[object, ...]] = []
    schema = db.execute("SELECT type, name, sql FROM sqlite_schema ORDER BY name").rows
    for kind, name, sql in schema:
        out.append((kind, name, sql))
        if kind == "table" and not str(name).startswith("sqlite_"):
            out.extend(db.execute(f'SELECT * FROM "{name}" ORDER BY rowid').rows)
    assert db.execute("PRAGMA quick_check").rows == [("ok",)]
    return out


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlsync, "SOFT_FRAMES", 30)
    monkeypatch.setattr(sqlsync, "TAIL_FRAMES", 40)
    monkeypatch.setattr(sqlsync, "HARD_FRAMES", 400)


@pytest.fixture
def setup(tmp_path: Path, small: None) -> Iterator[Setup]:
    s = Setup(tmp_path)
    yield s
    s.close()


@pytest.mark.parametrize("seed", range(6))
def test_random_histories_keep_every_replica_an_exact_state(
    tmp_path: Path, small: None, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    # Replicas sync in turns that leave one behind the other; the primary sees
    # inserts, updates, deletes, schema changes, a transaction large enough to
    # write frames before its commit (committed or rolled back), VACUUM (the
    # file shrinks), checkpoints nobody told replication of, and processes
    # that go away (the last connection's close deletes the WAL).
    # (No hard limit here: a replica far behind waits, it never has to compare.)
    monkeypatch.setattr(sqlsync, "HARD_FRAMES", 10**9)
    rng = random.Random(seed)
    s = Setup(tmp_path)
    # A replica may have to compare its pages only if it never synced, if
    # every connection closed since, or if someone else checkpointed the log
    # in its generation or a later one (a restart nobody recorded may follow).
    closed = set(REPLICAS)
    generations: list[tuple[int, int] | None] = []  # of the log, in order
    tainted: set[int] = set()  # indexes into generations
    methods = []

    def now() -> None:
        header = read_header(wal_path(s.path))
        generation = header.generation if header is not None else None
        if not generations or generations[-1] != generation:
            generations.append(generation)

    def may_compare(position: WalPosition | None) -> bool:
        if position is None or position.generation not in generations:
            return True
        since = generations.index(position.generation)
        return any(i >= since for i in tainted)

    try:
        for step in range(160):
            _random_write(s, rng, step)
            now()
            roll = rng.random()
            if roll < 0.03:
                tainted.add(len(generations) - 1)
                mode = rng.choice(["PASSIVE", "FULL", "RESTART", "TRUNCATE"])
                s.writer.execute(f"PRAGMA wal_checkpoint({mode})")
                now()
            elif roll < 0.05:
                s.close()  # every connection: SQLite deletes the WAL
                s = _reopened(s, tmp_path)
                closed = set(REPLICAS)
            elif roll < 0.1:
                s.restart()
            for region in REPLICAS:
                if rng.random() < (0.6 if region == "eu-west" else 0.25):
                    before = s.record(region) if region not in closed else None
                    report = s.synced(region)
                    methods.append(report.method)
                    if report.method == "compare":
                        position = before.position if before is not None else None
                        assert may_compare(position), f"step {step}: {region} compared needlessly"
                    closed.discard(region)
    finally:
        s.close()
    assert "wal" in methods


def _reopened(old: Setup, root: Path) -> Setup:
    assert not wal_path(old.path).exists()
    new = Setup.__new__(Setup)
    new.layout, new.path = old.layout, old.path
    new.writer = new.open_writer()
    new.sync = ReplicaSync(new.layout, PRIMARY, time.time)
    new.primary = SqlDatabase(new.path)
    new.replicas = {
        name: SqlDatabase(new.layout.sql_path(name, "default"), read_only=True) for name in REPLICAS
    }
    return new


def _random_write(s: Setup, rng: random.Random, step: int) -> None:
    w = s.writer
    roll = rng.random()
    if roll < 0.35:
        w.execute("INSERT INTO t (v) VALUES (randomblob(?))", (rng.choice([10, 900, 5000]),))
    elif roll < 0.5:
        w.execute("UPDATE t SET v = randomblob(40) WHERE id % 5 = ?", (rng.randrange(5),))
    elif roll < 0.6:
        w.execute("DELETE FROM t WHERE id IN (SELECT id FROM t ORDER BY random() LIMIT 4)")
    elif roll < 0.72:
        n = rng.randrange(8)
        w.execute(f"CREATE TABLE IF NOT EXISTS x{n} (a, b DEFAULT '{'d' * 600}')")
        w.execute(f"CREATE INDEX IF NOT EXISTS x{n}_a ON x{n} (a)")
        w.execute(f"INSERT INTO x{n} (a) VALUES (?)", (step,))
    elif roll < 0.78:
        w.execute(f"DROP TABLE IF EXISTS x{rng.randrange(8)}")
    elif roll < 0.84:
        w.execute("VACUUM")
    elif roll < 0.9:
        w.execute("PRAGMA cache_size = 5")  # the transaction spills frames before its end
        w.execute("BEGIN")
        for _ in range(40):
            w.execute("INSERT INTO t (v) VALUES (randomblob(3000))")
        w.execute("ROLLBACK" if rng.random() < 0.5 else "COMMIT")
        w.execute("PRAGMA cache_size = -2000")


def test_one_changed_row_writes_a_page_or_two_whatever_the_size(setup: Setup) -> None:
    written = {}
    for rows in (10, 2000):
        setup.writer.execute("BEGIN")
        for _ in range(rows):
            setup.writer.execute("INSERT INTO t (v) VALUES (randomblob(1000))")
        setup.writer.execute("COMMIT")
        setup.synced("eu-west")
        setup.writer.execute("UPDATE t SET v = ? WHERE id = 5", (bytes([rows % 256]),))
        report = setup.synced("eu-west")
        assert report.method == "wal" and report.frames == 1
        written[rows] = report.pages_written
    assert written == {10: 1, 2000: 1}
    assert setup.sync.last is not None and setup.sync.last.db_pages > 500


def test_nothing_new_writes_nothing(setup: Setup) -> None:
    setup.writer.execute("INSERT INTO t (v) VALUES (1)")
    setup.synced("eu-west")
    assert not setup.sync.sync("default", "eu-west")  # same data version: not even looked at
    report = setup.synced("eu-west")  # forced: looked at, nothing to write
    assert (report.method, report.pages_written, report.frames) == ("wal", 0, 0)


def test_a_new_process_continues_from_the_record(setup: Setup) -> None:
    for i in range(5):
        setup.writer.execute("INSERT INTO t (v) VALUES (?)", (i,))
    assert setup.synced("eu-west").method == "compare"  # the first sync of a replica
    setup.restart()
    setup.writer.execute("INSERT INTO t (v) VALUES ('after')")
    assert setup.synced("eu-west").method == "wal"
    # Replication checkpoints the log (the replica is at its end) and the
    # next write starts it over: a new process still continues.
    for _ in range(40):
        setup.writer.execute("INSERT INTO t (v) VALUES (randomblob(3000))")
    assert setup.synced("eu-west").checkpointed
    before = read_header(wal_path(setup.path))
    setup.writer.execute("INSERT INTO t (v) VALUES ('restarted')")
    after = read_header(wal_path(setup.path))
    assert before is not None and after is not None and before.generation != after.generation
    setup.restart()
    report = setup.synced("eu-west")
    assert report.method == "wal" and report.pages_written <= 2


def test_a_replica_behind_continues_from_the_frames_kept_aside(setup: Setup) -> None:
    setup.synced("eu-west")
    setup.synced("ap-south")
    for _ in range(50):
        setup.writer.execute("INSERT INTO t (v) VALUES (randomblob(1500))")
    assert not setup.synced("eu-west").checkpointed  # ap-south is too far behind
    for _ in range(3):
        setup.writer.execute("INSERT INTO t (v) VALUES (randomblob(1500))")
    # eu-west is a few frames behind when ap-south's sync checkpoints.
    assert setup.synced("ap-south").checkpointed
    setup.writer.execute("INSERT INTO t (v) VALUES ('new generation')")
    report = setup.synced("eu-west")
    assert report.method == "wal"
    assert setup.synced("ap-south").method == "wal"


def test_past_the_hard_limit_a_replica_far_behind_compares(setup: Setup) -> None:
    setup.synced("eu-west")
    setup.synced("ap-south")  # and then cut off
    for i in range(450):
        setup.writer.execute("INSERT INTO t (v) VALUES (?)", (i,))
        setup.synced("eu-west")
    header = read_header(wal_path(setup.path))
    assert header is not None
    assert wal_path(setup.path).stat().st_size < 500 * 4120  # the log was started over
    report = setup.synced("ap-south")
    assert report.method == "compare" and report.pages_written < report.db_pages + 1


def test_after_every_connection_closed_a_replica_compares_once(setup: Setup) -> None:
    setup.writer.execute("INSERT INTO t (v) VALUES ('a')")
    setup.synced("eu-west")
    setup.close()
    assert not wal_path(setup.path).exists()
    setup.writer = setup.open_writer()
    setup.sync = ReplicaSync(setup.layout, PRIMARY, time.time)
    setup.primary = SqlDatabase(setup.path)
    setup.replicas = {
        name: SqlDatabase(setup.layout.sql_path(name, "default"), read_only=True)
        for name in REPLICAS
    }
    report = setup.synced("eu-west")
    assert report.method == "compare" and report.pages_written == 0  # nothing differed
    setup.writer.execute("INSERT INTO t (v) VALUES ('b')")
    report = setup.synced("eu-west")
    assert report.pages_written <= 2


def test_a_log_less_primary_untouched_for_a_while_needs_no_second_compare(
    setup: Setup,
) -> None:
    setup.writer.execute("INSERT INTO t (v) VALUES ('a')")
    setup.close()  # no log now; the file's last write is a second old before the sync
    time.sleep(1.1)
    setup.writer = setup.open_writer()
    setup.sync = ReplicaSync(setup.layout, PRIMARY, time.time)
    setup.primary = SqlDatabase(setup.path)
    setup.replicas = {
        "eu-west": SqlDatabase(setup.layout.sql_path("eu-west", "default"), read_only=True)
    }
    assert setup.synced("eu-west").method == "compare"
    record = setup.record("eu-west")
    assert record is not None and record.position is None and record.file is not None
    setup.writer.execute("INSERT INTO t (v) VALUES ('b')")  # the log's first generation
    assert setup.synced("eu-west").method == "wal"


def test_a_writer_in_another_process_is_followed_one_commit_at_a_time(setup: Setup) -> None:
    script = textwrap.dedent(f"""
        from runtime.stores import SqlDatabase
        db = SqlDatabase({str(setup.path)!r})
        for n in range(1, 301):
            with db.connect() as conn:
                conn.execute("BEGIN")
                conn.execute("INSERT INTO t (id, v) VALUES (?, randomblob(?))", (n, n * 37 % 3000))
                conn.execute("COMMIT")
        db.close()
    """)
    writer = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[3])
    replica = setup.replicas["eu-west"]
    seen = 0
    try:
        while True:
            done = writer.poll() is not None
            setup.sync.sync("default", "eu-west", force=True)
            ids = [i for (i,) in replica.execute("SELECT id FROM t ORDER BY id").rows]
            assert ids == list(range(1, len(ids) + 1))  # a prefix: whole commits, in order
            assert len(ids) >= seen
            seen = len(ids)
            if done:
                break
    finally:
        writer.wait(timeout=60)
    assert writer.returncode == 0 and seen == 300
    assert replica.content_digest() == setup.primary.content_digest()


def test_guests_cannot_checkpoint_the_primary_or_write_its_pages(tmp_path: Path) -> None:
    with SqlDatabase(tmp_path / "p.sqlite") as db:
        db.execute("CREATE TABLE t (x)")
        for sql in (
            "PRAGMA wal_checkpoint",
            "PRAGMA wal_checkpoint(TRUNCATE)",
            "PRAGMA main.wal_autocheckpoint = 1",
            "INSERT INTO sqlite_dbpage (pgno, data) VALUES (1, zeroblob(4096))",
            "UPDATE sqlite_dbpage SET data = data WHERE pgno = 1",
        ):
            with pytest.raises(SqlError, match="not authorized") as failed:
                db.execute(sql)
            assert failed.value.code == "SQLITE_AUTH"
        assert db.execute("PRAGMA wal_autocheckpoint").rows == [(32768,)]
        assert len(db.execute("SELECT data FROM sqlite_dbpage WHERE pgno = 1").rows) == 1


def test_a_replica_written_behind_replication_s_back_is_compared_again(setup: Setup) -> None:
    setup.writer.execute("INSERT INTO t (v) VALUES ('a')")
    setup.synced("eu-west")
    other = open_connection(setup.layout.sql_path("eu-west", "default"))
    other.execute("INSERT INTO t (v) VALUES ('not from the primary')")
    other.close()
    setup.writer.execute("INSERT INTO t (v) VALUES ('b')")
    report = setup.synced("eu-west")  # equal to the primary again
    assert report.method == "compare" and report.pages_written >= 1
