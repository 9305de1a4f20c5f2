"""`edge up --watch` and `edge watch` against a real server on a copy of an app.

A handler's source is rewritten while a client keeps asking: the new answer
comes within a bounded time, no request fails on the way, and what was
written to the key-value store is still there. A syntax error is reported in
the terminal and in /_edge/builds while the old answer keeps coming; fixing it
swaps again. Builds take 10-40 s here, so the tests build three times in all.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from .edgeup import EdgeUp, wait_for

pytestmark = pytest.mark.e2e

BUILD_SECONDS = 240  # a build and a compile on a loaded machine, with room
APP_SOURCE = 'ANSWER = "answer-1"'


def _copy_app(built: dict[str, Path], into: Path) -> Path:
    """The watchprobe app with its built .wasm and stamp, so nothing is stale at start."""
    app = into / "app"
    shutil.copytree(built["watchprobe"].parent, app)
    return app / "spin.toml"


def _rewrite(app_py: Path, old: str, new: str) -> None:
    text = app_py.read_text()
    assert old in text
    app_py.write_text(text.replace(old, new))


def _answer(up: EdgeUp) -> str:
    return httpx.get(f"{up.url}/answer", timeout=10).text


def _builds(up: EdgeUp) -> dict[str, Any]:
    answer = httpx.get(f"{up.url}/_edge/builds", timeout=10)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["components"]["watchprobe"])


class Client:
    """A thread asking GET /answer without a pause: every status and answer, every error."""

    def __init__(self, url: str, limit_seconds: float) -> None:
        self.url = url
        self.answers: Counter[str] = Counter()
        self.failures: list[str] = []
        self.last = ""
        self._stop = threading.Event()
        self._limit = limit_seconds
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        ends = time.monotonic() + self._limit  # bounded even if the test never stops it
        with httpx.Client(base_url=self.url, timeout=15) as http:
            while not self._stop.is_set() and time.monotonic() < ends:
                try:
                    response = http.get("/answer")
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code}: {response.text}")
                    continue
                self.answers[response.text] += 1
                self.last = response.text
                time.sleep(0.01)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=20)


def test_a_save_rebuilds_and_swaps_without_losing_a_request_or_state(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp]
) -> None:
    manifest = _copy_app(built, tmp_path)
    app_py = manifest.parent / "app.py"
    up = EdgeUp(manifest, tmp_path / "state", "--watch", "--workers", "2", build=True)
    launched.append(up)
    assert _answer(up) == "answer-1"
    assert httpx.put(f"{up.url}/kv/kept", content=b"before the swap").status_code == 200
    first = _builds(up)
    assert first["generation"] == 0 and first["status"] == "idle"

    client = Client(up.url, limit_seconds=BUILD_SECONDS + 30)
    try:
        _rewrite(app_py, APP_SOURCE, 'ANSWER = "answer-2"')
        wait_for(lambda: client.last == "answer-2", BUILD_SECONDS, "the new answer", poll=0.2)
        # Both workers: each of a run of answers is the new one.
        wait_for(lambda: _answer(up) == "answer-2", 10, "the other worker's swap")
        settled = [_answer(up) for _ in range(20)]
    finally:
        client.stop()
    assert client.failures == []
    assert set(client.answers) == {"answer-1", "answer-2"}
    assert settled == ["answer-2"] * 20
    kept = httpx.get(f"{up.url}/kv/kept")
    assert (kept.status_code, kept.content) == (200, b"before the swap")
    swapped = _builds(up)
    assert (swapped["generation"], swapped["status"], swapped["error"]) == (1, "ok", None)
    assert swapped["started"] <= swapped["finished"] and swapped["seconds"] > 0
    assert Path(swapped["wasm"]).is_file()

    # A syntax error: reported, and the old version keeps serving.
    _rewrite(app_py, 'ANSWER = "answer-2"', 'ANSWER = "answer-3"\ndef broken(:\n')
    wait_for(lambda: _builds(up)["status"] == "failed", BUILD_SECONDS, "the failed build")
    failed = _builds(up)
    assert failed["generation"] == 1
    assert "watchprobe" in failed["error"] and "syntax" in failed["error"]
    terminal = " ".join(up.output().split())  # rich wraps long lines
    assert "watch: watchprobe failed" in terminal and "SyntaxError" in terminal
    assert [_answer(up) for _ in range(5)] == ["answer-2"] * 5

    # Fixed: the next save swaps again.
    _rewrite(app_py, "def broken(:\n", "")
    wait_for(lambda: _answer(up) == "answer-3", BUILD_SECONDS, "the fixed answer", poll=0.2)
    fixed = _builds(up)
    assert (fixed["generation"], fixed["status"], fixed["error"]) == (2, "ok", None)
    assert httpx.get(f"{up.url}/kv/kept").content == b"before the swap"
    # Behind the admin guard like the rest of /_edge/.
    refused = httpx.get(f"{up.url}/_edge/builds", headers={"host": "evil.example"})
    assert refused.status_code == 403


def test_edge_watch_skip_build_swaps_a_replaced_wasm(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp]
) -> None:
    """`edge watch` is `edge up --watch`; with --skip-build it swaps each .wasm as it changes."""
    manifest = _copy_app(built, tmp_path)
    up = EdgeUp(manifest, tmp_path / "state", "--skip-build", "--workers", "2", command="watch")
    launched.append(up)
    assert _answer(up) == "answer-1"
    assert httpx.get(f"{up.url}/hello").status_code == 404  # the probe has no such route
    assert "watch: watchprobe:" in up.output()
    # Requests running when the swap comes: each finishes on the version it started on.
    with ThreadPoolExecutor(4) as pool:
        running = [pool.submit(httpx.get, f"{up.url}/slow?ms=2500", timeout=20) for _ in range(4)]
        time.sleep(0.5)  # they have reached the workers
        # Another component's .wasm in its place (compiled by the session's builds already),
        # written aside and renamed, as a build does.
        aside = manifest.parent / "watchprobe.wasm.tmp"
        shutil.copyfile(built["hello"].parent / "hello.wasm", aside)
        os.replace(aside, manifest.parent / "watchprobe.wasm")
        wait_for(
            lambda: httpx.get(f"{up.url}/hello", timeout=20).status_code == 200,
            120,
            "the swapped .wasm",
            poll=0.1,
        )
        finished = [(r.status_code, r.text) for r in (f.result() for f in running)]
    assert finished == [(200, "answer-1")] * 4
    assert httpx.get(f"{up.url}/hello").json() == {"message": "hello, world"}
    state = _builds(up)
    assert (state["generation"], state["status"]) == (1, "ok")

    # Not a component: reported, generation 1 goes on serving.
    (manifest.parent / "watchprobe.wasm").write_bytes(b"\0asm not really")
    wait_for(lambda: _builds(up)["status"] == "failed", 60, "the refused .wasm", poll=0.2)
    assert "not a valid WebAssembly component" in _builds(up)["error"]
    assert _builds(up)["generation"] == 1
    # A worker that replaces a dead one serves generation 1 too, not the file on disk.
    serving = re.findall(r"worker (\d+) is serving \(pid (\d+)\)", up.output())
    assert len(serving) == 2
    os.kill(int(serving[0][1]), signal.SIGKILL)
    wait_for(
        lambda: len(re.findall(r"worker \d+ is serving", up.output())) == 3,
        90,
        "the replacement worker",
        poll=0.2,
    )
    for _ in range(20):
        assert httpx.get(f"{up.url}/hello").json() == {"message": "hello, world"}


def test_edge_watch_waits_for_a_first_build_that_works(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp]
) -> None:
    """As `spin watch`: a broken app at start is reported, and served once a save fixes it."""
    manifest = _copy_app(built, tmp_path)
    app_py = manifest.parent / "app.py"
    _rewrite(app_py, APP_SOURCE, 'ANSWER = "fixed"\nif True\n')
    log = tmp_path / "edge-up-output"

    def fix_when_reported() -> None:
        # EdgeUp below waits for the server; the fix comes once the failure is printed.
        ends = time.monotonic() + BUILD_SECONDS
        while time.monotonic() < ends:
            logs = list(tmp_path.glob("edge-up-*.log"))
            if logs and "the first build failed" in logs[0].read_text(errors="replace"):
                log.write_text(logs[0].read_text(errors="replace"))
                _rewrite(app_py, "if True\n", "")
                return
            time.sleep(0.2)

    fixer = threading.Thread(target=fix_when_reported, daemon=True)
    fixer.start()
    up = EdgeUp(manifest, tmp_path / "state", command="watch", build=True, ready_timeout=300)
    launched.append(up)
    fixer.join(timeout=5)
    before = " ".join(log.read_text().split())
    assert "watchprobe" in before and "SyntaxError" in before
    assert "edge up starts when a save builds" in before
    assert _answer(up) == "fixed"
    assert _builds(up)["generation"] == 0  # what it started with, built after the fix
