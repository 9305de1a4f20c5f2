"""What watch mode watches: Spin's reading of the manifest, on real files."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import watchfiles

from runtime.app.manifest import load
from runtime.build.incremental import watched_files
from runtime.build.watchset import WatchSet, glob_regex

MANIFEST = """\
spin_manifest_version = 2

[application]
name = "watched"

[[trigger.http]]
route = "/a/..."
component = "api"

[[trigger.http]]
route = "/b/..."
component = "static"

[[trigger.http]]
route = "/c/..."
component = "quiet"

[component.api]
source = "api/api.wasm"

[component.api.build]
command = "edge componentize app -o api.wasm"
workdir = "api"
watch = ["**/*.py", "schema.{sql,json}"]

[component.static]
source = "prebuilt/static.wasm"

[component.quiet]
source = "quiet.wasm"

[component.quiet.build]
command = "edge componentize app -o quiet.wasm"
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    for folder in ("api/lib", "api/__pycache__", "api/.edge", "prebuilt", "state"):
        (tmp_path / folder).mkdir(parents=True)
    manifest = tmp_path / "spin.toml"
    manifest.write_text(MANIFEST)
    return manifest


def test_spin_reading_of_the_manifest(app: Path) -> None:
    watched = WatchSet.of(load(app), app.parent / "state")
    root = app.parent.resolve()
    assert [g.base for g in watched.builds["api"]] == [root / "api", root / "api"]
    assert watched.sources == {"static": root / "prebuilt" / "static.wasm"}
    assert watched.unwatched == ["quiet"]  # a build without `watch`: Spin watches nothing
    assert watched.roots() == [root]

    def change(*names: str) -> tuple[bool, set[str], set[str]]:
        found = watched.classify(root / n for n in names)
        return found.manifest, set(found.build), set(found.reload)

    assert change("api/app.py") == (False, {"api"}, set())
    assert change("api/lib/deep/util.py") == (False, {"api"}, set())
    assert change("api/schema.sql", "api/schema.json") == (False, {"api"}, set())
    assert change("api/schema.toml", "app.py", "quiet.py") == (False, set(), set())
    assert change("prebuilt/static.wasm") == (False, set(), {"static"})
    assert change("spin.toml") == (True, set(), set())


def test_a_build_never_starts_a_build(app: Path) -> None:
    watched = WatchSet.of(load(app), app.parent / "state")
    root = app.parent.resolve()
    never = [
        "api/api.wasm",  # the output
        "api/api.wasm.partial",  # what componentize-py writes before renaming it
        "api/.api.wasm.edge-build",  # edge build's stamp
        "api/__pycache__/app.cpython-314.py",
        "api/.edge/kv.py",
        "state/us-east.py",  # the state directory
        "api/.app.py.swp",
        "api/app.py~",
        "api/.#app.py",
    ]
    for name in never:
        assert watched.ignores(root / name), name
        assert not watched.classify([root / name]), name


def test_skip_build_watches_every_wasm(app: Path) -> None:
    watched = WatchSet.of(load(app), build=False)
    root = app.parent.resolve()
    assert set(watched.sources) == {"api", "static", "quiet"}
    assert watched.builds == {}
    assert set(watched.classify([root / "api" / "api.wasm"]).reload) == {"api"}
    assert not watched.classify([root / "spin.toml"])  # nothing to build


@pytest.mark.parametrize(
    "pattern", ["**/*.py", "*.py", "lib/*.py", "lib/**", "**/util.py", "[a-l]*.py", "?pp.py"]
)
def test_globs_match_what_edge_build_hashes(tmp_path: Path, pattern: str) -> None:
    """The files that edge build's fingerprint reads."""
    for name in ("app.py", "lib/util.py", "lib/deep/util.py", "lib/data.txt", "zed.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    expected = set(watched_files(tmp_path, [pattern]))
    regex = glob_regex(pattern)
    assert {p for p in files if regex.match(p.relative_to(tmp_path).as_posix())} == expected


def test_an_editors_save_is_one_round_of_changes(app: Path) -> None:
    """Real inotify events of a save burst (temp file, rename, touch) come as one group."""
    watched = WatchSet.of(load(app), app.parent / "state")
    source = app.parent / "api" / "app.py"
    source.write_text("x = 1\n")
    stop = threading.Event()
    rounds: list[set[str]] = []

    def save_burst() -> None:
        time.sleep(0.5)
        swap = source.with_name("app.py.tmp")
        swap.write_text("x = 2\n")
        swap.replace(source)
        source.touch()
        (app.parent / "api" / "api.wasm").write_bytes(b"output")  # ignored
        time.sleep(1.5)
        stop.set()

    threading.Thread(target=save_burst, daemon=True).start()
    for changes in watchfiles.watch(
        app.parent,
        watch_filter=lambda _, path: not watched.ignores(Path(path)),
        step=100,
        stop_event=stop,
        rust_timeout=3000,
    ):
        found = watched.classify(Path(p) for _, p in changes)
        if found:
            rounds.append(set(found.build))
    assert rounds == [{"api"}]
