"""What an outbound call costs a handler: HTTP to a loopback server, Redis next to KV.

Run from the repository root with the project's interpreter:

    .venv/bin/python bench/outbound.py [--iterations 200] [--seconds 3] [--gets 10]

Needs tests/apps/{httpprobe,redisprobe}/probe.wasm and tests/apps/kvprobe/kvprobe.wasm
(`edge build -f tests/apps/<app>/spin.toml`, or `--build`). Requests go through the
Emulator in this process: real wasmtime, the real components, no HTTP server in front.
The upstream HTTP server runs in a subprocess and Redis is the Emulator's embedded
redis-server, so this process's CPU time is the runtime's (and the peers') alone.
Each figure sits next to the same operation from plain Python against the same server.
Prints numbers and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from _common import ROOT, cpu_seconds, free_port, start, stop, wait_until

from runtime.app.manifest import load
from runtime.build.incremental import build_manifest
from runtime.outbound import http_policy
from runtime.testing import Emulator
from runtime.wasm import http_helper
from runtime.wasm.bindings import http as http_binding

APPS = ROOT / "tests" / "apps"
MANIFESTS = {
    "httpprobe": APPS / "httpprobe" / "spin.toml",
    "redisprobe": APPS / "redisprobe" / "spin.toml",
    "kvprobe": APPS / "kvprobe" / "spin.toml",
}
REGION = "us-east"
VALUE = b"sixteen byte val"  # what the Redis and the KV get read

# The upstream: asyncio streams, keep-alive, a 2-byte body for any request;
# GET /_stats answers how many connections and requests it has had.
UPSTREAM = r"""
import asyncio, json, sys
stats = {"connections": 0, "requests": 0}
OK = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"

async def skip_body(reader, head):
    lower = head.lower()
    if b"\r\ntransfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers are sent here
                return
            await reader.readexactly(size + 2)
    for line in lower.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))

async def serve(reader, writer):
    stats["connections"] += 1
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            await skip_body(reader, head)
            stats["requests"] += 1
            if head.startswith(b"GET /_stats "):
                body = json.dumps(stats).encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"content-length: %d\r\n\r\n%s" % (len(body), body))
            else:
                writer.write(OK)
            if b"\r\nconnection: close" in head.lower():
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]), backlog=128)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


# --- measuring --------------------------------------------------------------------------


@dataclass
class Op:
    """One operation to time: `call` returns whether it worked; `before` runs untimed."""

    call: Callable[[], bool]
    before: Callable[[], object] | None = None


@dataclass
class Series:
    wall: list[float] = field(default_factory=list)  # seconds per call
    cpu: list[float] = field(default_factory=list)  # process CPU seconds per call
    failed: int = 0

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.wall) * 1000

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.wall) * 1000

    @property
    def cpu_ms(self) -> float:
        return statistics.fmean(self.cpu) * 1000


def interleaved(ops: Mapping[str, Op], iterations: int, seconds: float) -> dict[str, Series]:
    """Time each op in turn, round after round, so that the machine's moods hit them all.

    Stops when each op ran `iterations` times or after `seconds` per op in all.
    """
    out = {name: Series() for name in ops}
    end = time.perf_counter() + seconds * len(ops)
    for _ in range(iterations):
        for name, op in ops.items():
            if op.before is not None:
                op.before()
            cpu, wall = time.process_time(), time.perf_counter()
            ok = op.call()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            series = out[name]
            series.wall.append(wall)
            series.cpu.append(cpu)
            series.failed += not ok
        if time.perf_counter() > end:
            break
    return out


def warm(ops: Mapping[str, Op], rounds: int) -> None:
    for _ in range(rounds):
        for name, op in ops.items():
            if op.before is not None:
                op.before()
            if not op.call():
                sys.exit(f"{name} failed while warming up")


# --- printing ---------------------------------------------------------------------------

HEADER = f"  {'what':<50}{'n':>5}{'mean ms':>10}{'p50 ms':>9}{'CPU ms':>9}{'x peer':>9}{'CPU x':>7}"


