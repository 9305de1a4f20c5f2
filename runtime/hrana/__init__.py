"""A Hrana server: the protocol libSQL clients and sqld speak, over our SQL connections.

    app = create_hrana_app(db.connect, token=None)   # an ASGI (starlette) app
    libsql_client.create_client_sync("http://127.0.0.1:8080")   # or ws://

Served (JSON encoding only; Protobuf is not):
- HTTP: `/v1/execute`, `/v1/batch`, `/v2/pipeline` and `/v3/pipeline` with
  batons, `/v3/cursor`; `GET /v1|/v2|/v3|/health` answer 200 for probes.
- WebSocket at any path, subprotocols `hrana3`, `hrana2`, `hrana1`: streams,
  execute, batch (conditions ok/error/not/and/or/is_autocommit), sequence,
  describe, store_sql/close_sql, get_autocommit, cursors.

One app serves one database at `/`, as sqld serves one per URL (`edge up`
runs one app per region and database, each on its own port).

Each stream owns one connection from the `connect` it was given and runs its
statements one at a time in the app's worker threads, so the event loop never
blocks on SQLite; a statement whose client goes away is finished, never
abandoned, before anything else touches its connection. Closing a stream (or
losing its WebSocket, or an idle HTTP stream expiring after 10 s) rolls back
its open transaction. libSQL's `BEGIN TRANSACTION READONLY` (and `BEGIN
READONLY`) open a transaction in which writes fail (libsql.py).

Known differences from sqld: a column's `decltype` is looked up in the
file's committed schema (decltypes.py: null for tables that the open
transaction created, and for temporary ones); `affected_row_count` is
SQLite's `changes()`, which statements other than INSERT/UPDATE/DELETE leave
as it was (the spec leaves it undefined there); `last_insert_rowid` is always
given; named arguments that the statement does not use are ignored rather
than refused; describe's limits are in describe.py.
"""

from .app import create_hrana_app
from .errors import HranaError
from .server import HranaServer

__all__ = ["HranaError", "HranaServer", "create_hrana_app"]
