"""`edge new`, for real: each template created by the CLI, built by `edge build`
(componentize-py) and its own generated test run by pytest in a subprocess.

Builds take 10-40 s each, so the created apps live in a stable folder under
the repo's .edge-test-build/, named by a hash of what `edge new` wrote: a
later session that creates the same files finds them built, and `edge build`
skips them in milliseconds. Each subprocess has a timeout.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.app.manifest import load
from runtime.build.contract import check_contract, trigger_kinds
from runtime.templates import templates
from runtime.wasm.engine import WasmEngine

from ..runtime.outbound.conftest import needs_redis_server

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
STABLE = ROOT / ".edge-test-build" / "templates"
BIN = Path(sys.executable).parent
TEMPLATES = [t.name for t in templates()]
BUILD_TIMEOUT = 300  # componentize-py on a loaded 2-core machine
TEST_TIMEOUT = 300
TRIGGERS = {"redis": {"http", "redis"}, "cron": {"http", "cron"}}  # the others: HTTP only
COMPLETE = ".complete"  # written last: a half-copied folder is never reused


def edge(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "edge"), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def tree_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


@pytest.fixture(scope="module")
def stable_lock() -> Iterator[None]:
    """One session at a time copies into and builds in the stable folders."""
    STABLE.mkdir(parents=True, exist_ok=True)
    with open(STABLE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def created_app(template: str, tmp_path: Path) -> tuple[str, Path]:
    """`edge new TEMPLATE NAME` into tmp_path, then the stable copy of what it wrote."""
    name = f"tpl-{template}"
    done = edge("new", template, name, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"created {template} app {name!r} in {name}" in done.stdout
    fresh = tmp_path / name
    stable = STABLE / f"{template}-{tree_hash(fresh)}"
    if not (stable / COMPLETE).is_file():
        shutil.rmtree(stable, ignore_errors=True)
        shutil.copytree(fresh, stable)
        (stable / COMPLETE).write_text("")
    for old in STABLE.glob(f"{template}-*"):  # other versions: 19 MB of .wasm each
        if old != stable:
            shutil.rmtree(old, ignore_errors=True)
    return name, stable


@pytest.mark.parametrize("template", TEMPLATES)
def test_a_created_app_builds_and_its_own_test_passes(
    template: str, tmp_path: Path, stable_lock: None
) -> None:
    if template == "redis":
        needs_redis_server()
    name, app = created_app(template, tmp_path)

    # The generated Python passes this repo's ruff settings (named files: ruff skips
    # gitignored folders such as .edge-test-build when it walks one).
    sources = sorted(p.name for p in app.glob("*.py"))
    for check in (["check"], ["format", "--check"]):
        linted = subprocess.run(
            [str(BIN / "ruff"), *check, "--no-cache", *sources],
            cwd=app,
            capture_output=True,
            text=True,
        )
        assert linted.returncode == 0, linted.stdout + linted.stderr

    built = edge("build", cwd=app, timeout=BUILD_TIMEOUT)
    assert built.returncode == 0, built.stderr
    # stderr is a pipe here: plain lines, no live display.
    assert re.search(rf"^(built {name} \(\d+\.\d MB\) in \d+\.\d s|{name} is up to date)$",
                     built.stderr, re.M), built.stderr  # fmt: skip
    assert "\x1b[" not in built.stderr
    assert (app / f"{name}.wasm").is_file()

    test_file = app / f"test_{name.replace('-', '_')}.py"
    count = len(re.findall(r"^def test_", test_file.read_text(), re.M))
    assert count >= 2
    # As its README says (`python -m pytest test_<name>.py`); -o addopts= drops this
    # repo's own pytest options (-n auto), which the app does not have.
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts="]
        + [test_file.name],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=TEST_TIMEOUT,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert re.search(rf"^{count} passed in ", ran.stdout, re.M), ran.stdout

    # And Spin takes the component as it is: only Spin's imports, the exports its
    # triggers call (compiled already, by the test's Emulator, into the disk cache).
    manifest = load(app / "spin.toml")
    assert trigger_kinds(manifest)[name] == TRIGGERS.get(template, {"http"})
    engine = WasmEngine()
    component = engine.load(manifest.components[name].source)
    report = check_contract(
        name,
        list(component.type.imports(engine.engine)),
        list(component.type.exports(engine.engine)),
        trigger_kinds(manifest)[name],
    )
    assert report.ok, report.reasons()


def test_list_names_every_template() -> None:
    done = edge("new", "--list", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0]: line.split(None, 1)[1] for line in done.stdout.splitlines()}
    assert sorted(listed) == ["cron", "http-kv", "http-turso", "multi-region", "redis"]
    assert "Redis" in listed["redis"] and "cron" in listed["cron"].lower()


def test_refusals(tmp_path: Path) -> None:
    unknown = edge("new", "graphql", "api", cwd=tmp_path)
    assert unknown.returncode == 1
    assert "no template 'graphql'" in unknown.stderr
    assert "cron, http-kv, http-turso, multi-region, redis" in unknown.stderr

    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    taken = edge("new", "http-kv", "taken", cwd=tmp_path)
    assert taken.returncode == 1 and "taken exists and is not empty" in taken.stderr
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["keep.txt"]

    invalid = edge("new", "http-kv", "my_app", cwd=tmp_path)
    assert invalid.returncode == 1
    assert "invalid application name 'my_app'" in invalid.stderr
    assert "words must be separated with '-'" in invalid.stderr
    assert not (tmp_path / "my_app").exists()
