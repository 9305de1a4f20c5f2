"""The todo API on Miniflare, on `edge up` and on the starlette baseline, side by side.

Run from the repository root with the project's interpreter:

    .venv/bin/python bench/peers.py [--only miniflare,edge,baseline] [--workers 2] \\
        [--connections 8] [--duration 10] [--warmup 2]

One server at a time (the machine has 2 cores), the same wrk loads on each: GET
/todos/<id> at --connections and at 1 connection, POST /todos. Miniflare (pinned in
bench/peers, installed by tools/install-miniflare.sh) runs bench/peers/todo-worker.mjs,
the same read and write logic on a KV namespace persisted to disk. Prints each
server's numbers, the ratios edge/miniflare and edge/baseline, and the targets.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from _common import (
    BENCH,
    ROOT,
    Load,
    Step,
    baseline_command,
    edge_todo_command,
    free_port,
    serve_todo_loads,
    wrk_measure,
)

PEERS = BENCH / "peers"
SERVERS = ("miniflare", "edge", "edge-reuse", "baseline")
# edge-reuse: `edge up --max-instance-reuse-count` (opt-in; Spin never reuses a WASI P2
# instance), to show what instantiation costs and to compare with workerd's isolates.
REUSE_COUNT = "128"


@dataclass
class Result:
    loads: dict[str, Load]
    memory_mb: float


def ensure_tools(want_miniflare: bool) -> None:
    """wrk and (if it runs) Miniflare, through the project's installers; quiet when present."""
    subprocess.run([ROOT / "tools" / "install-wrk.sh"], check=True)
    if shutil.which("wrk") is None:
        # http_load.py's Python generator caps req/s far below these servers': no fair ratio.
        sys.exit("wrk is not installed (tools/install-wrk.sh, or: apt-get install wrk)")
    if want_miniflare:
        subprocess.run([ROOT / "tools" / "install-miniflare.sh"], check=True)
        if not (PEERS / "node_modules" / "miniflare").is_dir():
            sys.exit("Miniflare is not installed (tools/install-miniflare.sh needs node and npm)")


def npm_version(package: str) -> str:
    manifest = PEERS / "node_modules" / package / "package.json"
    return str(json.loads(manifest.read_text())["version"])


def server_command(
    name: str, port: int, tmp: Path, workers: int
) -> tuple[list[str | Path], Path, dict[str, str] | None]:
    """(command, cwd, env) of one server, its files under `tmp`."""
    if name == "miniflare":
        # Miniflare's own temporary directory goes under TMPDIR: ours, removed at the end.
        (tmp / "miniflare-tmp").mkdir()
        env = {**os.environ, "TMPDIR": str(tmp / "miniflare-tmp")}
        cmd: list[str | Path] = ["node", PEERS / "miniflare.mjs", "--port", str(port)]
        return [*cmd, "--persist", tmp / "miniflare-kv"], tmp, env
    if name == "edge":
        return edge_todo_command(port, tmp / "state", workers), ROOT, None
    if name == "edge-reuse":
        cmd = edge_todo_command(port, tmp / "state-reuse", workers)
        return [*cmd, "--max-instance-reuse-count", REUSE_COUNT], ROOT, None
    env = {**os.environ, "BENCH_KV_PATH": str(tmp / "baseline.sqlite")}
    return baseline_command(port, workers), BENCH, env


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "-"


def target(name: str, field: str, got: dict[str, float]) -> str:
    """The issue's targets for this row, and whether this run met them."""
    if field == "rps" and name == "read":
        return "; ".join(
            _rps_target(got, edge, factor) for edge, factor in (("edge", 0.5), ("edge-reuse", 1.0))
        )
    if field == "rps" and name == "write":
        return _rps_target(got, "edge", 1.0)
    e = got.get("edge")
    if (name, field) == ("read", "cpu_ms"):
        met, text = (None if e is None else e <= 1.2), "edge <= 1.2 ms"
    elif name == "peak memory":
        met, text = (None if e is None else e <= 300), "edge <= 300 MB"
    else:
        return ""
    return text if met is None else f"{text} ({'ok' if met else 'MISSED'})"


def _rps_target(got: dict[str, float], edge: str, factor: float) -> str:
    e, m = got.get(edge), got.get("miniflare")
    text = f"{edge} >= {factor}x miniflare"
    return text if e is None or m is None else f"{text} ({'ok' if e >= factor * m else 'MISSED'})"


def print_table(results: dict[str, Result], plan: list[Step]) -> None:
    """Every server's numbers, edge's ratios to the others and the targets beside them."""
    names = "".join(f"{n:>11}" for n in results)
    print(f"{'':20}{names}{'edge/mf':>9}{'reuse/mf':>9}{'edge/base':>11}   target")

    def row(label: str, got: dict[str, float], decimals: int, goal: str) -> None:
        cells = "".join(f"{v:11.{decimals}f}" for v in got.values())
        e, r, m, b = (got.get(n) for n in ("edge", "edge-reuse", "miniflare", "baseline"))
        print(f"{label:20}{cells}{ratio(e, m):>9}{ratio(r, m):>9}{ratio(e, b):>11}   {goal}")

    for step in plan:
        for field, unit in (("rps", "req/s"), ("p50_ms", "ms"), ("p99_ms", "ms"), ("cpu_ms", "ms")):
            got = {n: float(getattr(r.loads[step.name], field)) for n, r in results.items()}
            shown = field.removesuffix("_ms") + ("/req" if field == "cpu_ms" else "")
            decimals = 2 if field == "cpu_ms" else 1
            row(f"{step.name} {shown} {unit}", got, decimals, target(step.name, field, got))
    memory = {n: r.memory_mb for n, r in results.items()}
    row("peak memory MB", memory, 0, target("peak memory", "", memory))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        default=",".join(SERVERS),
        help=f"comma-separated servers to run, of {', '.join(SERVERS)} (default: all)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="edge and baseline processes (Miniflare has one)"
    )
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections")
    parser.add_argument("--duration", type=float, default=10, help="seconds per load")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of unmeasured reads")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SERVERS))
    if unknown or not chosen:
        parser.error(f"--only takes {', '.join(SERVERS)}; got {args.only!r}")
    ensure_tools("miniflare" in chosen)

    print(f"{os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.2f} (1 min)")
    versions = f"wrk ({shutil.which('wrk')}, 1 thread)"
    if "miniflare" in chosen:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
        versions += (
            f"; miniflare {npm_version('miniflare')}, workerd {npm_version('workerd')}, "
            f"node {node.strip()}"
        )
    print(versions)
    print(
        f"{args.connections} connections, {args.duration:g} s per load; edge and baseline "
        f"with {args.workers} workers, Miniflare as one workerd process"
    )
    plan = [
        Step("read", "GET", args.connections),
        Step("read c1", "GET", 1),
        Step("write", "POST", args.connections),
    ]
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as name:
        tmp = Path(name)
        measure = wrk_measure(tmp)
        for server in [s for s in SERVERS if s in chosen]:  # one at a time, in a fixed order
            port = free_port()
            cmd, cwd, env = server_command(server, port, tmp, args.workers)
            loads, memory = serve_todo_loads(
                server,
                cmd,
                cwd=cwd,
                env=env,
                port=port,
                plan=plan,
                measure=measure,
                duration=args.duration,
                warmup=args.warmup,
                log=tmp / f"{server}.log",
            )
            results[server] = Result(loads, memory)
    print()
    print_table(results, plan)
    if args.workers != 2:
        print(f"(the issue's targets are for 2 edge workers; this run had {args.workers})")


if __name__ == "__main__":
    main()
