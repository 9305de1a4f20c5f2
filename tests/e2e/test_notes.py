"""The notes example on the emulated Turso database: SQL through the sqlite interface."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.testing import Emulator

pytestmark = pytest.mark.e2e


@pytest.fixture
def notes(built: dict[str, Path], tmp_path: Path):
    with Emulator(built["notes"], regions=["us-east"], state_dir=tmp_path, build=False) as edge:
        yield edge.client()


def test_crud_and_search(notes) -> None:
    first = notes.post(
        "/notes", json={"title": "Groceries", "body": "milk, eggs", "tags": ["home"]}
    )
    assert first.status_code == 201
    note = first.json()
    assert note["id"] == 1 and note["tags"] == ["home"] and note["created_at"]
    notes.post("/notes", json={"title": "Standup", "body": "demo the regions"})

    assert [n["title"] for n in notes.get("/notes").json()] == ["Groceries", "Standup"]
    # The search text is a bound parameter: quotes in it are data, not SQL.
    assert [n["id"] for n in notes.get("/notes", params={"q": "regions"}).json()] == [2]
    assert notes.get("/notes", params={"q": "' OR 1=1 --"}).json() == []
    assert len(notes.get("/notes", params={"limit": "1"}).json()) == 1

    updated = notes.put("/notes/2", json={"title": "Standup", "body": "done", "tags": ["work"]})
    assert updated.json()["tags"] == ["work"]
    assert notes.put("/notes/99", json={"title": "x"}).status_code == 404
    assert notes.delete("/notes/1").status_code == 204
    assert notes.get("/notes/1").status_code == 404
    assert notes.delete("/notes/1").status_code == 404


def test_batch_inserts_all(notes) -> None:
    ok = notes.post("/notes/batch", json=[{"title": "a"}, {"title": "b"}, {"title": "c"}])
    assert ok.status_code == 201
    assert ok.json() == {"created": [1, 2, 3]}
    invalid = notes.post("/notes/batch", json=[{"title": "d"}, {"title": 5}])
    assert invalid.status_code == 400
    assert [n["title"] for n in notes.get("/notes").json()] == ["a", "b", "c"]
