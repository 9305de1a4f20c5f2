"""The todo example, built by componentize-py and run in wasmtime, on the real KV store."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.testing import Emulator

pytestmark = pytest.mark.e2e


@pytest.fixture
def todo(built: dict[str, Path], tmp_path: Path):
    with Emulator(built["todo"], regions=["us-east"], state_dir=tmp_path, build=False) as edge:
        yield edge.client()


def test_crud(todo) -> None:
    assert todo.get("/todos").json() == []
    created = todo.post("/todos", json={"title": "write tests"})
    assert created.status_code == 201
    assert created.json() == {"id": 1, "title": "write tests", "done": False}
    assert created.headers["location"] == "/todos/1"
    second = todo.post("/todos", json={"title": "ship it", "done": True})
    assert second.json()["id"] == 2

    assert todo.get("/todos/1").json()["title"] == "write tests"
    updated = todo.put("/todos/1", json={"title": "write more tests", "done": True})
    assert updated.status_code == 200
    assert updated.json() == {"id": 1, "title": "write more tests", "done": True}
    patched = todo.patch("/todos/2", json={"done": False})
    assert patched.json() == {"id": 2, "title": "ship it", "done": False}

    assert [t["id"] for t in todo.get("/todos").json()] == [1, 2]
    assert todo.delete("/todos/1").status_code == 204
    assert todo.get("/todos/1").status_code == 404
    assert todo.delete("/todos/1").status_code == 404
    assert [t["id"] for t in todo.get("/todos").json()] == [2]
    # ids keep increasing after a delete
    assert todo.post("/todos", json={"title": "again"}).json()["id"] == 3


def test_validation_and_routing_errors(todo) -> None:
    missing = todo.post("/todos", json={"done": True})
    assert missing.status_code == 400
    assert "title" in missing.json()["error"]
    assert todo.get("/todos/abc").status_code == 400
    bad_json = todo.post(
        "/todos", content=b'{"title": ', headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert "JSON" in bad_json.json()["error"]
    not_allowed = todo.request("POST", "/todos/1", json={"title": "x"})
    assert not_allowed.status_code == 405
    assert "GET" in not_allowed.headers["allow"]
    assert todo.get("/elsewhere").status_code == 404


def test_state_survives_a_restart(built: dict[str, Path], tmp_path: Path) -> None:
    with Emulator(built["todo"], regions=["us-east"], state_dir=tmp_path, build=False) as edge:
        assert edge.client().post("/todos", json={"title": "persist me"}).status_code == 201
    with Emulator(built["todo"], regions=["us-east"], state_dir=tmp_path, build=False) as edge:
        todos = edge.client().get("/todos").json()
    assert todos == [{"id": 1, "title": "persist me", "done": False}]
