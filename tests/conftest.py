"""Shared fixtures: components are built once per test session (content-hashed)."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

from runtime.app.manifest import load
from runtime.build.incremental import build_manifest

pytest_plugins = ["pytester"]  # tests of our own pytest plugin run pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = {
    "faults": ROOT / "tests" / "apps" / "faults" / "spin.toml",
    "kvprobe": ROOT / "tests" / "apps" / "kvprobe" / "spin.toml",
    "sqlprobe": ROOT / "tests" / "apps" / "sqlprobe" / "spin.toml",
    "redisprobe": ROOT / "tests" / "apps" / "redisprobe" / "spin.toml",
    "httpprobe": ROOT / "tests" / "apps" / "httpprobe" / "spin.toml",
    "triggerprobe": ROOT / "tests" / "apps" / "triggerprobe" / "spin.toml",
    "todo": ROOT / "examples" / "todo" / "spin.toml",
    "notes": ROOT / "examples" / "notes" / "spin.toml",
    "users": ROOT / "examples" / "users" / "spin.toml",
    "hello": ROOT / "examples" / "hello" / "spin.toml",
    "cache": ROOT / "examples" / "cache" / "spin.toml",
    "jobs": ROOT / "examples" / "jobs" / "spin.toml",
    "demo": ROOT / "spin.toml",
}


@pytest.fixture(scope="session")
def built() -> dict[str, Path]:
    """Every test app's manifest, with its components built by componentize-py.

    `build_manifest` skips components whose inputs are unchanged, so a session
    builds each distinct component at most once (and none when nothing changed).
    """
    # pytest-xdist's workers each run this fixture: the first builds, the others
    # wait on the lock and then find every component up to date.
    with open(ROOT / ".edge-test-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for path in APPS.values():
            build_manifest(load(path), report=lambda line: None)
    return APPS
