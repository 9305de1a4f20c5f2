"""Notes on a Turso (libSQL) database: CRUD, search with parameters, atomic batch."""

from framework import HTTPError, Request, Response, http_component, turso

SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)
"""
COLUMNS = "id, title, body, tags, created_at"


def _db() -> turso.Connection:
    db = turso.connect("default")
    # CREATE is a write, which a region other than the primary sends to the
    # primary (a round trip): look in the local replica first.
    exists = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'notes'"
    if db.execute(exists).first() is None:
        db.execute(SCHEMA)
    return db


def _note_fields(payload: object) -> tuple[str, str, str]:
    if not isinstance(payload, dict):
        raise HTTPError(400, "expected a JSON object")
    title = payload.get("title")
    if not isinstance(title, str) or not title.strip():
        raise HTTPError(400, "title must be a non-empty string")
    body = payload.get("body", "")
    tags = payload.get("tags", [])
    if not isinstance(body, str):
        raise HTTPError(400, "body must be a string")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise HTTPError(400, "tags must be a list of strings")
    return title.strip(), body, ",".join(tags)


def _as_json(row: turso.Row) -> dict[str, object]:
    note = row.as_dict()
    tags = str(note["tags"])
    note["tags"] = tags.split(",") if tags else []
    return note


@http_component("/notes", methods=["GET"])
def list_notes(req: Request) -> list[dict[str, object]]:
    # ?q= searches titles and bodies; the text travels as a parameter, never in the SQL.
    query = req.query.get("q", "")
    limit = req.query.get("limit", "50")
    if not limit.isdigit():
        raise HTTPError(400, "limit must be a number")
    result = _db().execute(
        f"SELECT {COLUMNS} FROM notes WHERE title LIKE ?1 OR body LIKE ?1 ORDER BY id LIMIT ?2",
        [f"%{query}%", int(limit)],
    )
    return [_as_json(row) for row in result.rows]


@http_component("/notes", methods=["POST"])
def create_note(req: Request) -> Response:
    title, body, tags = _note_fields(req.json())
    db = _db()
    inserted = db.execute(
        "INSERT INTO notes (title, body, tags) VALUES (?, ?, ?)", [title, body, tags]
    )
    note_id = inserted.last_insert_rowid
    row = db.execute(f"SELECT {COLUMNS} FROM notes WHERE id = ?", [note_id]).first()
    assert row is not None
    return Response.json(_as_json(row), status=201, headers={"location": f"/notes/{note_id}"})


@http_component("/notes/batch", methods=["POST"])
def create_many(req: Request) -> Response:
    """All notes or none: one bad note rolls the whole batch back."""
    payload = req.json()
    if not isinstance(payload, list) or not payload:
        raise HTTPError(400, "expected a non-empty JSON list of notes")
    statements = [
        ("INSERT INTO notes (title, body, tags) VALUES (?, ?, ?)", list(_note_fields(note)))
        for note in payload
    ]
    results = _db().batch(statements)
    ids = [r.last_insert_rowid for r in results]
    return Response.json({"created": ids}, status=201)


def _note_id(req: Request) -> int:
    raw = req.params["id"]
    if not raw.isdigit():
        raise HTTPError(400, f"note id must be a number, got {raw!r}")
    return int(raw)


@http_component("/notes/:id", methods=["GET"])
def get_note(req: Request) -> dict[str, object]:
    row = _db().execute(f"SELECT {COLUMNS} FROM notes WHERE id = ?", [_note_id(req)]).first()
    if row is None:
        raise HTTPError(404, "no such note")
    return _as_json(row)


@http_component("/notes/:id", methods=["PUT"])
def update_note(req: Request) -> dict[str, object]:
    title, body, tags = _note_fields(req.json())
    db = _db()
    note_id = _note_id(req)
    updated = db.execute(
        "UPDATE notes SET title = ?, body = ?, tags = ? WHERE id = ?", [title, body, tags, note_id]
    )
    if updated.rows_affected == 0:
        raise HTTPError(404, "no such note")
    row = db.execute(f"SELECT {COLUMNS} FROM notes WHERE id = ?", [note_id]).first()
    assert row is not None
    return _as_json(row)


@http_component("/notes/:id", methods=["DELETE"])
def delete_note(req: Request) -> Response:
    deleted = _db().execute("DELETE FROM notes WHERE id = ?", [_note_id(req)])
    if deleted.rows_affected == 0:
        raise HTTPError(404, "no such note")
    return Response(204)
