"""Peak host memory of one large SQL result, through a component and over Hrana.

    .venv/bin/python bench/result_memory.py [--mib 9]

Each case runs in a fresh interpreter (peak RSS only grows) and prints the
growth of the peak over a warm request, per byte of the result's data: through
the faults test app in the Emulator (needs tests/apps/faults/faults.wasm), and
over an in-process Hrana server on 127.0.0.1. Then a result without end, which
must be refused cheaply. The faults app answers 500 for blob rows (JSON cannot
carry bytes) after they reached it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _common import ROOT

COUNT = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c{limit}) "
SHAPES = {
    "blob rows of 1 MiB": COUNT + "SELECT zeroblob(1048576) FROM c",
    "one text value": "SELECT printf('%.*c', {size}, 'x') FROM (SELECT 1{limit})",
    "rows of one integer": COUNT + "SELECT x FROM c",
}

PROBE = r"""
import json, resource, sys, tempfile, time
from pathlib import Path
path, sql, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
if path == "component":
    from runtime.testing import Emulator
    options = dict(regions=["us-east"], build=False, env={}, deadline_ms=120_000,
                   memory_limit_mb=1024, state_dir=Path(tempfile.mkdtemp()))
    with Emulator(Path("tests/apps/faults/spin.toml"), **options) as edge:
        client = edge.client()
        client.post("/sql", json={"sql": "SELECT 1"})
        before, started = peak(), time.perf_counter()
        status = client.post("/sql", json={"sql": sql}).status_code
else:
    import httpx
    from runtime.hrana import create_hrana_app
    from runtime.stores import SqlDatabase
    sys.path.insert(0, ".")
    from tests.runtime.hrana.helpers import running, stmt
    db = SqlDatabase(Path(tempfile.mkdtemp()) / "h.db")
    with running(create_hrana_app(db.connect)) as address:
        with httpx.Client(base_url=f"http://{address}", timeout=300) as http:
            http.post("/v1/execute", json={"stmt": stmt("SELECT 1")})
            before, started = peak(), time.perf_counter()
            status = http.post("/v1/execute", json={"stmt": stmt(sql)}).status_code
print(json.dumps([status, peak() - before, time.perf_counter() - started]))
"""


def probe(path: str, sql: str, size: int) -> tuple[int, int, float]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, path, sql, str(size)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    status, growth, seconds = json.loads(out.stdout.strip().splitlines()[-1])
    return int(status), int(growth), float(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=9, help="data per result (under the limit)")
    args = parser.parse_args()
    size = args.mib * 1024 * 1024
    cases = {
        "blob rows of 1 MiB": dict(limit=f" LIMIT {args.mib}"),
        "one text value": dict(limit="", size=size),
        "rows of one integer": dict(limit=f" LIMIT {size // 32}"),  # 32 bytes a value
    }
    print(f"{'result':<22} {'path':<10} {'status':>6} {'peak growth':>12} {'per byte':>9} {'s':>6}")
    for shape, fill in cases.items():
        sql = SHAPES[shape].format(**fill)
        for path in ("component", "hrana"):
            status, growth, seconds = probe(path, sql, size)
            print(
                f"{shape:<22} {path:<10} {status:>6} {growth / 2**20:>9.1f} MB "
                f"{growth / size:>9.1f} {seconds:>6.2f}"
            )
    endless = COUNT.format(limit="") + "SELECT x FROM c"
    for path in ("component", "hrana"):
        status, growth, seconds = probe(path, endless, size)
        print(
            f"{'rows without end':<22} {path:<10} {status:>6} {growth / 2**20:>9.1f} MB {'':>9} "
            f"{seconds:>6.2f}"
        )


if __name__ == "__main__":
    main()
