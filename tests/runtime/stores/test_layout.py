from __future__ import annotations

from pathlib import Path

import pytest

from runtime.stores import LayoutError, StateLayout


def test_paths_follow_the_layout(tmp_path: Path) -> None:
    layout = StateLayout(tmp_path)
    assert layout.kv_path("us-east", "default") == tmp_path / "us-east" / "kv" / "default.sqlite"
    assert layout.sql_path("eu-west", "my-db") == tmp_path / "eu-west" / "sql" / "my-db.sqlite"


def test_directories_are_created_on_demand(tmp_path: Path) -> None:
    layout = StateLayout(tmp_path / "state")
    assert not (tmp_path / "state").exists()
    path = layout.kv_path("ap-south", "sessions")
    assert path.parent.is_dir()
    assert not path.exists()  # only the directory: the store creates its file
    assert layout.sql_path("ap-south", "default").parent.is_dir()


@pytest.mark.parametrize("label", ["default", "my-store", "user_data", "Store2", "a", "a" * 128])
def test_spin_style_labels_are_accepted(tmp_path: Path, label: str) -> None:
    path = StateLayout(tmp_path).kv_path("us-east", label)
    assert path.name == f"{label}.sqlite"
    assert path.parent == tmp_path / "us-east" / "kv"


@pytest.mark.parametrize(
    "label",
    [
        "",
        ".",
        "..",
        "../x",
        "a/b",
        "a\\b",
        ".hidden",
        "a b",
        "a\x00b",
        "-x",
        "x-",
        "_x",
        "caf\u00e9",
        "a" * 129,
        "default\n",
    ],
)
def test_unsafe_labels_are_rejected(tmp_path: Path, label: str) -> None:
    layout = StateLayout(tmp_path)
    with pytest.raises(LayoutError, match="invalid key-value store label"):
        layout.kv_path("us-east", label)
    with pytest.raises(LayoutError, match="invalid database label"):
        layout.sql_path("us-east", label)
    assert list(tmp_path.iterdir()) == []  # nothing was created for a rejected name


@pytest.mark.parametrize("region", ["", "..", "../etc", "us east", "/abs", "us-east/.."])
def test_unsafe_region_names_are_rejected(tmp_path: Path, region: str) -> None:
    with pytest.raises(LayoutError, match="invalid region name"):
        StateLayout(tmp_path).kv_path(region, "default")
    assert list(tmp_path.iterdir()) == []


def test_non_string_label_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match="must be a string"):
        StateLayout(tmp_path).kv_path("us-east", 3)  # type: ignore[arg-type]


def test_listing_what_exists_on_disk(tmp_path: Path) -> None:
    layout = StateLayout(tmp_path)
    assert layout.regions() == [] and layout.kv_labels("us-east") == []
    for label in ("sessions", "default"):
        layout.kv_path("us-east", label).touch()
    layout.sql_path("eu-west", "todos").touch()
    (tmp_path / "us-east" / "kv" / "notes.txt").touch()  # not a store
    assert layout.regions() == ["eu-west", "us-east"]
    assert layout.kv_labels("us-east") == ["default", "sessions"]
    assert layout.sql_labels("eu-west") == ["todos"]
    assert layout.sql_labels("us-east") == []
