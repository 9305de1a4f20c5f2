"""A raw SQL probe for replication tests: statements in, rows and errors out, as JSON.

POST /sql {"statements": ["SQL", ["SQL", [params]], ...], "mode": "each" | "batch" | "abandon"}

- each: one statement after another, stopping at the first error;
- batch: all of them atomically (`Connection.batch`);
- abandon: BEGIN, the statements, then return without COMMIT (the host must roll back).
"""

from typing import Any

from framework import HTTPError, Request, http_component, turso


def _statements(payload: Any) -> list[tuple[str, list[Any]]]:
    if not isinstance(payload, dict) or not isinstance(payload.get("statements"), list):
        raise HTTPError(400, 'expected {"statements": [...]}')
    out = []
    for item in payload["statements"]:
        if isinstance(item, str):
            out.append((item, []))
        elif isinstance(item, list) and len(item) == 2 and isinstance(item[0], str):
            out.append((item[0], list(item[1])))
        else:
            raise HTTPError(400, f"bad statement: {item!r}")
    return out


def _value(value: Any) -> Any:
    return {"hex": value.hex()} if isinstance(value, bytes) else value


def _result(result: turso.ResultSet) -> dict[str, Any]:
    return {
        "columns": result.columns,
        "rows": [[_value(v) for v in row] for row in result.rows],
        "rows_affected": result.rows_affected,
        "last_insert_rowid": result.last_insert_rowid,
    }


@http_component("/sql", methods=["POST"])
def run(req: Request) -> Any:
    payload = req.json()
    statements = _statements(payload)
    mode = payload.get("mode", "each")
    db = turso.connect("default")
    results: list[dict[str, Any]] = []
    try:
        if mode == "batch":
            results = [_result(r) for r in db.batch(statements)]
        elif mode == "abandon":
            db.execute("BEGIN")
            results = [_result(db.execute(sql, params)) for sql, params in statements]
        elif mode == "each":
            for sql, params in statements:
                results.append(_result(db.execute(sql, params)))
        else:
            raise HTTPError(400, f"unknown mode {mode!r}")
    except turso.DatabaseError as exc:
        return {"error": str(exc), "done": len(results), "results": results}
    return {"results": results}