def row(what: str, s: Series, peer: Series | None = None) -> None:
    print(f"  {what:<50}{len(s.wall):>5}{s.mean_ms:>10.3f}{s.p50_ms:>9.3f}{s.cpu_ms:>9.3f}", end="")
    if peer is not None:
        print(f"{s.mean_ms / peer.mean_ms:>8.1f}x{s.cpu_ms / peer.cpu_ms:>6.1f}x", end="")
    print(f"   ({s.failed} failed)" if s.failed else "")


def diff_row(what: str, a: Series, b: Series, per: int = 1, peer: Series | None = None) -> Series:
    """(a - b) / per, printed; mean and CPU are differences of means, p50 of medians."""
    d = Series()
    d.wall = [(statistics.fmean(a.wall) - statistics.fmean(b.wall)) / per]
    d.cpu = [(statistics.fmean(a.cpu) - statistics.fmean(b.cpu)) / per]
    p50 = (a.p50_ms - b.p50_ms) / per
    print(f"  {what:<50}{'':>5}{d.mean_ms:>10.3f}{p50:>9.3f}{d.cpu_ms:>9.3f}", end="")
    if peer is not None:
        print(f"{d.mean_ms / peer.mean_ms:>8.1f}x{d.cpu_ms / peer.cpu_ms:>6.1f}x", end="")
    print()
    return d


# --- the apps ---------------------------------------------------------------------------


def emulator(app: str, env: dict[str, str]) -> Emulator:
    started = time.perf_counter()
    # No history: `edge up` records none, and the KV recorder would add to every get.
    edge = Emulator(MANIFESTS[app], regions=[REGION], env=env, build=False, record_history=False)
    seconds = time.perf_counter() - started
    cold = "  (seconds: the compile cache was cold)" if seconds > 2 else ""
    print(f"  {app}: Emulator ready in {seconds:.2f} s{cold}")
    return edge


def posting(edge: Emulator, path: str, body: Any, check: Callable[[Any], bool]) -> Op:
    client = edge.client(REGION)

    def call() -> bool:
        resp = client.post(path, json=body)
        return resp.status_code == 200 and check(resp.content)

    # The pool holds one pre-made instance per component; refill it untimed.
    return Op(call, edge.host.prefill)


