"""What the explorer's live feed costs the reads of `edge up` (the root spin.toml's todo API).

Run from the repository root with the project's interpreter:

    .venv/bin/python bench/events_cost.py [--rounds 3] [--duration 8] [--pages 4]

Every request of `edge up` is an event, written in batches to the event log by
a thread of each worker. This runs bench/http_load.py's `read` (and `read c1`)
loads against `edge up`, in rounds that alternate between no page open and
`--pages` pages reading `/_edge/events` (each a real SSE client receiving
every event), and prints the median of each. Run it on a commit without the
feed to compare with none at all. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import threading
from pathlib import Path

import httpx
from _common import ROOT, Load, Step, edge_todo_command, free_port, serve_todo_loads
from _common import wrk_measure as wrk


class Pages:
    """`count` SSE clients of /_edge/events, counting the events they receive."""

    def __init__(self, base: str, count: int) -> None:
        self.received = 0
        self.refused = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._read, args=(base,)) for _ in range(count)]
        for thread in self._threads:
            thread.start()

    def _read(self, base: str) -> None:
        timeout = httpx.Timeout(10.0, read=30.0)
        try:
            with httpx.stream("GET", f"{base}/_edge/events", timeout=timeout) as response:
                if response.status_code != 200:
                    with self._lock:
                        self.refused += 1
                    return
                for line in response.iter_lines():
                    if line.startswith("id:"):
                        with self._lock:
                            self.received += 1
                    if self._stop.is_set():
                        return
        except httpx.HTTPError:
            return  # the server stopped

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)


def run(pages: int, args: argparse.Namespace, tmp: Path) -> tuple[dict[str, Load], int]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    measure = wrk(tmp)
    opened: list[Pages] = []

    def with_pages(url: str, method: str, connections: int, duration: float) -> Load:
        if pages and not opened:  # the first call is the warm-up: the server is up
            opened.append(Pages(base, pages))
        return measure(url, method, connections, duration)

    plan = [Step("read", "GET", args.connections), Step("read c1", "GET", 1)]
    label = f"edge, {pages} pages"
    cmd = edge_todo_command(port, tmp / f"state-{pages}", args.workers)
    try:
        loads, _ = serve_todo_loads(
            label,
            cmd,
            cwd=ROOT,
            env=None,
            port=port,
            plan=plan,
            measure=with_pages if pages else measure,
            duration=args.duration,
            warmup=args.warmup,
            log=tmp / f"{label}.log",
        )
    finally:
        for page in opened:
            page.close()
    received = opened[0].received if opened else 0
    if opened and opened[0].refused:
        print(f"    {opened[0].refused} pages refused (no /_edge/events on this commit?)")
    return loads, received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8, help="seconds per load")
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--pages", type=int, default=4, help="SSE clients in the second variant")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("this bench needs wrk")
    print(f"{os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.2f} (1 min)")
    results: dict[int, list[dict[str, Load]]] = {0: [], args.pages: []}
    received: list[int] = []
    with tempfile.TemporaryDirectory(prefix="bench-events-") as name:
        for _ in range(args.rounds):
            for pages in results:
                loads, got = run(pages, args, Path(name))
                results[pages].append(loads)
                if pages:
                    received.append(got)
    print()
    print(f"{'median of ' + str(args.rounds):22}{'read req/s':>12}{'p50 ms':>9}{'c1 p50 ms':>11}")
    for pages, runs in results.items():
        rps = statistics.median(r["read"].rps for r in runs)
        p50 = statistics.median(r["read"].p50_ms for r in runs)
        c1 = statistics.median(r["read c1"].p50_ms for r in runs)
        print(f"{f'{pages} pages open':22}{rps:12.1f}{p50:9.2f}{c1:11.2f}")
    if received:
        print(f"events received by one page per round: {received}")


if __name__ == "__main__":
    main()
