"""A todo REST API on the key-value store.

Each todo is a JSON document under `todo:<id>`. The ids are made where the todo
is created and cannot collide across regions: every region takes writes
locally, and two todos created at once in two regions under the same key would
leave only one of them once last-writer-wins has run (a counter key read in
each region hands out the same number twice). The time in nanoseconds first
keeps the ids in creation order; 32 random bits make two of the same
nanosecond distinct.
"""

import os
import re
import time

from framework import HTTPError, Request, Response, http_component, kv

ID = re.compile(r"[0-9a-f]{24}")


def _store() -> kv.Store:
    return kv.open_default()


def _todo_key(todo_id: str) -> str:
    return f"todo:{todo_id}"


def _new_id() -> str:
    # os.urandom asks the host (wasi:random) on each call; the random module
    # would repeat the sequence seeded when the component was built.
    return f"{time.time_ns():016x}{os.urandom(4).hex()}"


def _parse_id(req: Request) -> str:
    raw = req.params["id"]
    if not ID.fullmatch(raw):
        raise HTTPError(400, f"not a todo id: {raw[:40]!r} (ids are 24 hex digits)")
    return raw


def _validated(payload: object, partial: bool = False) -> dict[str, object]:
    if not isinstance(payload, dict):
        raise HTTPError(400, "expected a JSON object")
    todo: dict[str, object] = {}
    if "title" in payload:
        title = payload["title"]
        if not isinstance(title, str) or not title.strip():
            raise HTTPError(400, "title must be a non-empty string")
        todo["title"] = title.strip()
    elif not partial:
        raise HTTPError(400, "title is required")
    if "done" in payload:
        if not isinstance(payload["done"], bool):
            raise HTTPError(400, "done must be true or false")
        todo["done"] = payload["done"]
    return todo


@http_component("/todos", methods=["GET"])
def list_todos(req: Request) -> list[object]:
    store = _store()
    keys = [k for k in store.keys() if k.startswith("todo:")]
    todos = [store.get_json(k) for k in sorted(keys)]  # ids sort in creation order
    return [t for t in todos if t is not None]


@http_component("/todos", methods=["POST"])
def create_todo(req: Request) -> Response:
    fields = _validated(req.json())
    todo_id = _new_id()
    todo = {"id": todo_id, "title": fields["title"], "done": fields.get("done", False)}
    _store().set_json(_todo_key(todo_id), todo)
    return Response.json(todo, status=201, headers={"location": f"/todos/{todo_id}"})


@http_component("/todos/:id", methods=["GET"])
def get_todo(req: Request) -> object:
    todo = _store().get_json(_todo_key(_parse_id(req)))
    if todo is None:
        raise HTTPError(404, "no such todo")
    return todo


@http_component("/todos/:id", methods=["PUT", "PATCH"])
def update_todo(req: Request) -> object:
    store = _store()
    key = _todo_key(_parse_id(req))
    todo = store.get_json(key)
    if todo is None:
        raise HTTPError(404, "no such todo")
    todo.update(_validated(req.json(), partial=req.method == "PATCH"))
    store.set_json(key, todo)
    return todo


@http_component("/todos/:id", methods=["DELETE"])
def delete_todo(req: Request) -> Response:
    store = _store()
    key = _todo_key(_parse_id(req))
    if not store.exists(key):
        raise HTTPError(404, "no such todo")
    store.delete(key)
    return Response(204)
