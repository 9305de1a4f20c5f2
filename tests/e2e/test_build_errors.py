"""A failing `edge build` names the component and, first, the file and line of the
user's Python that broke it: real builds of a template copy with a SyntaxError
(found by the import check before componentize-py runs) and with an ImportError
(raised while componentize-py imports the app in the guest)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

EDGE = str(Path(sys.executable).parent / "edge")


def edge(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EDGE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def template_copy(tmp_path: Path, name: str) -> Path:
    done = edge("new", "http-kv", name, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    return tmp_path / name


def first_line(stderr: str) -> str:
    return stderr.split("error: ", 1)[1].splitlines()[0]


def test_a_syntax_error_is_named_by_file_and_line(tmp_path: Path) -> None:
    app = template_copy(tmp_path, "broken")
    source = (app / "app.py").read_text().splitlines()
    line = next(i for i, text in enumerate(source, 1) if text.startswith("def _key("))
    source[line - 1] = "def _key(req: Request -> str:"
    (app / "app.py").write_text("\n".join(source) + "\n")

    done = edge("build", cwd=app)
    assert done.returncode == 1
    assert first_line(done.stderr).startswith(
        f"build of component 'broken' failed: app.py:{line}: SyntaxError: "
    ), done.stderr
    assert "exited with status 1" in done.stderr  # then the build's own output
    assert not (app / "broken.wasm").exists()

    # From elsewhere, the path is relative to where the command ran.
    done = edge("build", "-f", "broken/spin.toml", cwd=tmp_path)
    assert done.returncode == 1
    assert f"failed: broken/app.py:{line}: SyntaxError: " in first_line(done.stderr)

    # `edge up` builds first, and stops there with the same message.
    done = edge("up", "--listen", "127.0.0.1:0", "--state-dir", str(tmp_path / "state"), cwd=app)
    assert done.returncode == 1
    assert f"failed: app.py:{line}: SyntaxError: " in first_line(done.stderr), done.stderr


def test_an_import_error_in_the_guest_is_named_by_file_and_line(tmp_path: Path) -> None:
    app = template_copy(tmp_path, "missing")
    (app / "helpers.py").write_text('"""Helpers."""\n\nfrom framework import no_such_name\n')
    source = (app / "app.py").read_text()
    (app / "app.py").write_text(source.replace("from typing", "import helpers\nfrom typing", 1))

    done = edge("build", cwd=app)  # componentize-py runs: ~10-20 s
    assert done.returncode == 1
    assert first_line(done.stderr) == (
        "build of component 'missing' failed: helpers.py:3: ImportError: cannot import name "
        "'no_such_name' from 'framework' (/1/framework/__init__.py)"
    ), done.stderr
    # componentize-py's output follows: the traceback on the app's real paths,
    # without the Rust backtrace that RUST_BACKTRACE=1 would add.
    assert f'File "{app.resolve()}/helpers.py", line 3' in done.stderr
    assert "ImportError: cannot import name 'no_such_name'" in done.stderr
    assert "Stack backtrace" not in done.stderr and "anyhow" not in done.stderr
    assert not (app / "missing.wasm").exists()
