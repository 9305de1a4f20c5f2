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
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import (
    BENCH,
    ROOT,
    Load,
    cpu_seconds,
    descendants,
    edge_up_command,
    free_port,
    pct,
    peak_memory_mb,
    request,
    run_wrk,
    start,
    stop,
    wait_until,
)

WRITE_BODY = '{"title":"buy milk"}'
WRITE_LUA = f"""wrk.method = "POST"
wrk.body = '{WRITE_BODY}'
wrk.headers["Content-Type"] = "application/json"
"""


def wrk(url: str, method: str, connections: int, duration: float, tmp: Path) -> Load:
    script: Path | None = None
    if method == "POST":
        script = tmp / "post.lua"
        script.write_text(WRITE_LUA)
    return run_wrk(url, connections, duration, script)


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


def measure(url: str, method: str, connections: int, duration: float, tool: str, tmp: Path) -> Load:
    if tool == "wrk":
        return wrk(url, method, connections, duration, tmp)
    return asyncio.run(_pyload(url, method, connections, duration))


def run_loads(
    base: str, todo: str, args: argparse.Namespace, tmp: Path, pid: int
) -> dict[str, Load]:
    plan = [
        ("read", "GET", todo, args.connections),
        ("read c4", "GET", todo, 4),
        ("read c1", "GET", todo, 1),
        ("write", "POST", "/todos", args.connections),
    ]
    results = {}
    for name, method, path, conns in plan:
        shown = "/todos/<id>" if path == todo else path
        pids = [pid, *descendants(pid)]
        before = cpu_seconds(pids)
        load = measure(base + path, method, conns, args.duration, args.tool, tmp)
        used = {p: t - before.get(p, 0.0) for p, t in cpu_seconds(pids).items()}
        total = sum(used.values())
        load.cpu_ms = total * 1000 / max(1, load.requests)
        results[name] = load
        # How the work spread over the server's processes (workers share one socket).
        split = ", ".join(f"{p}: {t / total:.0%}" for p, t in used.items() if total and t > 0.05)
        print(
            f"    {name:9} {method} {shown:12} c={conns}: {load.rps:8.1f} req/s  p50 "
            f"{load.p50_ms:7.2f} ms  p99 {load.p99_ms:7.2f} ms  ({load.requests} requests, "
            f"{load.errors} errors)"
        )
        print(f"{'':14}server CPU {total:5.1f} s = {load.cpu_ms:.2f} ms/request; split {split}")
    return results


def serve_and_load(
    label: str,
    cmd: list[str | Path],
    cwd: Path,
    env: dict[str, str] | None,
    args: argparse.Namespace,
    tmp: Path,
    port: int,
) -> tuple[dict[str, Load], float]:
    base = f"http://127.0.0.1:{port}"
    log = tmp / f"{label}.log"
    began = time.perf_counter()
    proc = start(cmd, cwd=cwd, log=log, env=env)
    try:
        # A well-formed id of no todo: 404 once the server answers.
        ready = wait_until(f"{base}/todos/{'0' * 24}", lambda status: status == 404, proc, log)
        print(f"  {label}: pid {proc.pid}, answering after {ready - began:.2f} s")
        status, body = request(f"{base}/todos", "POST", WRITE_BODY.encode())
        if status != 201:
            sys.exit(f"seeding failed: {status} {body!r}")
        todo = f"/todos/{json.loads(body)['id']}"
        if args.warmup > 0:  # every worker up and warm before anything is measured
            measure(base + todo, "GET", args.connections, args.warmup, args.tool, tmp)
        results = run_loads(base, todo, args, tmp, proc.pid)
        memory, per = peak_memory_mb(proc.pid)
        shown = ", ".join(f"{pid}: {mb:.0f}" for pid, mb in per)
        print(f"    peak memory (sum of VmHWM) {memory:.0f} MB  [{shown}]")
    finally:
        stop(proc)
    return results, memory


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
        edge_cmd = edge_up_command(
            ROOT / "spin.toml", port, tmp / "state", "--workers", str(args.workers)
        )
        edge_cmd += ["--log-level", "warning"]
        edge, edge_mem = serve_and_load("edge", edge_cmd, ROOT, None, args, tmp, port)

        port = free_port()
        env = {**os.environ, "BENCH_KV_PATH": str(tmp / "baseline.sqlite")}
        base_cmd: list[str | Path] = [
            sys.executable,
            "-m",
            "hypercorn",
            "--bind",
            f"127.0.0.1:{port}",
        ]
        base_cmd += ["--workers", str(args.workers), "baseline_app:app"]
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
