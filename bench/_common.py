"""Helpers shared by the benchmark scripts: processes, readiness, memory, statistics.

Everything here talks to loopback addresses only and ends only the processes
the scripts themselves started.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def edge_cli() -> str:
    """The `edge` console script of the interpreter running the benchmark."""
    beside = Path(sys.executable).with_name("edge")
    found = str(beside) if beside.exists() else shutil.which("edge")
    if found is None:
        sys.exit("the `edge` command was not found: run with the project's .venv/bin/python")
    return found


def edge_up_command(
    manifest: Path, port: int, state_dir: Path, *extra: str | Path
) -> list[str | Path]:
    """`edge up` of a built app on 127.0.0.1:`port`, with its own state directory.

    Hrana gets free ports unless `extra` says otherwise: the listen port + 1 may be taken.
    """
    cmd: list[str | Path] = [edge_cli(), "up", "-f", manifest, "--no-build"]
    cmd += ["--listen", f"127.0.0.1:{port}", "--state-dir", state_dir, *extra]
    return cmd if "--hrana-port" in extra else [*cmd, "--hrana-port", "0"]


def edge_todo_command(port: int, state_dir: Path, workers: int) -> list[str | Path]:
    """`edge up` of the root spin.toml (the todo API is its /todos), no request logs."""
    cmd = edge_up_command(ROOT / "spin.toml", port, state_dir, "--workers", str(workers))
    return [*cmd, "--log-level", "warning"]


def baseline_command(port: int, workers: int) -> list[str | Path]:
    """bench/baseline_app.py on hypercorn: run it in BENCH, with BENCH_KV_PATH set."""
    cmd: list[str | Path] = [sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}"]
    return [*cmd, "--workers", str(workers), "baseline_app:app"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    cmd: Sequence[str | Path], *, cwd: Path, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a server in its own session, its output going to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(c) for c in cmd],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> float:
    """SIGTERM the server we started; returns seconds until it exited."""
    started = time.perf_counter()
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the session we created for it
            proc.wait()
    return time.perf_counter() - started


def request(
    url: str,
    method: str = "GET",
    body: bytes | None = None,
    timeout: float = 60.0,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, bytes]:
    """One HTTP/1.1 request with the standard library: (status, body).

    Deliberately not httpx: each `httpx.get` builds an SSL context (~35 ms of CPU),
    which, polled every 10 ms, would take a core from the server being timed.
    """
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        sent = {"content-type": "application/json"} if body is not None else {}
        conn.request(method, parts.path or "/", body=body, headers={**sent, **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_until(
    url: str,
    ok: Callable[[int], bool],
    proc: subprocess.Popen[bytes],
    log: Path,
    deadline_s: float = 60.0,
) -> float:
    """Poll `url` until `ok(status)`; returns perf_counter() of the first good answer."""
    end = time.perf_counter() + deadline_s
    while time.perf_counter() < end:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}; its log:\n{tail(log)}")
        try:
            # A connection made once the socket is bound waits in the backlog until a
            # worker accepts it, so the answer time is when serving really began.
            status, _ = request(url, timeout=deadline_s)
            if ok(status):
                return time.perf_counter()
        except OSError:  # refused: not listening yet
            pass
        time.sleep(0.01)
    sys.exit(f"{url} did not answer within {deadline_s} s; server log:\n{tail(log)}")


def tail(log: Path, lines: int = 30) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


# --- load with wrk ---------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx answers plus socket errors
    cpu_ms: float = 0.0  # server CPU time (all its processes) per request


def run_wrk(url: str, connections: int, duration: float, script: Path | None = None) -> Load:
    """One wrk run (1 thread, latency distribution); `script` is a Lua file for `-s`."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    latency = {
        m[1]: float(m[2]) * _UNITS[m[3]]
        for m in re.finditer(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)", out, re.M)
    }
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Load(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),  # type: ignore[index]
        p50_ms=latency["50"],
        p99_ms=latency["99"],
        requests=int(re.search(r"(\d+) requests in", out)[1]),  # type: ignore[index]
        errors=errors,
    )


# --- the todo API under load (http_load.py, peers.py) ----------------------------------

WRITE_BODY = '{"title":"buy milk"}'
WRITE_LUA = f"""wrk.method = "POST"
wrk.body = '{WRITE_BODY}'
wrk.headers["Content-Type"] = "application/json"
"""

# One load generator run: (url, method, connections, seconds) -> its numbers.
Measure = Callable[[str, str, int, float], Load]


