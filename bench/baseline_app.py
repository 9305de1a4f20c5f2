"""The todo API of examples/todo/app.py as a plain starlette app: the baseline.

Same store implementation (`runtime.stores.KVStore`, one SQLite file), same keys
(`todo:<id>`, ids made the same way), same JSON encoding and the same validation, but
no wasm: what the edge runtime costs is the difference. Only the two endpoints
that bench/http_load.py and bench/peers.py load are here (GET /todos/{id}, POST
/todos); bench/peers/todo-worker.mjs is the same two for Miniflare, on its KV.

    BENCH_KV_PATH=/tmp/kv.sqlite hypercorn --workers 2 baseline_app:app   # from bench/
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime.stores import KVStore

TODO_ID = re.compile(r"[0-9a-f]{24}")


class HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@functools.cache
def store() -> KVStore:
    # Opened in each worker process on first use (WAL: the workers share the file).
    return KVStore(Path(os.environ["BENCH_KV_PATH"]))


def get_json(key: str, default: Any = None) -> Any:
    raw = store().get(key)
    return default if raw is None else json.loads(raw)


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def set_json(key: str, obj: Any) -> None:
    store().set(key, dumps(obj))


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(obj), status, headers, media_type="application/json")


def parse_body(body: bytes) -> Any:
    if not body.strip():
        raise HTTPError(400, "request body is empty; expected JSON")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPError(400, "request body is not valid UTF-8; expected JSON") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise HTTPError(400, "request body is not valid JSON") from None


def validated(payload: object) -> dict[str, object]:
    if not isinstance(payload, dict):
        raise HTTPError(400, "expected a JSON object")
    todo: dict[str, object] = {}
    if "title" not in payload:
        raise HTTPError(400, "title is required")
    title = payload["title"]
    if not isinstance(title, str) or not title.strip():
        raise HTTPError(400, "title must be a non-empty string")
    todo["title"] = title.strip()
    if "done" in payload:
        if not isinstance(payload["done"], bool):
            raise HTTPError(400, "done must be true or false")
        todo["done"] = payload["done"]
    return todo


async def get_todo(request: Request) -> Response:
    try:
        raw = request.path_params["id"]
        if not TODO_ID.fullmatch(raw):
            raise HTTPError(400, f"not a todo id: {raw[:40]!r} (ids are 24 hex digits)")
        todo = get_json(f"todo:{raw}")
        if todo is None:
            raise HTTPError(404, "no such todo")
        return json_response(todo)
    except HTTPError as exc:
        return json_response({"error": exc.message}, exc.status)


async def create_todo(request: Request) -> Response:
    try:
        fields = validated(parse_body(await request.body()))
    except HTTPError as exc:
        return json_response({"error": exc.message}, exc.status)
    todo_id = f"{time.time_ns():016x}{os.urandom(4).hex()}"  # as examples/todo makes them
    todo = {"id": todo_id, "title": fields["title"], "done": fields.get("done", False)}
    set_json(f"todo:{todo_id}", todo)
    return json_response(todo, 201, {"location": f"/todos/{todo_id}"})


app = Starlette(
    routes=[
        Route("/todos/{id}", get_todo, methods=["GET"]),
        Route("/todos", create_todo, methods=["POST"]),
    ]
)
