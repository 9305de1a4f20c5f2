"""The watcher in process: real file events, real components, builds.json and build events.

The component has no build, so a new .wasm is swapped in as it is: the
components come from the session's builds (compiled into the cache already),
and nothing here waits for componentize-py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from runtime.app.manifest import load
from runtime.serve.builds import read_state
from runtime.serve.watch import Watcher

from ...e2e.edgeup import wait_for

pytestmark = pytest.mark.e2e

MANIFEST = """\
spin_manifest_version = 2

[application]
name = "prebuilt"

[[trigger.http]]
route = "/..."
component = "prebuilt"

[component.prebuilt]
source = "prebuilt.wasm"
"""


def _put(source: Path, wasm: Path) -> None:
    """As a build writes its output: aside, then renamed over the old one."""
    aside = wasm.with_name(wasm.name + ".tmp")
    shutil.copyfile(source, aside)
    os.replace(aside, wasm)


def test_a_new_wasm_is_a_new_generation_and_a_bad_one_is_not(
    built: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "spin.toml").write_text(MANIFEST)
    wasm = app / "prebuilt.wasm"
    shutil.copyfile(built["hello"].parent / "hello.wasm", wasm)
    state = tmp_path / "state"
    events: list[dict[str, Any]] = []

    def emit(kind: str, fields: Mapping[str, Any]) -> None:
        events.append({"kind": kind, **fields})

    watcher = Watcher(load(app / "spin.toml"), state, None, debounce_ms=50, emit=emit)
    watcher.start()
    try:
        assert read_state(state).components["prebuilt"].generation == 0
        _put(built["kvprobe"].parent / "kvprobe.wasm", wasm)
        wait_for(lambda: read_state(state).components["prebuilt"].generation == 1, 60, "gen 1")
        first = read_state(state).components["prebuilt"]
        assert first.status == "ok" and first.wasm is not None
        assert Path(first.wasm).read_bytes() == wasm.read_bytes()  # its own copy
        assert [(e["status"], e["error"]) for e in events] == [("started", None), ("ok", None)]
        assert events[1]["ms"] > 0 and events[1]["component"] == "prebuilt"

        wasm.write_bytes(b"\0asm, but no component")
        wait_for(lambda: read_state(state).components["prebuilt"].status == "failed", 60, "fail")
        failed = read_state(state).components["prebuilt"]
        assert failed.generation == 1 and failed.wasm == first.wasm
        assert failed.error is not None and "not a valid WebAssembly component" in failed.error
        wait_for(lambda: len(events) == 4, 10, "the failed build's events")
        assert events[3]["status"] == "failed" and events[3]["error"] == failed.error

        # The same bytes again: a build round, but nothing new to swap.
        _put(Path(first.wasm), wasm)
        wait_for(lambda: read_state(state).components["prebuilt"].status == "ok", 60, "same")
        assert read_state(state).components["prebuilt"].generation == 1

        # The manifest: a change a swap can serve is taken in, one it cannot is not.
        manifest = app / "spin.toml"
        manifest.write_text(MANIFEST.replace('name = "prebuilt"', 'name = "renamed"'))
        wait_for(lambda: watcher.rebuilder.manifest.name == "renamed", 30, "the new manifest")
        manifest.write_text(MANIFEST.replace('route = "/..."', 'route = "/elsewhere/..."'))
        said: list[str] = []

        def warned() -> bool:
            said.append(capsys.readouterr().err)
            return "restart edge up" in " ".join("".join(said).split())  # rich wraps lines

        wait_for(warned, 30, "the warning", poll=0.2)
        assert watcher.rebuilder.manifest.routes() == [("/...", "prebuilt")]
    finally:
        watcher.stop()
    assert not watcher._thread.is_alive()
