"""Key-value replication: replicator throughput, burst convergence, reads with 3 regions.

    .venv/bin/python bench/replication.py [--only kv|burst|read]   # from the repository root

1. kv: the real stores and `KVReplicator` in process, two regions, lag 0: changes
   per second that one `step()` delivers, for several value sizes.
2. burst: `edge up` (tests/apps/kvprobe, three regions, lag 0); PUTs spread over the
   regions, then `GET /_edge/replication` until every replica agrees.
3. read: GET /todos/<id> of the root spin.toml with wrk, one region vs three.
Prints numbers and targets; asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import itertools
import json
import os
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import Popen
from urllib.parse import urlsplit

from _common import (
    ROOT,
    Load,
    cpu_seconds,
    descendants,
    edge_up_command,
    free_port,
    machine_cpu_seconds,
    peak_memory_mb,
    request,
    run_wrk,
    start,
    stop,
    wait_until,
)

from runtime.regions.clock import VirtualClock
from runtime.regions.kv_replication import BATCH, KVReplicator
from runtime.regions.network import Network
from runtime.stores import StateLayout, StoreRegistry

REGIONS = ["us-east", "eu-west", "ap-south"]
REGION_HEADER = "x-edge-region"
KVPROBE = ROOT / "tests" / "apps" / "kvprobe" / "spin.toml"
CONVERGE_TIMEOUT = 120  # seconds
EARLIER_READ_RPS = "416-450"  # bench/http_load.py, GET /todos/<id>, default region only

# Cycles the regions request by request; the one-region run uses the same script
# with one name, so both runs pay the same load-generator cost.
READ_LUA = """local regions = {%s}
local i = 0
request = function()
  i = i %% #regions + 1
  return wrk.format("GET", "%s", {["x-edge-region"] = regions[i]})
end
"""


# --- 1. the replicator in process --------------------------------------------------


def two_regions(state: Path) -> tuple[KVReplicator, VirtualClock]:
    clock = VirtualClock()
    layout = StateLayout(state)
    registries = {name: StoreRegistry(layout, name, clock=clock.now) for name in REGIONS[:2]}
    network = Network(REGIONS[:2], lag=0, jitter=0)
    return KVReplicator(registries, ["default"], network, clock), clock


def fill(replicator: KVReplicator, clock: VirtualClock, changes: int, size: int) -> float:
    """Write `changes` keys into the first region; returns writes per second."""
    store = replicator.regions[REGIONS[0]].kv("default")
    value = b"v" * size
    began = time.perf_counter()
    for i in range(changes):
        store.set(f"key-{i:06d}", value)
    rate = changes / (time.perf_counter() - began)
    # Every write was stamped within one virtual millisecond; one second later all are due.
    clock.advance(1.0)
    return rate


def kv_throughput(changes: int, sizes: list[int], tmp: Path) -> None:
    print(f"== KVReplicator.step(), {REGIONS[0]} -> {REGIONS[1]}, lag 0, jitter 0, BATCH {BATCH}")
    for size in sizes:
        with tempfile.TemporaryDirectory(dir=tmp) as state:
            replicator, clock = two_regions(Path(state))
            write_rate = fill(replicator, clock, changes, size)
            began = time.perf_counter()
            delivered = replicator.step()
            elapsed = time.perf_counter() - began
            messages = sum(s.messages for s in replicator.stats.values())
            agree = replicator.agree("default")
            for registry in replicator.regions.values():
                registry.close_all()
        print(
            f"  {size:6d} B values: {delivered} changes in {elapsed:6.3f} s = "
            f"{delivered / elapsed:8.0f} changes/s, {messages / elapsed:6.1f} messages/s, "
            f"{delivered * size / elapsed / 1e6:6.1f} MB/s of values; replicas agree: {agree}"
        )
        print(f"{'':18}(the {changes} local writes beforehand: {write_rate:7.0f} writes/s)")
    where_the_time_goes(changes, tmp)


def where_the_time_goes(changes: int, tmp: Path) -> None:
    """One more step under cProfile, 100 B values: shares of the step's time."""
    with tempfile.TemporaryDirectory(dir=tmp) as state:
        replicator, clock = two_regions(Path(state))
        fill(replicator, clock, changes, 100)
        profile = cProfile.Profile()
        profile.runcall(replicator.step)
        for registry in replicator.regions.values():
            registry.close_all()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in stats.values())  # own time of every function

    # Time in a function with its callees; rows overlap: the Change checks run inside
    # changes_since and decode_changes, and the SQLite calls inside most rows.
    rows = [
        ("sender.changes_since (SELECT, Change objects)", "kv.py", "changes_since"),
        ("_due -> Network.delivery_time, per change", "replication.py", "_due"),
        ("encode_changes (msgpack)", "changes.py", "encode_changes"),
        ("decode_changes (msgpack, Change objects)", "changes.py", "decode_changes"),
        ("receiver.apply (SELECT + UPSERT per change)", "kv.py", "apply"),
        ("sender.ack", "kv.py", "ack"),
        ("Change.__post_init__ checks (twice per change)", "changes.py", "__post_init__"),
    ]
    print(f"  where a step's time goes (cProfile, 100 B values, {total:.2f} s profiled):")
    for label, module, name in rows:
        spent = sum(v[3] for k, v in stats.items() if k[0].endswith(module) and k[2] == name)
        print(f"    {label:48} {spent / total:6.1%}")
    sqlite = sum(v[2] for k, v in stats.items() if "of 'sqlite3." in k[2])
    print(f"    {'sqlite3 calls (C code)':48} {sqlite / total:6.1%}")


