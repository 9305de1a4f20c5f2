"""Caching outbound I/O: Redis in front of Turso, key-value in front of an HTTP API.

Products (cache-aside): GET /products/:id looks in Redis first (`product:<id>`);
on a miss it reads the database, stores the JSON in Redis for PRODUCT_TTL
seconds, and says which it was in `x-cache` (hit, miss, or bypass when Redis
cannot be reached and the database answered alone). PUT and DELETE change
the database first, then delete the cached key.

Rates (an upstream API): GET /rates/:base asks `<upstream_url>/rates/<BASE>`
and keeps the answer in the key-value store with the time it was fetched.
A copy younger than RATES_TTL seconds (or than `?max_age=N`, which may only
ask for fresher) is served as it is; an older one is fetched again. When the
upstream fails, a stale copy is served if there is one, else a 502.
"""

import contextlib
import json
import re
import sys
import time
from typing import Any

from framework import (
    HTTPError,
    OutboundHTTPError,
    RedisError,
    Request,
    Response,
    http_component,
    kv,
    redis,
    turso,
    variables,
)
from framework.http import fetch

PRODUCT_TTL = 60  # seconds a product stays in Redis
RATES_TTL = 300  # seconds a copy of the upstream's rates counts as fresh
UPSTREAM_TIMEOUT = 2.0  # seconds for the whole upstream exchange
UPSTREAM_MAX_BYTES = 256 * 1024  # well under the key-value store's 1 MiB values
JSON_TYPE = "application/json"

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)
"""
SEED = [
    (1, "Espresso cup", 1200),
    (2, "Pour-over kettle", 4500),
    (3, "Burr grinder", 12900),
]
COLUMNS = "id, name, price_cents, updated_at"
NAME_MAX = 200
ID_MAX = 2**63 - 1
CURRENCY = re.compile(r"[A-Za-z]{3}")


def _log(message: str) -> None:
    sys.stderr.write(f"cache: {message}\n")


# --- the database ------------------------------------------------------------------


def _db() -> turso.Connection:
    """The database, with its table created and seeded on first use."""
    db = turso.connect("default")
    # Looking in the local replica first keeps the schema write (a round trip to
    # the primary region) off every request.
    exists = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'products'"
    if db.execute(exists).first() is None:
        seed = "INSERT OR IGNORE INTO products (id, name, price_cents) VALUES (?, ?, ?)"
        db.batch([SCHEMA, *[(seed, list(row)) for row in SEED]])
    return db


def _whole_number(raw: str) -> int | None:
    """`raw` as a non-negative integer of at most 19 ASCII digits, else None."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        return None
    return int(raw)


def _product_id(req: Request) -> int:
    raw = req.params["id"]
    number = _whole_number(raw)
    if number is None or not 0 < number <= ID_MAX:
        raise HTTPError(400, f"a product id is a positive integer, got {raw!r}")
    return number


def _product_fields(payload: object) -> tuple[str, int]:
    if not isinstance(payload, dict):
        raise HTTPError(400, "expected a JSON object")
    name = payload.get("name")
    price = payload.get("price_cents")
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
        raise HTTPError(400, f"name must be a non-empty string of at most {NAME_MAX} characters")
    if isinstance(price, bool) or not isinstance(price, int) or not 0 <= price <= ID_MAX:
        raise HTTPError(400, "price_cents must be a non-negative integer")
    return name.strip(), price


def _read_product(db: turso.Connection, product_id: int) -> dict[str, Any] | None:
    # Read inside a transaction, which runs on the primary: outside the primary
    # region the local replica may not have the latest write yet, and caching
    # what it says would keep that old value in Redis for the whole TTL.
    with db.transaction():
        row = db.execute(f"SELECT {COLUMNS} FROM products WHERE id = ?", [product_id]).first()
    return None if row is None else row.as_dict()


# --- Redis -------------------------------------------------------------------------


def _redis() -> redis.Connection:
    return redis.open(variables.get("redis_address"))


def _product_key(product_id: int) -> str:
    return f"product:{product_id}"


def _invalidate(product_id: int) -> str:
    """Delete the cached copy; the `x-cache` value that says whether that worked."""
    try:
        with _redis() as conn:
            conn.del_([_product_key(product_id)])
    except RedisError as exc:
        # The write stands; the old copy can live until its TTL runs out.
        _log(f"could not invalidate {_product_key(product_id)}: {exc}")
        return "invalidation-failed"
    return "invalidated"


def _json_response(body: bytes, cache: str, status: int = 200) -> Response:
    return Response(status, {"content-type": JSON_TYPE, "x-cache": cache}, body)


