"""Statements per second that libsql-client reaches against `edge up`'s Hrana endpoint.

    .venv/bin/python bench/hrana.py [--statements 2000] [--clients 4]

Starts `edge up` (tests/apps/sqlprobe, one region, so every statement runs on
the primary with no emulated latency), then drives the us-east database's
Hrana endpoint with libsql-client over HTTP and over WebSocket, and the same
client on a `file:` URL of the same database file in the same run. For each:
point reads and single-row inserts from one client, then point reads from
several clients at once (threads, one client each). Prints statements/s and
the ratio to `file:`.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import libsql_client
from _common import ROOT, edge_up_command, free_port, start, stop, wait_until

MANIFEST = ROOT / "tests" / "apps" / "sqlprobe" / "spin.toml"
SCHEMA = "CREATE TABLE IF NOT EXISTS bench (id INTEGER PRIMARY KEY, v TEXT)"


def rate(
    url: str, n: int, clients: int, op: Callable[[libsql_client.ClientSync, int], None]
) -> float:
    """Statements per second for `op`, `n` times per client, `clients` clients at once."""
    errors: list[BaseException] = []
    ready = threading.Barrier(clients + 1)

    def run() -> None:
        try:
            with libsql_client.create_client_sync(url) as client:
                op(client, 0)  # connect and warm up outside the timing
                ready.wait()
                for i in range(n):
                    op(client, i)
        except BaseException as exc:  # reported below, not swallowed
            errors.append(exc)
            ready.abort()

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return n * clients / (time.perf_counter() - started)


def point_read(client: libsql_client.ClientSync, i: int) -> None:
    client.execute("SELECT v FROM bench WHERE id = ?", [i % 100 + 1])


def insert(client: libsql_client.ClientSync, i: int) -> None:
    client.execute("INSERT INTO bench (v) VALUES (?)", [f"row {i}"])


def measure(
    name: str, url: str, args: argparse.Namespace, *, concurrent: bool = True
) -> tuple[float, ...]:
    reads = rate(url, args.statements, 1, point_read)
    writes = rate(url, args.statements // 4, 1, insert)
    if not concurrent:
        print(f"{name:<12} {reads:>10.0f}/s {writes:>10.0f}/s {'n/a':>12}")
        return reads, writes
    parallel = rate(url, args.statements // 2, args.clients, point_read)
    print(f"{name:<12} {reads:>10.0f}/s {writes:>10.0f}/s {parallel:>10.0f}/s")
    return reads, writes, parallel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=2000, help="per client and test")
    parser.add_argument("--clients", type=int, default=4, help="clients of the concurrent test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edge-bench-hrana-") as tmp:
        state = Path(tmp) / "state"
        port, hrana_port = free_port(), free_port()
        log = Path(tmp) / "edge-up.log"
        cmd = edge_up_command(MANIFEST, port, state, "--hrana-port", str(hrana_port))
        cmd += ["--regions", "us-east", "--workers", "1", "--log-level", "warning"]
        proc = start(cmd, cwd=ROOT, log=log)
        try:
            wait_until(f"http://127.0.0.1:{port}/_edge/health", lambda s: s == 200, proc, log)
            http_url = f"http://127.0.0.1:{hrana_port}"
            urls = {
                "hrana http": http_url,
                "hrana ws": http_url.replace("http:", "ws:"),
                "file:": f"file://{state / 'us-east' / 'sql' / 'default.sqlite'}",
            }
            with libsql_client.create_client_sync(urls["hrana ws"]) as client:
                client.execute(SCHEMA)
                client.batch(
                    [("INSERT INTO bench (v) VALUES (?)", [f"seed {i}"]) for i in range(100)]
                )
            print(f"{args.statements} statements per client; edge up: 1 worker, 1 region")
            print(
                f"{'transport':<12} {'point read':>12} {'insert':>12} {f'read x{args.clients}':>12}"
            )
            results = {n: measure(n, url, args) for n, url in urls.items() if n != "file:"}
        finally:
            stop(proc)
        # libsql-client opens the file anew for every statement with no busy
        # timeout, so several clients at once fail with SQLITE_BUSY: one client
        # only, with the server stopped and one connection held open (so that no
        # client's close is the last one, which checkpoints the WAL).
        with sqlite3.connect(state / "us-east" / "sql" / "default.sqlite"):
            results["file:"] = measure("file:", urls["file:"], args, concurrent=False)
        base = results["file:"]
        for name in ("hrana http", "hrana ws"):
            ratios = " ".join(f"{a / b:>11.2f}x" for a, b in zip(results[name], base, strict=False))
            print(f"{name + ' / file:':<12} {ratios}")


if __name__ == "__main__":
    main()
