"""The builds of `edge up --watch`: one small JSON file in the state directory.

The watcher (watch.py, in the supervisor) is its only writer; every worker
reads it to learn that a component has a new version (swap.py), and
`GET /_edge/builds` serves it. Per component: the generation being served
(0: the version `edge up` started with), the `.wasm` of that generation, and
how the last build went. Written aside and renamed, so a reader never sees
half a file.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..regions.control import write_json

FILE_NAME = "builds.json"
VERSIONS_DIR = "builds"  # each generation's .wasm, copied: a build rewrites the manifest's


@dataclass
class ComponentBuild:
    generation: int = 0
    wasm: str | None = None  # the generation's .wasm; None: the manifest's source
    status: str = "idle"  # idle (no build yet) | building | ok | failed
    started: float | None = None  # unix seconds of the last build's start
    finished: float | None = None
    seconds: float | None = None
    error: str | None = None  # the last failed build's message and output
    swapped: float | None = None  # unix seconds the current generation was published


@dataclass
class BuildState:
    watching: bool = False
    components: dict[str, ComponentBuild] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "watching": self.watching,
            "components": {cid: asdict(b) for cid, b in self.components.items()},
        }


def builds_path(state_dir: Path) -> Path:
    return state_dir / FILE_NAME


def write_state(state_dir: Path, state: BuildState) -> None:
    write_json(builds_path(state_dir), {**state.to_json(), "updated": time.time()})


def read_state(state_dir: Path) -> BuildState:
    """The file as last written; an empty state when there is none (no watch)."""
    try:
        data = json.loads(builds_path(state_dir).read_text())
    except (OSError, ValueError):
        return BuildState()
    known = set(ComponentBuild.__dataclass_fields__)
    components = {
        cid: ComponentBuild(**{k: v for k, v in entry.items() if k in known})
        for cid, entry in data.get("components", {}).items()
    }
    return BuildState(bool(data.get("watching")), components)


def reset_state(state_dir: Path, watching: bool, components: list[str]) -> None:
    """A fresh record for this `edge up`, without the versions of an earlier one."""
    versions = state_dir / VERSIONS_DIR
    if versions.is_dir():
        for old in versions.glob("*.wasm"):
            old.unlink(missing_ok=True)
    if not watching:
        builds_path(state_dir).unlink(missing_ok=True)
        return
    write_state(state_dir, BuildState(True, {cid: ComponentBuild() for cid in components}))


def current_sources(state_dir: Path) -> dict[str, Path]:
    """component -> the .wasm of its newest generation, for those that have one."""
    return {
        cid: Path(b.wasm)
        for cid, b in read_state(state_dir).components.items()
        if b.wasm is not None and Path(b.wasm).is_file()
    }
