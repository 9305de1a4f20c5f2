"""HTTP load on `edge up` (the root spin.toml) against a plain starlette baseline.

Run from the repository root with the project's interpreter:

    .venv/bin/python bench/http_load.py [--workers 2] [--connections 8] [--duration 10]

Loads GET /todos/<id> (read) and POST /todos (write) with wrk when it is installed
(else a small asyncio/httpx load generator), then prints a table of edge vs
baseline (bench/baseline_app.py on hypercorn) and the edge server's peak memory.
Prints numbers and targets; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

import httpx
from _common import (
    BENCH,
    ROOT,
    WRITE_BODY,
    Load,
    Measure,
    Step,
    baseline_command,
    edge_todo_command,
    free_port,
    pct,
    serve_todo_loads,
    wrk_measure,
)


async def _pyload(url: str, method: str, connections: int, duration: float) -> Load:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    body = WRITE_BODY.encode() if method == "POST" else None
    headers = {"content-type": "application/json"} if body else {}
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        end = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < end:
                started = time.perf_counter()
                try:
                    resp = await client.request(method, url, content=body, headers=headers)
                    errors += resp.status_code >= 300
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    ms = [s * 1000 for s in latencies]
    return Load(len(ms) / elapsed, pct(ms, 50), pct(ms, 99), len(ms), errors)


def _python_measure(url: str, method: str, connections: int, duration: float) -> Load:
    return asyncio.run(_pyload(url, method, connections, duration))


def serve_and_load(
    label: str,
    cmd: list[str | Path],
    cwd: Path,
    env: dict[str, str] | None,
    args: argparse.Namespace,
    tmp: Path,
    port: int,
) -> tuple[dict[str, Load], float]:
    plan = [
        Step("read", "GET", args.connections),
        Step("read c4", "GET", 4),
        Step("read c1", "GET", 1),
        Step("write", "POST", args.connections),
    ]
    measure: Measure = wrk_measure(tmp) if args.tool == "wrk" else _python_measure
    return serve_todo_loads(
        label,
        cmd,
        cwd=cwd,
        env=env,
        port=port,
        plan=plan,
        measure=measure,
        duration=args.duration,
        warmup=args.warmup,
        log=tmp / f"{label}.log",
    )


def ratio(a: float, b: float) -> str:
    return f"{a / b:6.2f}x" if b else "     -"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="server processes (both servers)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections")
    parser.add_argument("--duration", type=float, default=10, help="seconds per load")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of unmeasured reads")
    parser.add_argument(
        "--tool",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator (default: wrk if installed, else asyncio + httpx)",
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.2f} (1 min)")
    tool = f"wrk ({shutil.which('wrk')}, 1 thread)" if args.tool == "wrk" else "asyncio + httpx"
    print(
        f"load generator: {tool}; {args.connections} connections, {args.duration:g} s per load, "
        f"{args.workers} workers per server"
    )
    with tempfile.TemporaryDirectory(prefix="bench-http-") as name:
        tmp = Path(name)
        port = free_port()
        edge_cmd = edge_todo_command(port, tmp / "state", args.workers)
        edge, edge_mem = serve_and_load("edge", edge_cmd, ROOT, None, args, tmp, port)

        port = free_port()
        env = {**os.environ, "BENCH_KV_PATH": str(tmp / "baseline.sqlite")}
        base_cmd = baseline_command(port, args.workers)
        base, base_mem = serve_and_load("baseline", base_cmd, BENCH, env, args, tmp, port)

    print()
    print(f"{'':22}{'edge':>10}{'baseline':>10}{'edge/base':>11}   target")
    targets = {
        ("read", "rps"): "read >= 400 req/s",
        ("read", "p50_ms"): "p50 < 10 ms",
        ("read c4", "p50_ms"): "p50 < 10 ms",
        ("read c1", "p50_ms"): "p50 < 10 ms",
    }
    for name in edge:
        for field, unit in (("rps", "req/s"), ("p50_ms", "ms"), ("p99_ms", "ms"), ("cpu_ms", "ms")):
            e, b = getattr(edge[name], field), getattr(base[name], field)
            target = targets.get((name, field), "")
            if target:
                met = e >= 400 if field == "rps" else e < 10
                target += f" ({'ok' if met else 'MISSED'})"
            label = (
                f"{name} {field.removesuffix('_ms')}{'/req' if field == 'cpu_ms' else ''} {unit}"
            )
            print(f"{label:22}{e:10.1f}{b:10.1f}{ratio(e, b):>11}   {target}")
    mem_target = f"< 400 MB ({'ok' if edge_mem < 400 else 'MISSED'})"
    print(
        f"{'peak memory MB':22}{edge_mem:10.0f}{base_mem:10.0f}"
        f"{ratio(edge_mem, base_mem):>11}   {mem_target}"
    )


if __name__ == "__main__":
    main()