# --- 2. a burst of writes through edge up ------------------------------------------


def value_for(key: str, size: int) -> bytes:
    return (key.encode() + b":" + b"x" * size)[:size].ljust(size, b".")


def put_burst(base: str, writes: int, connections: int, size: int) -> tuple[float, float, int]:
    """PUT /kv/b-<i>, regions in turn, one keep-alive connection per thread.
    Returns (start, last acknowledged write, errors); times from perf_counter()."""
    counter = itertools.count()  # next() is atomic under the GIL
    lock = threading.Lock()
    last_ack = 0.0
    errors = 0

    def worker() -> None:
        nonlocal last_ack, errors
        conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=30)
        while (i := next(counter)) < writes:
            key = f"b-{i:05d}"
            headers = {REGION_HEADER: REGIONS[i % len(REGIONS)]}
            try:
                conn.request("PUT", f"/kv/{key}", body=value_for(key, size), headers=headers)
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()  # reconnects on the next request
            done = time.perf_counter()
            with lock:
                if ok:
                    last_ack = max(last_ack, done)
                else:
                    errors += 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return began, last_ack, errors


def replication_state(base: str) -> tuple[bool, int, float]:
    """(every store's replicas agree, total backlog, seconds the answer took)."""
    began = time.perf_counter()
    status, body = request(f"{base}/_edge/replication", timeout=30)
    took = time.perf_counter() - began
    if status != 200:
        sys.exit(f"/_edge/replication answered {status}: {body[:200]!r}")
    stores = json.loads(body)["kv"]
    backlog = sum(link["backlog"] for store in stores for link in store["links"])
    return all(store["replicas_agree"] for store in stores), backlog, took


def cpu_meter(supervisor: int) -> Callable[[], tuple[dict[int, float], float]]:
    """Returns a function giving the CPU seconds used since now per server process, and
    by the whole machine (busy time of all cores)."""
    pids = [supervisor, *descendants(supervisor)]
    before, machine = cpu_seconds(pids), machine_cpu_seconds()

    def used() -> tuple[dict[int, float], float]:
        now = cpu_seconds(pids)
        return {p: t - before.get(p, 0.0) for p, t in now.items()}, machine_cpu_seconds() - machine

    return used


def idle_cpu(supervisor: int, seconds: float = 3.0) -> str:
    """CPU share of a core per server process over `seconds` with no requests."""
    meter = cpu_meter(supervisor)
    time.sleep(seconds)
    used, _ = meter()
    return ", ".join(
        f"{'supervisor' if p == supervisor else 'worker'} {t / seconds:.0%}"
        for p, t in used.items()
    )


def edge_up(
    manifest: Path, regions: list[str], extra: list[str], args: argparse.Namespace, tmp: Path
) -> tuple[Popen[bytes], str, Path]:
    """Start `edge up` on a free loopback port with a fresh state dir: (process, url, log)."""
    port = free_port()
    name = f"{manifest.parent.name}-{len(regions)}"
    cmd = edge_up_command(manifest, port, tmp / f"{name}-state", *extra)
    cmd += ["--regions", ",".join(regions), "--workers", str(args.workers)]
    cmd += ["--log-level", "warning"]  # no line per request
    log = tmp / f"{name}.log"
    return start(cmd, cwd=ROOT, log=log), f"http://127.0.0.1:{port}", log


