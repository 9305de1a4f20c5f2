"""A todo REST API on the key-value store.

Each todo is a JSON document under `todo:<id>`; ids come from a counter key.
"""

from framework import HTTPError, Request, Response, http_component, kv

NEXT_ID = "meta:next-id"


def _store() -> kv.Store:
    return kv.open_default()


def _todo_key(todo_id: int) -> str:
    return f"todo:{todo_id}"


def _parse_id(req: Request) -> int:
    raw = req.params["id"]
    if not raw.isdigit():
        raise HTTPError(400, f"todo id must be a number, got {raw!r}")
    return int(raw)


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
    todos = [store.get_json(k) for k in sorted(keys, key=lambda k: int(k.split(":")[1]))]
    return [t for t in todos if t is not None]


@http_component("/todos", methods=["POST"])
def create_todo(req: Request) -> Response:
    fields = _validated(req.json())
    store = _store()
    # Spin's key-value interface has no atomic increment: skip ids that a
    # concurrent request already took. Two requests can still pick the same
    # id between the check and the write; an app that must never collide
    # would use random ids or the SQL database instead.
    todo_id = int(store.get_json(NEXT_ID, 1))
    while store.exists(_todo_key(todo_id)):
        todo_id += 1
    store.set_json(NEXT_ID, todo_id + 1)
    todo = {"id": todo_id, "title": fields["title"], "done": fields.get("done", False)}
    store.set_json(_todo_key(todo_id), todo)
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
