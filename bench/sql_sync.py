"""What a SQL replica sync costs, by database size: the primary's WAL shipped, one changed row.

    .venv/bin/python bench/sql_sync.py [--sizes 1,100,1000] [--runs 20] [--full-up-to 1000]

Grows a primary database (rows of 1,000 random bytes, in big transactions) to
each size in MB, lets two replicas catch up, then times `ReplicaSync.sync`
after a one-row change: the writer's replica right after the write, then the
periodic sync of a second replica; then a sync with nothing new (forced to
look, and the data-version check that skips it; medians of 9). For contrast,
the sync of a fresh replica, which compares every page and writes them all (at
sizes up to --full-up-to MB). Temporary files only; about 1.5 min at 1 GB.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from runtime.stores import ReplicaSync, SqlDatabase, StateLayout, StoreRegistry

GROW = """
    INSERT INTO t (v)
    SELECT randomblob(1000) FROM (
        WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?)
        SELECT x FROM n
    )
"""


def size_mb(db: SqlDatabase) -> float:
    (pages,) = db.execute("PRAGMA page_count").rows[0]
    return int(str(pages)) * 4096 / 1e6


def grow(db: SqlDatabase, mb: int) -> None:
    last = time.perf_counter()
    while (now := size_mb(db)) < mb:
        rows = max(100, min(20_000, int((mb - now) * 1e6 / 1100)))
        db.execute(GROW, (rows,))
        if time.perf_counter() - last > 5:
            print(f"  ... {size_mb(db):.0f} MB of {mb}", flush=True)
            last = time.perf_counter()


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="1,100,1000", help="database sizes in MB")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--full-up-to", type=int, default=1000, help="largest full compare (MB)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edge-bench-sync-") as tmp:
        layout = StateLayout(Path(tmp))
        registry = StoreRegistry(layout, "us-east")
        primary = registry.sql("default")
        primary.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
        sync = ReplicaSync(layout, "us-east", time.time)
        # Its connection to the primary stays open, so that closing the last
        # other one never deletes the WAL (and with it every replica's position).
        sync.sync("default", "eu-west")
        rows: list[str] = []
        for mb in (int(s) for s in args.sizes.split(",")):
            print(f"growing the primary to {mb} MB", flush=True)
            grow(primary, mb)
            for region in ("eu-west", "ap-south"):  # catch up after the growth
                sync.sync("default", region)
            full = None
            if mb <= args.full_up_to:
                fresh = f"fresh-{mb}"
                full = timed(lambda: sync.sync("default", fresh))  # noqa: B023
                assert sync.last is not None and sync.last.method == "compare"
            writer, periodic, written = [], [], []
            (count,) = primary.execute("SELECT max(id) FROM t").rows[0]
            for run in range(args.runs):
                primary.execute(
                    "UPDATE t SET v = randomblob(1000) WHERE id = ?",
                    (run * 7919 % int(str(count)) + 1,),
                )
                writer.append(timed(lambda: sync.sync("default", "eu-west")))
                assert sync.last is not None and sync.last.method == "wal", sync.last
                written.append(sync.last.pages_written)
                periodic.append(timed(lambda: sync.sync("default", "ap-south")))
            look = statistics.median(
                timed(lambda: sync.sync("default", "eu-west", force=True)) for _ in range(9)
            )
            skip = statistics.median(
                timed(lambda: sync.sync("default", "eu-west")) for _ in range(9)
            )
            rows.append(
                f"{mb:>5} MB {size_mb(primary) / 4096 * 1e6:>9.0f} "
                f"{ms(min(writer))} {ms(statistics.median(writer))} "
                f"{ms(min(periodic))} {ms(statistics.median(periodic))} "
                f"{max(written):>5} {ms(look)} {skip * 1e6:>7.0f} µs "
                + (f"{full:>8.2f} s" if full is not None else "       -")
            )
            print(rows[-1], flush=True)
        print()
        print(
            f"{'size':>8} {'pages':>9} {'writer min':>11} {'median':>11} "
            f"{'others min':>11} {'median':>11} {'pages':>5} {'no change':>11} "
            f"{'skip':>10} {'full':>10}"
        )
        print("\n".join(rows))
        sync.close()
        registry.close_all()


if __name__ == "__main__":
    main()