def burst(args: argparse.Namespace, tmp: Path) -> None:
    print(
        f"== burst: {args.writes} PUTs of {args.value_size} B over {len(REGIONS)} regions, "
        f"{args.connections} connections, edge up --workers {args.workers}, lag 0, jitter 0"
    )
    lag = ["--replication-lag", "0", "--jitter", "0"]
    proc, base, log = edge_up(KVPROBE, REGIONS, lag, args, tmp)
    try:
        wait_until(f"{base}/_edge/health", lambda status: status == 200, proc, log)
        for i in range(60):  # unmeasured: every worker makes its instances
            request(f"{base}/kv/warm", headers={REGION_HEADER: REGIONS[i % len(REGIONS)]})
        print(f"  idle CPU before (empty stores): {idle_cpu(proc.pid)}")
        meter = cpu_meter(proc.pid)
        began, last_ack, errors = put_burst(base, args.writes, args.connections, args.value_size)
        used, machine = meter()
        acked = args.writes - errors
        write_s = last_ack - began
        print(f"  write phase {write_s:7.2f} s, {acked / write_s:7.1f} writes/s ({errors} errors)")
        server, supervisor = sum(used.values()), used.get(proc.pid, 0.0)
        print(
            f"{'':4}server CPU {server * 1000 / args.writes:.2f} ms/write, of which the supervisor"
            f" (replication loop) {supervisor * 1000 / args.writes:.2f} ms;"
            f" busy cores: server {server / write_s:.2f}, machine {machine / write_s:.2f}"
        )
        polls: list[float] = []
        first_backlog = -1
        deadline = time.perf_counter() + CONVERGE_TIMEOUT
        converged = None
        # Convergence happened after the last poll that still saw a difference was sent
        # and before the first one that saw none answered.
        not_before = last_ack
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            agree, backlog, took = replication_state(base)
            polls.append(took)
            first_backlog = backlog if first_backlog < 0 else first_backlog
            if agree and backlog == 0:
                converged = time.perf_counter()
                break
            not_before = sent
            time.sleep(max(0.0, 0.02 - took))
        print(f"  backlog at the first poll after the last ack: {first_backlog} changes")
        if converged is None:
            print(f"  did NOT converge within {CONVERGE_TIMEOUT} s; see {log}")
        else:
            print(
                f"  last ack -> all replicas agree, backlog 0: {converged - last_ack:.3f} s"
                f" (at least {not_before - last_ack:.3f} s)"
            )
            print(f"  total (first PUT -> converged) {converged - began:7.2f} s")
        print(
            f"  {len(polls)} polls of /_edge/replication, each {sum(polls) / len(polls) * 1000:.1f}"
            f" ms on average (max {max(polls) * 1000:.1f} ms)"
        )
        sample = random.Random(0).sample(range(args.writes), min(30, args.writes))
        same = 0
        for i in sample:
            key = f"b-{i:05d}"
            seen = {
                request(f"{base}/kv/{key}", headers={REGION_HEADER: region}) for region in REGIONS
            }
            same += seen == {(200, value_for(key, args.value_size))}
        print(f"  sample: {same}/{len(sample)} keys read the written value in every region")
        print(f"  idle CPU afterwards ({args.writes} keys per region): {idle_cpu(proc.pid)}")
    finally:
        stop(proc)


# --- 3. reads with one region and with three ---------------------------------------


def seed_todo(base: str, regions: list[str], proc: Popen[bytes], log: Path) -> str:
    """A todo written in the first region and readable in every region: its path."""
    wait_until(f"{base}/_edge/health", lambda status: status == 200, proc, log)
    home = {REGION_HEADER: regions[0]}
    status, body = request(f"{base}/todos", "POST", b'{"title":"buy milk"}', headers=home)
    if status != 201:
        sys.exit(f"seeding failed: {status} {body!r}")
    todo = f"/todos/{json.loads(body)['id']}"
    # The todo must have reached every region, or reads there would be 404s.
    deadline = time.perf_counter() + 30
    for region in regions:
        while request(f"{base}{todo}", headers={REGION_HEADER: region})[0] != 200:
            if time.perf_counter() > deadline:
                sys.exit(f"{todo} never reached {region}")
            time.sleep(0.05)
    return todo


def read_once(
    proc: Popen[bytes], base: str, todo: str, script: Path, args: argparse.Namespace
) -> Load:
    run_wrk(f"{base}{todo}", args.connections, args.warmup, script)  # warm every worker
    meter = cpu_meter(proc.pid)
    load = run_wrk(f"{base}{todo}", args.connections, args.duration, script)
    used, machine = meter()
    total = sum(used.values())
    load.cpu_ms = total * 1000 / max(1, load.requests)
    split = ", ".join(f"{t / total:.0%}" for p, t in used.items() if p != proc.pid)
    print(
        f"{load.rps:7.1f} req/s  p50 {load.p50_ms:6.2f} ms  p99 {load.p99_ms:6.2f} ms  "
        f"({load.requests} requests, {load.errors} errors)"
    )
    print(
        f"{'':26}server CPU {load.cpu_ms:.2f} ms/req, workers {split}; busy cores: "
        f"server {total / args.duration:.2f}, machine {machine / args.duration:.2f}"
    )
    return load


