"""Build, compile, server start and instantiation times of edge.

Run from the repository root with the project's interpreter:

    .venv/bin/python bench/build_and_start.py [--start-runs 3] [--iterations 300]

Prints numbers and the targets they are meant to meet; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _common import (
    ROOT,
    edge_cli,
    edge_up_command,
    free_port,
    start,
    stop,
    summary_ms,
    verdict,
    wait_until,
)

from runtime.app.manifest import load
from runtime.build.incremental import build_manifest
from runtime.testing import Emulator
from runtime.wasm.engine import WasmEngine

TODO_DIR = ROOT / "examples" / "todo"
ROOT_MANIFEST = ROOT / "spin.toml"


def timed_cli(args: list[str | Path], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, args))} failed ({done.returncode}):\n{output}")
    return seconds, output.splitlines()[-1] if output else ""


def bench_build() -> None:
    print("== edge build (examples/todo copied to a temp dir)")
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        app = Path(tmp) / "todo"
        shutil.copytree(
            TODO_DIR, app, ignore=shutil.ignore_patterns("__pycache__", "*.wasm", ".*.edge-build")
        )
        manifest = app / "spin.toml"
        cold, line = timed_cli([edge_cli(), "build", "-f", manifest, "--force"], cwd=app)
        print(f"  cold build (--force)      {cold:7.2f} s   ({line})")
        warm, line = timed_cli([edge_cli(), "build", "-f", manifest], cwd=app)
        print(f"  no-change build (CLI)     {warm:7.3f} s   ({line})  {verdict(warm, 1)}")
        # The same check without interpreter start-up and imports: what is left is
        # hashing the watched files, the framework and the 19 MB .wasm.
        started = time.perf_counter()
        build_manifest(load(manifest), report=lambda _: None)
        inproc = time.perf_counter() - started
        print(f"    of which the check itself {inproc:5.3f} s (in-process build_manifest)")
        help_s, _ = timed_cli([edge_cli(), "--help"], cwd=app)
        print(f"    `edge --help` for scale  {help_s:7.3f} s (interpreter + CLI start-up)")


def bench_compile() -> None:
    print("== compile examples/todo/todo.wasm with wasmtime")
    wasm = TODO_DIR / "todo.wasm"
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as cache:
        started = time.perf_counter()
        WasmEngine(cache_dir=Path(cache)).load(wasm)
        cold = time.perf_counter() - started
        print(f"  cold compile (empty cache)   {cold:7.2f} s")
        warm = []
        for _ in range(3):
            started = time.perf_counter()
            WasmEngine(cache_dir=Path(cache)).load(wasm)
            warm.append(time.perf_counter() - started)
        shown = ", ".join(f"{w * 1000:.0f}" for w in warm)
        print(
            f"  warm cache (deserialize)     {statistics.median(warm):7.3f} s  "
            f"(3 runs: {shown} ms; cold/warm = {cold / statistics.median(warm):.0f}x)"
        )


def bench_start(runs: int) -> None:
    print("== edge up start, warm compile cache (--workers 2, --no-build)")
    engine = WasmEngine()
    for cid, spec in load(ROOT_MANIFEST).components.items():
        if not engine.is_cached(spec.source):
            print(
                f"  WARNING: {cid} is not in the compile cache {engine.cache_dir}: "
                "the first start compiles it (run once to warm the cache)"
            )
    totals = []
    for run in range(1, runs + 1):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
            log = Path(tmp) / "edge.log"
            args = edge_up_command(ROOT_MANIFEST, port, Path(tmp) / "state", "--workers", "2")
            started = time.perf_counter()
            proc = start(args, cwd=ROOT, log=log)
            try:
                health = wait_until(f"{url}/_edge/health", lambda status: status == 200, proc, log)
                todos = wait_until(f"{url}/todos", lambda status: status == 200, proc, log)
            finally:
                stopped = stop(proc)
        total = max(health, todos) - started
        totals.append(total)
        print(
            f"  run {run}: health 200 after {health - started:6.3f} s, GET /todos 200 after "
            f"{todos - started:6.3f} s -> ready {total:6.3f} s {verdict(total, 2)}; "
            f"SIGTERM -> exit {stopped:5.2f} s (code {proc.returncode})"
        )
    if runs > 1:
        print(
            f"  median ready {statistics.median(totals):6.3f} s  "
            f"{verdict(statistics.median(totals), 2)}"
        )


def bench_instances(iterations: int) -> None:
    print(f"== instances of todo (Emulator, region us-east, {iterations} iterations)")
    with Emulator(ROOT_MANIFEST, regions=["us-east"], build=False) as edge:
        runner = edge.host.regions["us-east"].runners["todo"]
        pool = runner.ready_pool  # emptied after each timing so instances don't pile up
        made = []
        for _ in range(iterations):
            started = time.perf_counter()
            runner.refill_one()
            made.append(time.perf_counter() - started)
            while pool.take() is not None:
                pass
        print(f"  refill_one (fresh instance)   {summary_ms(made)}")

        client = edge.client("us-east")
        created = client.post("/todos", json={"title": "bench"})
        path = f"/todos/{created.json()['id']}"
        premade, inline = [], []
        misses_before = runner.stats["pool_misses"]
        for _ in range(iterations):
            runner.refill_one()
            started = time.perf_counter()
            ok = client.get(path).status_code == 200
            premade.append(time.perf_counter() - started)
            started = time.perf_counter()
            ok = client.get(path).status_code == 200 and ok
            inline.append(time.perf_counter() - started)
            if not ok:
                raise SystemExit(f"GET {path} failed")
        misses = runner.stats["pool_misses"] - misses_before
        print(f"  GET {path}, pre-made instance   {summary_ms(premade)}")
        print(f"  GET {path}, instantiate inline  {summary_ms(inline)}  ({misses} pool misses)")
        gain = statistics.mean(inline) - statistics.mean(premade)
        print(
            f"  pre-made saves {gain * 1000:.3f} ms per request "
            f"(inline/pre-made = {statistics.mean(inline) / statistics.mean(premade):.2f}x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start-runs", type=int, default=3, help="edge up starts to time")
    parser.add_argument("--iterations", type=int, default=300, help="instances to time")
    parser.add_argument("--skip-build", action="store_true", help="skip the ~15 s cold build")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.2f} (1 min)")
    if not args.skip_build:
        bench_build()
    bench_compile()
    bench_start(args.start_runs)
    bench_instances(args.iterations)


if __name__ == "__main__":
    main()
