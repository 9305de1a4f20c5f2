"""The todo example, built by componentize-py and run in wasmtime, on the real KV store."""

from __future__ import annotations

import re
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
    first = created.json()["id"]
    assert created.json() == {"id": first, "title": "write tests", "done": False}
    assert re.fullmatch("[0-9a-f]{24}", first)
    assert created.headers["location"] == f"/todos/{first}"
    second = todo.post("/todos", json={"title": "ship it", "done": True}).json()["id"]
    assert second > first  # ids sort in creation order

    assert todo.get(f"/todos/{first}").json()["title"] == "write tests"
    updated = todo.put(f"/todos/{first}", json={"title": "write more tests", "done": True})
    assert updated.status_code == 200
    assert updated.json() == {"id": first, "title": "write more tests", "done": True}
    patched = todo.patch(f"/todos/{second}", json={"done": False})
    assert patched.json() == {"id": second, "title": "ship it", "done": False}

    assert [t["id"] for t in todo.get("/todos").json()] == [first, second]
    assert todo.delete(f"/todos/{first}").status_code == 204
    assert todo.get(f"/todos/{first}").status_code == 404
    assert todo.delete(f"/todos/{first}").status_code == 404
    assert [t["id"] for t in todo.get("/todos").json()] == [second]
    third = todo.post("/todos", json={"title": "again"}).json()["id"]
    assert third > second and third != first


def test_validation_and_routing_errors(todo) -> None:
    missing = todo.post("/todos", json={"done": True})
    assert missing.status_code == 400
    assert "title" in missing.json()["error"]
    assert todo.get("/todos/abc").status_code == 400
    # Not an id, however it looks: a superscript digit, 5000 digits (int() refuses them).
    assert todo.get("/todos/%C2%B2").status_code == 400
    assert todo.get("/todos/" + "9" * 5000).status_code == 400
    bad_json = todo.post(
        "/todos", content=b'{"title": ', headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert "JSON" in bad_json.json()["error"]
    not_allowed = todo.request("POST", "/todos/" + "0" * 24, json={"title": "x"})
    assert not_allowed.status_code == 405
    assert "GET" in not_allowed.headers["allow"]
    assert todo.get("/elsewhere").status_code == 404


def test_state_survives_a_restart(built: dict[str, Path], tmp_path: Path) -> None:
    with Emulator(built["todo"], regions=["us-east"], state_dir=tmp_path, build=False) as edge:
        created = edge.client().post("/todos", json={"title": "persist me"})
        assert created.status_code == 201
    with Emulator(built["todo"], regions=["us-east"], state_dir=tmp_path, build=False) as edge:
        todos = edge.client().get("/todos").json()
    assert todos == [{"id": created.json()["id"], "title": "persist me", "done": False}]