def reads(args: argparse.Namespace, tmp: Path) -> None:
    if not shutil.which("wrk"):
        print("== read: skipped, wrk is not installed")
        return
    # Busy cores of the machine beyond the server's are wrk, the kernel and anything else
    # running: a large gap means something took cores from the server.
    print(
        f"== read: GET /todos/<id>, wrk 1 thread, {args.connections} connections, "
        f"{args.duration:g} s per run, --workers {args.workers}; "
        "x-edge-region cycles the regions per request"
    )
    setups = {"1 region ": REGIONS[:1], "3 regions": REGIONS}
    servers: dict[str, tuple[Popen[bytes], str, str, Path]] = {}
    results: dict[str, list[Load]] = {name: [] for name in setups}
    try:
        for name, regions in setups.items():
            # Default lag and jitter: the reads replicate nothing.
            proc, base, log = edge_up(ROOT / "spin.toml", regions, [], args, tmp)
            todo = seed_todo(base, regions, proc, log)
            script = tmp / f"read-{len(regions)}.lua"
            script.write_text(READ_LUA % (", ".join(f'"{r}"' for r in regions), todo))
            servers[name] = (proc, base, todo, script)
        # Both servers stay up and the runs alternate, so drift on the machine hits both.
        for round_ in range(1, args.rounds + 1):
            for name, (proc, base, todo, script) in servers.items():
                print(f"  round {round_}, {name}: ", end="", flush=True)
                results[name].append(read_once(proc, base, todo, script, args))
        for name, (proc, _, _, _) in servers.items():
            print(f"  {name}: peak memory {peak_memory_mb(proc.pid)[0]:.0f} MB")
    finally:
        for proc, _, _, _ in servers.values():
            stop(proc)
    # Other load on the machine only ever lowers req/s, so the best run of each setup is
    # the nearest to its capacity; CPU per request hardly moves with it.
    best = {n: max(r.rps for r in results[n]) for n in setups}
    median = {n: statistics.median(r.rps for r in results[n]) for n in setups}
    cpu = {n: statistics.median(r.cpu_ms for r in results[n]) for n in setups}
    one, three = setups
    ratio = best[three] / best[one]
    print(
        f"  req/s, best of {args.rounds}: 1 region {best[one]:.1f}, 3 regions {best[three]:.1f};"
        f" median: {median[one]:.1f}, {median[three]:.1f}"
    )
    met = "ok" if ratio >= 0.9 else "MISSED"
    print(
        f"  three regions / one region: {ratio:.1%} (best runs) [{met}: target >= 90%];"
        f" medians {median[three] / median[one]:.1%}; CPU per request {cpu[three] / cpu[one]:.1%}"
    )
    print(f"  (earlier http_load.py figure, one region, no Lua script: {EARLIER_READ_RPS} req/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["kv", "burst", "read"], help="run one part")
    parser.add_argument("--changes", type=int, default=20_000, help="kv: changes per size")
    parser.add_argument(
        "--sizes", default="16,100,10000", help="kv: value sizes in bytes, comma-separated"
    )
    parser.add_argument("--writes", type=int, default=10_000, help="burst: PUT requests")
    parser.add_argument("--value-size", type=int, default=100, help="burst: bytes per value")
    parser.add_argument("--connections", type=int, default=8, help="burst and read")
    parser.add_argument("--workers", type=int, default=2, help="edge up --workers")
    parser.add_argument("--duration", type=float, default=10, help="read: seconds per load")
    parser.add_argument("--warmup", type=float, default=2, help="read: unmeasured seconds")
    parser.add_argument("--rounds", type=int, default=3, help="read: runs of each setup")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.2f} (1 min)")
    with tempfile.TemporaryDirectory(prefix="bench-repl-") as name:
        tmp = Path(name)
        if args.only in (None, "kv"):
            kv_throughput(args.changes, [int(s) for s in args.sizes.split(",")], tmp)
        if args.only in (None, "burst"):
            burst(args, tmp)
        if args.only in (None, "read"):
            reads(args, tmp)


if __name__ == "__main__":
    main()
