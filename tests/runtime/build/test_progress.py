"""What `edge build` shows while it builds: plain lines into a pipe, a live line with
the elapsed seconds on a terminal (a real pseudo-terminal here).

A shell build command stands in for componentize-py, as in test_incremental.py:
these test the reporting; tests/e2e/test_templates.py builds real components.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from runtime.app.manifest import load
from runtime.build.incremental import build_manifest
from runtime.build.progress import PlainProgress

EDGE = str(Path(sys.executable).parent / "edge")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
MANIFEST = """
spin_manifest_version = 2
[application]
name = "p"
[[trigger.http]]
route = "/..."
component = "slow"
[component.slow]
source = "slow.wasm"
[component.slow.build]
command = "{command}"
"""


def _app(tmp_path: Path, command: str) -> Path:
    (tmp_path / "app.py").write_text("x = 1\n")
    (tmp_path / "spin.toml").write_text(MANIFEST.format(command=command))
    return tmp_path


def test_plain_lines_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    app = _app(tmp_path, "head -c 2500000 /dev/zero > slow.wasm")
    first = subprocess.run([EDGE, "build"], cwd=app, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    lines = first.stderr.splitlines()
    assert lines[0] == f"building slow in {app.resolve()} ..."
    assert re.fullmatch(r"built slow \(2\.5 MB\) in \d+\.\d s", lines[1]), lines
    assert len(lines) == 2 and "\x1b" not in first.stderr
    again = subprocess.run([EDGE, "build"], cwd=app, capture_output=True, text=True, timeout=60)
    assert again.stderr.splitlines() == ["slow is up to date"]


def test_the_report_callback_gets_the_same_lines(tmp_path: Path) -> None:
    manifest = load(_app(tmp_path, "cp app.py slow.wasm") / "spin.toml")
    lines: list[str] = []
    build_manifest(manifest, progress=PlainProgress(lines.append))
    build_manifest(manifest, report=lines.append)  # the older way: lines to a callback
    assert lines[0].startswith("building slow in ")
    assert re.fullmatch(r"built slow \(0\.0 MB\) in \d+\.\d s", lines[1])
    assert lines[2:] == ["slow is up to date"]


def _on_a_terminal(argv: list[str], cwd: Path, timeout: float) -> tuple[int, str]:
    """Runs argv with stdout and stderr on a pseudo-terminal; its exit status and output."""
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(argv, cwd=cwd, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    data = os.read(leader, 65536)
                except OSError:  # the follower side closed: the process is done
                    break
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                break
        else:
            raise AssertionError(f"{argv} did not finish within {timeout} s")
        code = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_a_live_line_with_the_elapsed_seconds_on_a_terminal(tmp_path: Path) -> None:
    app = _app(tmp_path, "sleep 2.6 && cp app.py slow.wasm")
    code, shown = _on_a_terminal([EDGE, "build"], app, timeout=60)
    assert code == 0, shown
    assert "\x1b[" in shown  # drawn and redrawn in place
    plain = ANSI.sub("", shown)
    assert "building slow with componentize-py" in plain
    seconds = {int(s) for s in re.findall(r"componentize-py (\d+) s", plain)}
    assert {0, 1, 2} <= seconds, plain  # the line counted up while the command ran
    assert re.search(r"✓ built slow \(0\.0 MB\) in 2\.\d s", plain), plain
    code, shown = _on_a_terminal([EDGE, "build"], app, timeout=60)
    assert code == 0 and "slow is up to date" in shown


def test_the_builds_warnings_are_passed_on(tmp_path: Path) -> None:
    # As `edge componentize` prints the import check's warnings, on a build that succeeds.
    command = "echo app.py:1: warning: import of x: careful >&2 && cp app.py slow.wasm"
    manifest = load(_app(tmp_path, command) / "spin.toml")
    lines: list[str] = []
    build_manifest(manifest, progress=PlainProgress(lines.append))
    assert lines[1] == "slow: app.py:1: warning: import of x: careful"
    assert lines[2].startswith("built slow ")
