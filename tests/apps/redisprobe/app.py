"""A probe of outbound Redis: POST a list of operations, get back what each returned.

    POST /run  {"ops": [["open"], ["set", "k", "v"], ["get", "k"]]}
    -> {"results": [null, null, {"bytes": "v"}]}

`["open"]` opens a connection to the app's `redis_address` (`["open", ADDRESS]`
to another); the other operations use the last one opened. The first failure
stops the list and is reported as {"error": {"type": ..., "message": ...}}.
"""

from typing import Any

from framework import RedisError, Request, http_component, redis, variables


def _out(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"bytes": value.decode("utf-8", "replace")}
    if isinstance(value, list):
        return [_out(v) for v in value]
    return value


def _arg(value: Any) -> Any:
    # {"bytes": "..."} in a request is a bytes argument; str and int stay.
    return value["bytes"].encode() if isinstance(value, dict) else value


def _run(conns: list[redis.Connection], op: str, args: list[Any]) -> Any:
    if op == "open":
        conns.append(redis.open(args[0] if args else variables.get("redis_address")))
        return None
    if op == "close":
        conns.pop().close()
        return None
    conn = conns[-1]
    if op in ("get", "incr", "smembers"):
        return getattr(conn, op)(args[0])
    if op in ("set", "publish"):
        return getattr(conn, op)(args[0], _arg(args[1]))
    if op in ("sadd", "srem"):
        return getattr(conn, op)(args[0], args[1])
    if op == "del":
        return conn.del_(args[0])
    if op == "execute":
        return conn.execute(args[0], [_arg(a) for a in args[1]])
    raise ValueError(f"unknown op {op!r}")


def _probe(req: Request) -> dict[str, Any]:
    conns: list[redis.Connection] = []
    results: list[Any] = []
    try:
        for op, *args in req.json()["ops"]:
            results.append(_out(_run(conns, op, args)))
    except RedisError as exc:
        return {"results": results, "error": {"type": type(exc).__name__, "message": str(exc)}}
    finally:
        for conn in conns:
            conn.close()
    return {"results": results}


@http_component("/run", methods=["POST"])
def run(req: Request) -> dict[str, Any]:
    return _probe(req)


@http_component("/locked/run", methods=["POST"])
def run_locked(req: Request) -> dict[str, Any]:
    return _probe(req)


@http_component("/address")
def address(req: Request) -> str:
    return variables.get("redis_address")
