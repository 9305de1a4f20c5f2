"""`edge build`: stamps, skipping unchanged components, and clear failures.

These use a tiny shell build command instead of componentize-py, so they test
the build driver itself; the real componentize-py builds happen in tests/e2e.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runtime.app.manifest import load
from runtime.build.componentize import BuildError, componentize
from runtime.build.incremental import build_manifest

MANIFEST = """
spin_manifest_version = 2
[application]
name = "b"
[[trigger.http]]
route = "/..."
component = "c"
[component.c]
source = "out.wasm"
[component.c.build]
command = "{command}"
"""


def _manifest(tmp_path: Path, command: str) -> Path:
    (tmp_path / "app.py").write_text("x = 1\n")
    path = tmp_path / "spin.toml"
    path.write_text(MANIFEST.format(command=command))
    return path


def test_unchanged_inputs_skip_the_build(tmp_path: Path) -> None:
    manifest = load(_manifest(tmp_path, "echo built >> runs.txt && cp app.py out.wasm"))
    assert [r.built for r in build_manifest(manifest, report=lambda s: None)] == [True]
    started = time.perf_counter()
    assert [r.built for r in build_manifest(manifest, report=lambda s: None)] == [False]
    assert time.perf_counter() - started < 1.0
    (tmp_path / "app.py").write_text("x = 2\n")
    assert [r.built for r in build_manifest(manifest, report=lambda s: None)] == [True]
    assert (tmp_path / "runs.txt").read_text().count("built") == 2
    assert [r.built for r in build_manifest(manifest, force=True, report=lambda s: None)] == [True]


def test_deleted_output_is_rebuilt(tmp_path: Path) -> None:
    manifest = load(_manifest(tmp_path, "cp app.py out.wasm"))
    build_manifest(manifest, report=lambda s: None)
    (tmp_path / "out.wasm").unlink()
    assert [r.built for r in build_manifest(manifest, report=lambda s: None)] == [True]


def test_failing_command_names_component_and_output(tmp_path: Path) -> None:
    manifest = load(_manifest(tmp_path, "echo something broke >&2; exit 3"))
    with pytest.raises(BuildError) as failure:
        build_manifest(manifest, report=lambda s: None)
    message = str(failure.value)
    assert "'c'" in message and "status 3" in message and "something broke" in message


def test_command_that_writes_nothing_is_an_error(tmp_path: Path) -> None:
    manifest = load(_manifest(tmp_path, "true"))
    with pytest.raises(BuildError, match="did not produce"):
        build_manifest(manifest, report=lambda s: None)


def test_componentize_refuses_native_imports_before_building(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("import ctypes\n")
    with pytest.raises(BuildError, match="ctypes"):
        componentize("app", tmp_path / "app.wasm", app_dir=tmp_path)
    assert not (tmp_path / "app.wasm").exists()


def test_componentize_unknown_module(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="not found"):
        componentize("nope", tmp_path / "app.wasm", app_dir=tmp_path)
