"""pytest fixtures for testing edge apps (registered through the `pytest11` entry point).

def test_create(edge):                      # the app of ./spin.toml (or `edge_manifest`)
    assert edge.client().post("/todos", json={"title": "x"}).status_code == 201

def test_regions(edge_emulator):            # any manifest, any options
    edge = edge_emulator("examples/todo/spin.toml", regions=["us-east", "eu-west"])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .emulator import Emulator


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "edge_manifest", "the Spin manifest the `edge` fixture serves", default="spin.toml"
    )


@pytest.fixture
def edge_emulator(tmp_path: Path) -> Iterator[Callable[..., Emulator]]:
    """A factory of Emulators with their state in the test's tmp_path, closed after the test."""
    made: list[Emulator] = []

    def make(manifest: str | Path = "spin.toml", **options: Any) -> Emulator:
        options.setdefault("state_dir", tmp_path / f"edge-{len(made)}")
        emulator = Emulator(manifest, **options)
        made.append(emulator)
        return emulator

    yield make
    for emulator in made:
        emulator.close()


@pytest.fixture
def edge(request: pytest.FixtureRequest, edge_emulator: Callable[..., Emulator]) -> Emulator:
    """The app of the `edge_manifest` ini option (default ./spin.toml), fresh state per test."""
    manifest = Path(str(request.config.getini("edge_manifest")))
    if not manifest.is_absolute():
        manifest = Path(request.config.rootpath) / manifest
    return edge_emulator(manifest)
