"""What a SQL replica sync costs: a page copy of the primary, by database size.

    .venv/bin/python bench/sql_sync.py [--sizes 1,10,50] [--runs 5]

Grows a primary database (rows of 1,000 random bytes) to each size in MB, then
times `ReplicaSync.sync` into one replica after a one-row change (a full page
copy with SQLite's backup API), and once more with nothing changed (the check
that skips the copy). Temporary files only; about 10 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from runtime.stores import ReplicaSync, SqlDatabase, StateLayout, StoreRegistry


def size_mb(db: SqlDatabase) -> float:
    wal = db.path.with_name(db.path.name + "-wal")
    return (db.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)) / 1e6


def grow(db: SqlDatabase, mb: int) -> None:
    while size_mb(db) < mb:
        with db.connect() as conn:
            conn.execute("BEGIN")
            for _ in range(100):
                conn.execute("INSERT INTO t (v) VALUES (randomblob(1000))")
            conn.execute("COMMIT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50", help="database sizes in MB")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edge-bench-sync-") as tmp:
        layout = StateLayout(Path(tmp))
        registry = StoreRegistry(layout, "us-east")
        primary = registry.sql("default")
        primary.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
        sync = ReplicaSync(layout, "us-east", time.time)
        print(f"{'size':>7} {'rows':>7} {'copy min':>10} {'median':>10} {'no change':>10}")
        for mb in (int(s) for s in args.sizes.split(",")):
            grow(primary, mb)
            copies = []
            for _ in range(args.runs):
                primary.execute("INSERT INTO t (v) VALUES (x'00')")
                started = time.perf_counter()
                assert sync.sync("default", "eu-west")
                copies.append(time.perf_counter() - started)
            started = time.perf_counter()
            assert not sync.sync("default", "eu-west")
            skip = time.perf_counter() - started
            rows = primary.execute("SELECT count(*) FROM t").rows[0][0]
            assert isinstance(rows, int)  # count(*) is an int; mypy sees any SQL value
            print(
                f"{mb:>4} MB {rows:>7} {min(copies) * 1e3:>7.2f} ms "
                f"{statistics.median(copies) * 1e3:>7.2f} ms {skip * 1e6:>7.0f} µs"
            )
        sync.close()
        registry.close_all()


if __name__ == "__main__":
    main()