def wrk_measure(tmp: Path) -> Measure:
    """wrk as a `Measure`: a GET of the url, or a POST of WRITE_BODY (Lua script in `tmp`)."""
    script = tmp / "post.lua"
    script.write_text(WRITE_LUA)

    def measure(url: str, method: str, connections: int, duration: float) -> Load:
        return run_wrk(url, connections, duration, script if method == "POST" else None)

    return measure


@dataclass(frozen=True)
class Step:
    """One load of a plan: GET reads the seeded todo, POST writes new ones to /todos."""

    name: str
    method: str
    connections: int


def serve_todo_loads(
    label: str,
    cmd: Sequence[str | Path],
    *,
    cwd: Path,
    env: dict[str, str] | None,
    port: int,
    plan: Sequence[Step],
    measure: Measure,
    duration: float,
    warmup: float,
    log: Path,
) -> tuple[dict[str, Load], float]:
    """Start a server of the todo API, seed one todo, warm up, run `plan`, stop it.

    Prints a line per load with the server's CPU (all its processes, from /proc)
    and how it split over them; returns the loads by name and the peak memory in MB.
    """
    base = f"http://127.0.0.1:{port}"
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
        if warmup > 0:  # every worker up and warm before anything is measured
            measure(base + todo, "GET", plan[0].connections, warmup)
        results = {}
        for step in plan:
            path = todo if step.method == "GET" else "/todos"
            pids = [proc.pid, *descendants(proc.pid)]
            before = cpu_seconds(pids)
            load = measure(base + path, step.method, step.connections, duration)
            used = {p: t - before.get(p, 0.0) for p, t in cpu_seconds(pids).items()}
            total = sum(used.values())
            load.cpu_ms = total * 1000 / max(1, load.requests)
            results[step.name] = load
            # How the work spread over the server's processes (workers share one socket).
            shares = [f"{p}: {t / total:.0%}" for p, t in used.items() if total and t > 0.05]
            split = ", ".join(shares)
            shown = "/todos/<id>" if path == todo else path
            print(
                f"    {step.name:9} {step.method} {shown:12} c={step.connections}: "
                f"{load.rps:8.1f} req/s  p50 {load.p50_ms:7.2f} ms  p99 {load.p99_ms:7.2f} ms  "
                f"({load.requests} requests, {load.errors} errors)"
            )
            print(f"{'':14}server CPU {total:5.1f} s = {load.cpu_ms:.2f} ms/request; split {split}")
        memory, per = peak_memory_mb(proc.pid)
        shown = ", ".join(f"{pid}: {mb:.0f}" for pid, mb in per)
        print(f"    peak memory (sum of VmHWM) {memory:.0f} MB  [{shown}]")
    finally:
        stop(proc)
    return results, memory


# --- memory from /proc --------------------------------------------------------------


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (comm) may hold spaces and parentheses: split after the last ")".
    return int(stat.rsplit(")", 1)[1].split()[1])


def descendants(pid: int) -> list[int]:
    """Child processes (recursively), from /proc/<pid>/task/*/children when the kernel
    has it (CONFIG_PROC_CHILDREN), else from every process's parent id."""
    children: dict[int, list[int]] = {}
    tasks = list(Path(f"/proc/{pid}/task").glob("*/children"))
    if tasks:
        found: list[int] = []
        for task in tasks:
            for child in map(int, task.read_text().split()):
                found += [child, *descendants(child)]
        return found
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = _ppid(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cpu_seconds(pids: Sequence[int]) -> dict[int, float]:
    """User + system CPU time used so far by each process (all its threads)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return out


def machine_cpu_seconds() -> float:
    """Busy CPU time of the whole machine so far (all cores; /proc/stat, no idle or iowait)."""
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_memory_mb(pid: int) -> tuple[float, list[tuple[int, float]]]:
    """Sum of VmHWM (peak resident set) of `pid` and its descendants, in MB."""
    per = [(p, vm_hwm_kb(p) / 1024) for p in [pid, *descendants(pid)]]
    return sum(mb for _, mb in per), per


# --- numbers --------------------------------------------------------------------------


def pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary_ms(seconds: Sequence[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"mean {sum(ms) / len(ms):7.3f} ms  p50 {pct(ms, 50):7.3f} ms  "
        f"p99 {pct(ms, 99):7.3f} ms  (n={len(ms)})"
    )


def verdict(value: float, limit: float, *, below: bool = True) -> str:
    met = value < limit if below else value >= limit
    return f"[{'ok' if met else 'MISSED'}: target {'<' if below else '>='} {limit:g}]"
