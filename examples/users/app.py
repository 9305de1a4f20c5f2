"""A global user service: users in a Turso (libSQL) database, preferences in key-value.

On a multi-region Turso setup every region reads its own replica, and writes
(schema changes included) go to the primary region. So only POST /users
creates the schema; the other paths treat a missing table as "no users yet".
"""

from framework import DatabaseError, HTTPError, Request, Response, http_component, kv, turso

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)
"""
COLUMNS = "id, name, email, created_at"
NAME_MAX = 200
EMAIL_MAX = 254  # the longest address SMTP can carry (RFC 5321)
PREFS_MAX_BYTES = 4096
SEARCH_LIMIT = 50


def _is_missing_table(exc: DatabaseError) -> bool:
    # Matched as a substring: a remote libSQL server may prefix SQLite's message.
    return "no such table" in exc.message.lower()


def _is_duplicate_email(exc: DatabaseError) -> bool:
    return "unique constraint failed: users.email" in exc.message.lower()


def _execute(sql: str, params: list[object]) -> turso.ResultSet:
    """Run a statement on a table that may not exist yet: no table reads as no rows."""
    with turso.connect() as db:
        try:
            return db.execute(sql, params)
        except DatabaseError as exc:
            if not _is_missing_table(exc):
                raise
            return turso.ResultSet(columns=[])


def _insert(name: str, email: str) -> turso.Row:
    # RETURNING hands back the row from the write itself: a SELECT afterwards
    # could read a local replica that has not caught up with the primary yet.
    insert = f"INSERT INTO users (name, email) VALUES (?, ?) RETURNING {COLUMNS}"
    with turso.connect() as db:
        try:
            result = db.execute(insert, [name, email])
        except DatabaseError as exc:
            if not _is_missing_table(exc):
                raise
            # First user ever: create the schema here, the one write path, then retry.
            db.execute(SCHEMA)
            result = db.execute(insert, [name, email])
    row = result.first()
    assert row is not None
    return row


def _write_failed(exc: DatabaseError) -> HTTPError:
    # Writes go to the primary region; when it cannot be reached (a partition,
    # an outage) the same request may well work later: 503, with the reason.
    return HTTPError(503, f"cannot write now: {exc.message}")


def _user_id(req: Request) -> int:
    raw = req.params["id"]
    if not raw.isdigit():
        raise HTTPError(400, f"user id must be a number, got {raw!r}")
    return int(raw)


def _user_exists(user_id: int) -> bool:
    return _execute("SELECT 1 FROM users WHERE id = ?", [user_id]).first() is not None


def _user_fields(payload: object) -> tuple[str, str]:
    if not isinstance(payload, dict):
        raise HTTPError(400, "expected a JSON object")
    name, email = payload.get("name"), payload.get("email")
    if not isinstance(name, str) or not name.strip():
        raise HTTPError(400, "name must be a non-empty string")
    if len(name.strip()) > NAME_MAX:
        raise HTTPError(400, f"name must be at most {NAME_MAX} characters")
    if not isinstance(email, str):
        raise HTTPError(400, "email must be a string")
    # Lower-cased so that the UNIQUE constraint also catches Ada@x.io vs ada@x.io.
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if not (local and at and domain) or "@" in domain or any(c.isspace() for c in email):
        raise HTTPError(400, "email must look like name@domain")
    if len(email) > EMAIL_MAX:
        raise HTTPError(400, f"email must be at most {EMAIL_MAX} characters")
    return name.strip(), email


def _like_pattern(text: str) -> str:
    """`text` as a LIKE substring pattern in which % and _ match only themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@http_component("/users", methods=["POST"])
def create_user(req: Request) -> Response:
    name, email = _user_fields(req.json())
    try:
        user = _insert(name, email).as_dict()
    except DatabaseError as exc:
        if _is_duplicate_email(exc):
            raise HTTPError(409, "a user with this email already exists") from None
        raise _write_failed(exc) from None
    return Response.json(user, status=201, headers={"location": f"/users/{user['id']}"})


@http_component("/users", methods=["GET"])
def search_users(req: Request) -> list[dict[str, object]]:
    # LIKE ignores case for ASCII letters only (SQLite and libSQL without ICU).
    text = req.query.get("name", "")
    if len(text) > NAME_MAX:
        raise HTTPError(400, f"name must be at most {NAME_MAX} characters")
    result = _execute(
        f"SELECT {COLUMNS} FROM users WHERE name LIKE ? ESCAPE '\\' ORDER BY name, id LIMIT ?",
        [_like_pattern(text), SEARCH_LIMIT],
    )
    return result.as_dicts()


@http_component("/users/:id", methods=["GET"])
def get_user(req: Request) -> dict[str, object]:
    row = _execute(f"SELECT {COLUMNS} FROM users WHERE id = ?", [_user_id(req)]).first()
    if row is None:
        raise HTTPError(404, "no such user")
    return row.as_dict()


@http_component("/users/:id", methods=["DELETE"])
def delete_user(req: Request) -> Response:
    user_id = _user_id(req)
    try:
        deleted = _execute("DELETE FROM users WHERE id = ?", [user_id])
    except DatabaseError as exc:
        raise _write_failed(exc) from None
    if deleted.rows_affected == 0:
        raise HTTPError(404, "no such user")
    kv.open_default().delete(f"prefs:{user_id}")
    return Response(204)


@http_component("/users/:id/preferences", methods=["GET"])
def get_preferences(req: Request) -> dict[str, object]:
    user_id = _user_id(req)
    if not _user_exists(user_id):
        raise HTTPError(404, "no such user")
    prefs: dict[str, object] = kv.open_default().get_json(f"prefs:{user_id}", {})
    return prefs


@http_component("/users/:id/preferences", methods=["PUT"])
def put_preferences(req: Request) -> dict[str, object]:
    user_id = _user_id(req)
    # Checked before parsing, so an oversized body costs no JSON work.
    if len(req.body) > PREFS_MAX_BYTES:
        raise HTTPError(413, f"preferences must be at most {PREFS_MAX_BYTES} bytes of JSON")
    prefs = req.json()
    if not isinstance(prefs, dict):
        raise HTTPError(400, "preferences must be a JSON object")
    if not _user_exists(user_id):
        raise HTTPError(404, "no such user")
    kv.open_default().set_json(f"prefs:{user_id}", prefs)
    return prefs