def upstream_stats(port: int) -> dict[str, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/_stats")
        stats: dict[str, int] = json.loads(conn.getresponse().read())
        return stats
    finally:
        conn.close()


def http_peers(port: int) -> tuple[Op, Op]:
    kept = http.client.HTTPConnection("127.0.0.1", port, timeout=5)

    def new_connection() -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/x")
            resp = conn.getresponse()
            return resp.read() == b"ok" and resp.status == 200
        finally:
            conn.close()

    def kept_alive() -> bool:
        kept.request("GET", "/x")
        resp = kept.getresponse()
        return resp.read() == b"ok" and resp.status == 200

    return Op(new_connection), Op(kept_alive)


# --- 1. outbound HTTP -------------------------------------------------------------------


def bench_http(args: argparse.Namespace, tmp: Path) -> None:
    print("== 1. outbound HTTP: GET of a loopback server (asyncio, in a subprocess, 2-byte body)")
    port = free_port()
    log = tmp / "upstream.log"
    proc = start([sys.executable, "-c", UPSTREAM, str(port)], cwd=tmp, log=log)
    try:
        wait_until(f"http://127.0.0.1:{port}/_stats", lambda s: s == 200, proc, log)
        url = f"http://127.0.0.1:{port}/x"
        edge = emulator("httpprobe", {"SPIN_VARIABLE_ALLOW_A": f"http://127.0.0.1:{port}"})
        try:
            fetched = posting(edge, "/fetch", {"url": url}, lambda b: json.loads(b)["text"] == "ok")
            ops = {
                "noop": posting(edge, "/noop", {"url": url}, lambda b: b == b"{}"),
                "fetch": fetched,
            }
            ops["new"], ops["kept"] = http_peers(port)
            warm(ops, args.warmup)
            before = upstream_stats(port)
            for _ in range(20):
                edge.host.prefill()
                fetched.call()
            after = upstream_stats(port)
            conns = after["connections"] - before["connections"] - 1  # one is /_stats's
            print(f"  20 outbound GETs from the handler opened {conns} connections upstream")
            cpu_before, served_before = cpu_seconds([proc.pid]), upstream_stats(port)["requests"]
            runs = interleaved(ops, args.iterations, args.seconds)
            served = upstream_stats(port)["requests"] - served_before - 1
            upstream_cpu = cpu_seconds([proc.pid])[proc.pid] - cpu_before[proc.pid]
        finally:
            edge.close()
        report_http(runs, served, upstream_cpu)
        if args.breakdown:
            breakdown(args, url, port)
    finally:
        stop(proc)


def report_http(runs: dict[str, Series], served: int, upstream_cpu: float) -> None:
    new = runs["new"]
    print(HEADER)
    row("handler POST /noop (no outbound call)", runs["noop"])
    row("handler POST /fetch (one outbound GET)", runs["fetch"])
    added = diff_row(
        "  = added per outbound GET (fetch - noop)", runs["fetch"], runs["noop"], 1, new
    )
    row("peer: http.client GET, new connection", new)
    row("peer: http.client GET, kept-alive connection", runs["kept"], new)
    print(
        f"  upstream server: {upstream_cpu * 1000 / max(1, served):.3f} ms CPU per request "
        f"({served} requests; /proc ticks of 10 ms), not in the CPU column"
    )
    print(
        f"  added per outbound GET / peer new connection: {added.mean_ms / new.mean_ms:.1f}x "
        f"time, {added.cpu_ms / new.cpu_ms:.1f}x CPU"
    )


@contextmanager
def timing_host_calls(acc: dict[str, float], count: collections.Counter[str]) -> Iterator[None]:
    """Wrap the host's outbound-HTTP functions with timers (before the Emulator is made:
    the linker takes `handle` when it is built); restore them after."""

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                acc[name] += time.perf_counter() - started
                count[name] += 1

        return wrapper

    saved_handle = http_binding._handle
    saved_call = http_helper.NativeHttp.call
    saved_instantiate = http_helper.NativeHttp.__dict__["instantiate"]
    saved_decide = http_policy.HttpPolicy.decide

    def call(self: http_helper.NativeHttp, name: str, *a: Any) -> Any:
        which = "native handle" if name == "handle" else "native get/set"
        started = time.perf_counter()
        try:
            return saved_call(self, name, *a)
        finally:
            acc[which] += time.perf_counter() - started
            count[which] += 1

    setattr(http_binding, "_handle", timed("host handle", saved_handle))  # noqa: B010
    setattr(http_helper.NativeHttp, "call", call)  # noqa: B010
    setattr(  # noqa: B010
        http_helper.NativeHttp,
        "instantiate",
        classmethod(timed("helper instance", saved_instantiate.__func__)),
    )
    setattr(http_policy.HttpPolicy, "decide", timed("policy", saved_decide))  # noqa: B010
    try:
        yield
    finally:
        setattr(http_binding, "_handle", saved_handle)  # noqa: B010
        setattr(http_helper.NativeHttp, "call", saved_call)  # noqa: B010
        setattr(http_helper.NativeHttp, "instantiate", saved_instantiate)  # noqa: B010
        setattr(http_policy.HttpPolicy, "decide", saved_decide)  # noqa: B010


def breakdown(args: argparse.Namespace, url: str, port: int) -> None:
    """Where the added time of one outbound GET goes, from timers on the host's functions."""
    print("  -- where an outbound GET's time goes (timers around the host's functions)")
    acc: dict[str, float] = collections.defaultdict(float)
    count: collections.Counter[str] = collections.Counter()
    with timing_host_calls(acc, count):
        edge = emulator("httpprobe", {"SPIN_VARIABLE_ALLOW_A": f"http://127.0.0.1:{port}"})
        try:
            ops = {
                "noop": posting(edge, "/noop", {"url": url}, lambda b: b == b"{}"),
                "fetch": posting(edge, "/fetch", {"url": url}, lambda b: b'"ok"' in b),
            }
            warm(ops, args.warmup)
            acc.clear()
            count.clear()
            runs = interleaved(ops, args.iterations, args.seconds)
        finally:
            edge.close()
    n = len(runs["fetch"].wall)
    added_ms = runs["fetch"].mean_ms - runs["noop"].mean_ms
    host_ms = acc["host handle"] * 1000 / n
    print(f"  {'added per outbound GET (this run, timers on)':<50}{n:>5}{added_ms:>10.3f}")
    print(f"  {'host: the shadowing outgoing-handler.handle':<50}{'':>5}{host_ms:>10.3f}")
    parts = [
        ("helper instance", "helper instantiated (once per store)"),
        ("policy", "allow-list decision (HttpPolicy.decide)"),
        ("native get/set", "helper calls: read target, timeouts"),
        ("native handle", "helper call: wasmtime's native handle"),
    ]
    for key, what in parts:
        calls = count[key] / n
        shown = f"  {what} x{calls:g}"
        print(f"  {shown:<50}{'':>5}{acc[key] * 1000 / n:>10.3f}")
    rest = added_ms - host_ms
    print(f"  {'rest: guest code in wasm, wasmtime I/O, waiting':<50}{'':>5}{rest:>10.3f}")


# --- 2. Redis GET next to a KV get ------------------------------------------------------


def bench_redis_kv(args: argparse.Namespace) -> None:
    print("== 2. Redis GET (the Emulator's redis-server) next to a KV get")
    redis_edge = emulator("redisprobe", {})
    kv_edge = emulator("kvprobe", {})
    try:
        server = redis_edge.redis  # redisprobe sets no redis_address: the Emulator runs one
        assert server is not None and server.port is not None and server.pid is not None
        server_pid, rport = server.pid, server.port
        # The host's connection does no CLIENT SETINFO and speaks RESP2: the peers too.
        options: dict[str, Any] = dict(protocol=2, driver_info=None, socket_timeout=5)
        kept = redis.Redis(host="127.0.0.1", port=rport, **options)
        kept.set("k", VALUE)
        kv_edge.client(REGION).put("/kv/k", content=VALUE)
        fresh = redis.Redis(host="127.0.0.1", port=rport, **options)

        def new_connection() -> bool:
            value = fresh.get("k")
            fresh.connection_pool.disconnect()  # the next get connects anew
            return value == VALUE

        got = {"bytes": VALUE.decode()}
        store = kv_edge.host.regions[REGION].stores.kv("default")
        kv_client = kv_edge.client(REGION)

        def kv_get() -> bool:
            resp = kv_client.get("/kv/k")
            return resp.status_code == 200 and resp.content == VALUE

        def ops_of(*ops: list[str]) -> dict[str, list[list[str]]]:
            return {"ops": list(ops)}

        def results(expected: list[Any]) -> Callable[[Any], bool]:
            return lambda body: json.loads(body) == {"results": expected}

        gets = [["get", "k"]] * args.gets
        ops = {
            "empty": posting(redis_edge, "/run", ops_of(), results([])),
            "open": posting(redis_edge, "/run", ops_of(["open"]), results([None])),
            "get": posting(
                redis_edge, "/run", ops_of(["open"], ["get", "k"]), results([None, got])
            ),
            "gets": posting(
                redis_edge, "/run", ops_of(["open"], *gets), results([None] + [got] * args.gets)
            ),
            "kv": Op(kv_get, kv_edge.host.prefill),
            "new": Op(new_connection),
            "kept": Op(lambda: kept.get("k") == VALUE),
            "store": Op(lambda: store.get("k") == VALUE),
        }
        warm(ops, args.warmup)
        info = kept.info("stats")
        cpu_before, commands_before = (
            cpu_seconds([server_pid])[server_pid],
            info["total_commands_processed"],
        )
        runs = interleaved(ops, args.iterations, args.seconds)
        commands = kept.info("stats")["total_commands_processed"] - commands_before - 1
        server_cpu = cpu_seconds([server_pid])[server_pid] - cpu_before
        kept.close()
        fresh.close()
    finally:
        kv_edge.close()
        redis_edge.close()
    new, old = runs["new"], runs["kept"]
    print(HEADER)
    row("handler POST /run, ops [] (no Redis)", runs["empty"])
    row("handler POST /run, open", runs["open"])
    row("handler POST /run, open + get", runs["get"])
    row(f"handler POST /run, open + {args.gets} gets", runs["gets"])
    row("handler GET /kv/k (kvprobe: open_default + get)", runs["kv"])
    diff_row("  = open + get added (open+get - [])", runs["get"], runs["empty"], 1, new)
    diff_row("  = open alone (open - [])", runs["open"], runs["empty"])
    diff_row("  = first get on it (open+get - open)", runs["get"], runs["open"], 1, old)
    get = diff_row(
        f"  = one get (open+{args.gets} gets - open) / {args.gets}",
        runs["gets"],
        runs["open"],
        args.gets,
        old,
    )
    row("peer: redis-py GET, new connection", new)
    row("peer: redis-py GET, kept-alive connection", old)
    row("peer: KVStore.get in this process (no wasm)", runs["store"])
    print(
        f"  redis-server: {server_cpu * 1000 / max(1, commands):.3f} ms CPU per command "
        f"({commands} commands, plus accepting and closing the connections; /proc ticks of "
        "10 ms), not in the CPU column"
    )
    redis_req, kv_req = runs["get"], runs["kv"]
    print(
        f"  request with a Redis open + get / request with a KV get: "
        f"{redis_req.mean_ms / kv_req.mean_ms:.2f}x time, "
        f"{redis_req.cpu_ms / kv_req.cpu_ms:.2f}x CPU"
    )
    print(
        f"  one Redis get in a handler / redis-py kept-alive GET: "
        f"{get.mean_ms / old.mean_ms:.1f}x time, {get.cpu_ms / old.cpu_ms:.1f}x CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200, help="timed calls per operation")
    parser.add_argument("--seconds", type=float, default=3, help="at most this long per operation")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls per operation")
    parser.add_argument("--gets", type=int, default=10, help="gets per request for one get's cost")
    parser.add_argument("--build", action="store_true", help="build the three apps if stale")
    parser.add_argument(
        "--no-breakdown",
        dest="breakdown",
        action="store_false",
        help="skip the timers around the host's outbound-HTTP functions",
    )
    args = parser.parse_args()
    for app, manifest in MANIFESTS.items():
        if args.build:
            build_manifest(load(manifest), report=print)
        missing = [c.source for c in load(manifest).components.values() if not c.source.exists()]
        if missing:
            sys.exit(f"{app} is not built: edge build -f {manifest.relative_to(ROOT)} (or --build)")
    print(
        f"{os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.2f} (1 min). "
        "A shared machine: the numbers are indicative."
    )
    print(
        "In process: runtime.testing.Emulator (real wasmtime and components, no HTTP server "
        "in front), region us-east, no history. An HTTP server in front (edge up) would add "
        "the same to a request with an outbound call as to one without."
    )
    print(
        f"Each operation: up to {args.iterations} timed calls or {args.seconds:g} s, after "
        f"{args.warmup} untimed; the operations of a section take turns call by call. "
        "Instances are made untimed before each request. CPU = this process's CPU time "
        "(all threads) per call."
    )
    with tempfile.TemporaryDirectory(prefix="bench-outbound-") as name:
        bench_http(args, Path(name))
    print()
    bench_redis_kv(args)


if __name__ == "__main__":
    main()
