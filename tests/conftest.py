"""Shared fixtures: components are built once per test session (content-hashed)."""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

import pytest

from runtime.app.manifest import load
from runtime.build.incremental import build_manifest
from runtime.wasm.engine import WasmEngine

pytest_plugins = ["pytester"]  # tests of our own pytest plugin run pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = {
    "faults": ROOT / "tests" / "apps" / "faults" / "spin.toml",
    "kvprobe": ROOT / "tests" / "apps" / "kvprobe" / "spin.toml",
    "watchprobe": ROOT / "tests" / "apps" / "watchprobe" / "spin.toml",
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
    # pytest-xdist's workers each run this fixture. Each component is built under a
    # lock named after its .wasm (two apps can share one: the demo and todo), and
    # each worker starts at a different app, so that workers build different
    # components at once and then find the others' up to date.
    names = list(APPS)
    index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    start = index * len(names) // max(count, 1) % len(names)
    engine = WasmEngine()
    locks = ROOT / ".edge-test-build"
    locks.mkdir(exist_ok=True)
    for name in names[start:] + names[:start]:
        manifest = load(APPS[name])
        for cid, spec in manifest.components.items():
            key = hashlib.sha256(str(spec.source.resolve()).encode()).hexdigest()[:16]
            with open(locks / f"{key}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                build_manifest(manifest, only=[cid], report=lambda line: None)
                # And compiled into the on-disk cache, so that no `edge up` a test
                # starts spends its start-up timeout compiling (tens of seconds
                # on a loaded machine).
                if not engine.is_cached(spec.source):
                    engine.load(spec.source)
    return APPS
