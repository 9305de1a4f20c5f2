"""A test app that misbehaves on purpose: the runtime must survive all of it."""

import json

from framework import Request, Response, http_component, kv, turso, variables


@http_component("/ok")
def ok(req: Request) -> dict[str, object]:
    return {"ok": True, "method": req.method}


@http_component("/raise")
def boom(req: Request) -> str:
    raise RuntimeError("secret internal detail")


@http_component("/loop")
def spin_forever(req: Request) -> str:
    n = 0
    while True:
        n += 1


@http_component("/alloc")
def eat_memory(req: Request) -> str:
    hoard = []
    while True:
        hoard.append(bytearray(8 * 1024 * 1024))


@http_component("/kv/undeclared")
def undeclared_store(req: Request) -> Response:
    try:
        kv.open("secret")
    except kv.AccessDeniedError:
        return Response(403, {"content-type": "text/plain"}, "access-denied")
    return Response(200, {}, "opened")


@http_component("/kv/big", methods=["POST"])
def big_value(req: Request) -> Response:
    size = int(req.query.get("size", "0"))
    try:
        kv.open_default().set("big", b"x" * size)
    except kv.TooLargeError as exc:
        return Response(413, {"content-type": "text/plain"}, str(exc))
    return Response(200, {}, "stored")


@http_component("/kv/big-key", methods=["POST"])
def big_key(req: Request) -> Response:
    size = int(req.query.get("size", "0"))
    try:
        kv.open_default().set("k" * size, b"v")
    except kv.TooLargeError as exc:
        return Response(413, {"content-type": "text/plain"}, str(exc))
    return Response(200, {}, "stored")


@http_component("/sql", methods=["POST"])
def run_sql(req: Request) -> Response:
    payload = req.json()
    try:
        result = turso.connect().execute(payload["sql"], payload.get("params", []))
    except turso.DatabaseError as exc:
        return Response(
            400, {"content-type": "application/json"}, json.dumps({"error": exc.message})
        )
    return Response.json(
        {
            "columns": result.columns,
            "rows": [list(r) for r in result.rows],
            "rows_affected": result.rows_affected,
            "last_insert_rowid": result.last_insert_rowid,
        }
    )


@http_component("/sql/batch", methods=["POST"])
def run_batch(req: Request) -> Response:
    statements = [(sql, params) for sql, params in req.json()["statements"]]
    try:
        results = turso.connect().batch(statements)
    except turso.DatabaseError as exc:
        return Response(
            400, {"content-type": "application/json"}, json.dumps({"error": exc.message})
        )
    return Response.json({"rows_affected": [r.rows_affected for r in results]})


@http_component("/echo-json", methods=["POST"])
def echo_json(req: Request) -> object:
    return req.json()


@http_component("/headers")
def headers(req: Request) -> dict[str, str]:
    return {k: v for k, v in req.headers.items() if k.startswith("spin-")}


@http_component("/var/:name")
def variable(req: Request) -> dict[str, str]:
    return {"value": variables.get(req.params["name"])}