def _encode(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- products: cache-aside ---------------------------------------------------------


@http_component("/products", methods=["GET"])
def list_products(req: Request) -> list[dict[str, Any]]:
    """Every product, straight from the (local) database: not cached."""
    rows = _db().execute(f"SELECT {COLUMNS} FROM products ORDER BY id").rows
    return [row.as_dict() for row in rows]


@http_component("/products/:id", methods=["GET"])
def get_product(req: Request) -> Response:
    product_id = _product_id(req)
    key = _product_key(product_id)
    with contextlib.ExitStack() as stack:
        conn: redis.Connection | None
        try:
            conn = stack.enter_context(_redis())
            cached = conn.get(key)
        except RedisError as exc:
            # The cache is an optimisation: without it the database still answers.
            _log(f"Redis unavailable, reading {key} from the database: {exc}")
            conn, cached = None, None
        if cached is not None:
            return _json_response(cached, "hit")
        cache = "miss" if conn is not None else "bypass"
        product = _read_product(_db(), product_id)
        if product is None:
            # Not cached: a product created later must not be hidden by a stale "no".
            raise HTTPError(404, "no such product", headers={"x-cache": cache})
        body = _encode(product)
        if conn is not None:
            try:
                conn.execute("SET", [key, body, "EX", PRODUCT_TTL])
            except RedisError as exc:
                _log(f"could not fill {key}: {exc}")
        return _json_response(body, cache)


@http_component("/products/:id", methods=["PUT"])
def put_product(req: Request) -> Response:
    """Create or replace a product, then drop its cached copy."""
    product_id = _product_id(req)
    name, price = _product_fields(req.json())
    upsert = (
        "INSERT INTO products (id, name, price_cents) VALUES (?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
        "price_cents = excluded.price_cents, "
        "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
        f"RETURNING {COLUMNS}"
    )
    row = _db().execute(upsert, [product_id, name, price]).first()
    assert row is not None
    # Database first, cache second: deleting first would let a reader refill
    # the old value between the two steps.
    return _json_response(_encode(row.as_dict()), _invalidate(product_id))


@http_component("/products/:id", methods=["DELETE"])
def delete_product(req: Request) -> Response:
    product_id = _product_id(req)
    deleted = _db().execute("DELETE FROM products WHERE id = ?", [product_id])
    if deleted.rows_affected == 0:
        raise HTTPError(404, "no such product")
    return Response(204, {"x-cache": _invalidate(product_id)})


# --- rates: an upstream API cached in the key-value store -------------------------


class UpstreamFailed(Exception):
    """The upstream gave no usable answer; the message says why."""


def _max_age(req: Request) -> int:
    raw = req.query.get("max_age")
    if raw is None:
        return RATES_TTL
    seconds = _whole_number(raw)
    if seconds is None:
        raise HTTPError(400, f"max_age is a whole number of seconds, got {raw!r}")
    return min(seconds, RATES_TTL)  # fresher than the TTL on request, never older


def _cached_rates(store: kv.Store, key: str) -> tuple[float, Any] | None:
    try:
        entry = store.get_json(key)
    except ValueError:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("fetched_at"), int | float):
        return None
    return float(entry["fetched_at"]), entry.get("data")


def _fetch_rates(base: str) -> Any:
    upstream = variables.get("upstream_url", "").strip().rstrip("/")
    if not upstream:
        # An empty base would make "/rates/..." a request to this app itself.
        raise UpstreamFailed(
            "no upstream is configured: set the application variable upstream_url "
            "(e.g. SPIN_VARIABLE_UPSTREAM_URL=http://127.0.0.1:8081)"
        )
    url = f"{upstream}/rates/{base}"
    try:
        resp = fetch(
            url,
            headers={"accept": JSON_TYPE},
            timeout=UPSTREAM_TIMEOUT,
            max_response_bytes=UPSTREAM_MAX_BYTES,
        )
    except OutboundHTTPError as exc:  # refused, unreachable, timed out, body too large
        raise UpstreamFailed(str(exc)) from None  # "GET <url>: <what went wrong>"
    if resp.status == 404:
        raise HTTPError(404, f"the upstream has no rates for {base}")
    if resp.status != 200:
        raise UpstreamFailed(f"GET {url} answered {resp.status}")
    try:
        data = resp.json()
        json.dumps(data, allow_nan=False)  # what the store and the answer will need
    except ValueError:  # UnicodeDecodeError is one too; so are NaN and Infinity
        raise UpstreamFailed(f"GET {url} answered with a body that is not JSON") from None
    return data


def _header_text(message: str, limit: int = 200) -> str:
    """`message` as one printable line, short enough for a response header."""
    text = "".join(c if c.isprintable() and c.isascii() else " " for c in message)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@http_component("/rates/:base", methods=["GET"])
def get_rates(req: Request) -> Response:
    base = req.params["base"]
    if not CURRENCY.fullmatch(base):
        raise HTTPError(400, f"a base currency is three letters, got {base!r}")
    base = base.upper()
    max_age = _max_age(req)
    key = f"rates:{base}"
    store = kv.open_default()
    cached = _cached_rates(store, key)
    now = time.time()
    if cached is not None:
        fetched_at, data = cached
        if now - fetched_at < max_age:
            return Response.json(data, headers={"x-cache": "hit", "age": _age(now, fetched_at)})
    try:
        data = _fetch_rates(base)
    except UpstreamFailed as exc:
        if cached is None:
            return Response.json(
                {"error": f"the upstream failed and no copy is cached: {exc}"},
                status=502,
                headers={"x-cache": "miss"},
            )
        # Stale-if-error: an old answer, marked as such, beats no answer.
        _log(f"serving a stale copy of {key}: {exc}")
        fetched_at, data = cached
        headers = {
            "x-cache": "stale",
            "age": _age(now, fetched_at),
            "x-upstream-error": _header_text(str(exc)),
        }
        return Response.json(data, headers=headers)
    store.set_json(key, {"fetched_at": now, "data": data})
    return Response.json(data, headers={"x-cache": "miss", "age": "0"})


def _age(now: float, fetched_at: float) -> str:
    # Whole seconds, as HTTP's Age header; never negative (another region's clock
    # may run ahead of this one).
    return str(max(0, int(now - fetched_at)))
