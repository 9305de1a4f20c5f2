"""A test app that misbehaves on purpose: the runtime must survive all of it."""

import contextlib
import json
import time

from framework import Request, Response, http_component, kv, turso, variables

ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"


@http_component("/ok")
def ok(req: Request) -> dict[str, object]:
    return {"ok": True, "method": req.method}


# What an instance keeps between requests when the host reuses it (tests of
# --max-instance-reuse-count): a fresh instance always answers 1.
_served = 0
_kept: list[kv.Store] = []


@http_component("/instance")
def instance(req: Request) -> dict[str, int]:
    global _served
    _served += 1
    return {"served": _served}


@http_component("/kv/kept", methods=["POST"])
def kept_store(req: Request) -> dict[str, object]:
    """Opens the store once per instance and keeps it in a global, as a handler
    that assumes reuse might: on a reused instance the handle is a stale one."""
    if not _kept:
        _kept.append(kv.open_default())
    _kept[0].set("kept", req.body)
    return {"stored": len(req.body)}


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


@http_component("/sleep")
def sleep(req: Request) -> str:
    time.sleep(float(req.query.get("seconds", "20")))
    return "slept"


@http_component("/sql/forever")
def endless_statement(req: Request) -> Response:
    try:
        turso.connect().execute(ENDLESS + " SELECT count(*) FROM c")
    except turso.DatabaseError as exc:
        return Response(200, {"content-type": "text/plain"}, f"carried on after: {exc}")
    return Response(200, {}, "it ended")


@http_component("/sql/insert-forever", methods=["POST"])
def endless_insert(req: Request) -> Response:
    """An INSERT that never ends, after a first row when `?transaction=1`; then COMMIT."""
    db = turso.connect()
    db.execute("CREATE TABLE IF NOT EXISTS endless (x INTEGER)")
    transaction = bool(req.query.get("transaction"))
    if transaction:
        db.execute("BEGIN")
        db.execute("INSERT INTO endless (x) VALUES (0)")
    with contextlib.suppress(turso.DatabaseError):  # and try to commit what there is
        db.execute("INSERT INTO endless (x) " + ENDLESS + " SELECT x FROM c")
    if transaction:
        db.execute("COMMIT")
    return Response(200, {}, "inserted")


@http_component("/body")
def big_body(req: Request) -> Response:
    size = int(req.query.get("size", "0"))
    pattern = bytes(range(256))
    return Response(
        200, {"content-type": "application/octet-stream"}, (pattern * (size // 256 + 1))[:size]
    )


@http_component("/echo", methods=["POST"])
def echo(req: Request) -> Response:
    return Response(200, {"content-type": "application/octet-stream"}, req.body)


@http_component("/sql/blob")
def blob(req: Request) -> Response:
    try:
        (value,) = turso.connect().execute("SELECT zeroblob(?)", [int(req.query["size"])]).rows[0]
    except turso.DatabaseError as exc:
        return Response(413, {"content-type": "text/plain"}, str(exc))
    return Response(200, {"content-type": "text/plain"}, str(len(value)))


@http_component("/kv/raw-big", methods=["POST"])
def raw_big_value(req: Request) -> str:
    """A value past wasmtime's hostcall fuel, sent around framework.kv's size check: a trap."""
    from framework._bindings import wit_import

    store = wit_import("key_value").Store.open("default")
    store.set("big", b"x" * int(req.query.get("size", "0")))
    return "stored"


@http_component("/sql/sleep-in-transaction", methods=["POST"])
def sleep_in_transaction(req: Request) -> str:
    """Holds the write lock, then sleeps past any deadline; COMMIT comes too late."""
    db = turso.connect()
    db.execute("CREATE TABLE IF NOT EXISTS slept (x INTEGER)")
    db.execute("BEGIN")
    db.execute("INSERT INTO slept (x) VALUES (1)")
    time.sleep(float(req.query.get("seconds", "20")))
    db.execute("COMMIT")
    return "committed"
