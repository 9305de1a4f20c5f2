"""Hrana clients that go away mid-way, against a real `edge up` (two workers, so the
Hrana ports and the replicator live in the supervisor): nothing half-applied
remains, no lock outlives its client, and the supervisor keeps serving.

The clients send the frames libsql-client sends (hello, open_stream, execute)
and then drop the connection without waiting for the replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import libsql_client
import pytest

from tests.runtime.hrana.helpers import RawWs, run, stmt

from .edgeup import EdgeUp, wait_for

pytestmark = pytest.mark.e2e

SCHEMA = "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, client TEXT NOT NULL, n INTEGER)"
# About a tenth of a second of work for SQLite: a statement to be caught in the middle of.
SLOW = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) "
    "SELECT count(*) FROM c"
)


@pytest.fixture(scope="module")
def up(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeUp]:
    state = tmp_path_factory.mktemp("hrana-disconnects") / "state"
    server = EdgeUp(built["sqlprobe"], state, "--workers", "2", "--jitter", "0")
    try:
        for url in server.database_urls().values():  # each replica sees the table at once
            with libsql_client.create_client_sync(ws(url)) as client:
                client.execute(SCHEMA)
        yield server
    finally:
        server.stop()


def ws(url: str) -> str:
    return url.replace("http://", "ws://")


def address(url: str) -> str:
    return url.removeprefix("http://")


def execute(sql: str, *args: Any) -> dict[str, Any]:
    return {"type": "execute", "stream_id": 1, "stmt": stmt(sql, *args)}


def count(up: EdgeUp, client: str) -> int:
    with libsql_client.create_client_sync(ws(up.database_urls()["us-east"])) as db:
        return int(db.execute("SELECT count(*) FROM t WHERE client = ?", [client]).rows[0][0])


def writable(up: EdgeUp, region: str = "us-east") -> bool:
    """A write through `region` goes through (SQLite waits 5 s for a lock before it fails)."""
    with libsql_client.create_client_sync(ws(up.database_urls()[region])) as db:
        try:
            db.execute("INSERT INTO t (client, n) VALUES ('probe', 0)")
            return True
        except libsql_client.LibsqlError as exc:
            assert "locked" in str(exc), exc
            return False


async def vanish(ws_: RawWs) -> None:
    """Drop the connection at once: no close handshake, no waiting for replies."""
    await ws_.session.close()


def alive(up: EdgeUp) -> None:
    assert up.process.poll() is None, f"edge up died:\n{up.output()}"
    for url in up.database_urls().values():
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200
    assert httpx.get(f"{up.url}/_edge/health", timeout=5).status_code == 200
    log = up.output()
    assert "Segmentation fault" not in log and "Fatal Python error" not in log, log


@pytest.mark.parametrize("region", ["eu-west", "us-east"])
def test_a_transaction_whose_client_vanishes_is_rolled_back(up: EdgeUp, region: str) -> None:
    # BEGIN answered, then an INSERT, and the client is gone before its reply.
    url = up.database_urls()[region]

    async def attempt(name: str, wait_for_begin: bool) -> None:
        client = await RawWs.connect(address(url))
        await client.ok({"type": "open_stream", "stream_id": 1})
        if wait_for_begin:
            await client.ok(execute("BEGIN"))
        else:
            await client.send({"type": "request", "request_id": 90, "request": execute("BEGIN")})
        insert = execute("INSERT INTO t (client, n) VALUES (?, 1)", name)
        await client.send({"type": "request", "request_id": 91, "request": insert})
        await vanish(client)

    for i in range(5):
        for wait_for_begin in (True, False):
            name = f"vanished-{region}-{i}-{wait_for_begin}"
            run(lambda: attempt(name, wait_for_begin))  # noqa: B023 (run at once)
            wait_for(lambda: writable(up), timeout=20, what="the write lock to be released")
            assert count(up, name) == 0, f"{name}: a transaction without COMMIT committed"
    alive(up)


def test_many_clients_vanishing_mid_statement_leave_the_supervisor_serving(up: EdgeUp) -> None:
    # The tester's crash: statements through a replica URL whose clients disconnect
    # while the statement runs. Some clients commit and wait: theirs must all be there.
    replica = address(up.database_urls()["eu-west"])
    rng = random.Random(7)

    async def client(name: str, commits: bool) -> None:
        conn = await RawWs.connect(replica)
        await conn.ok({"type": "open_stream", "stream_id": 1})
        sqls = [
            execute("BEGIN"),
            execute("INSERT INTO t (client, n) VALUES (?, 1)", name),
            execute(SLOW),
            execute("INSERT INTO t (client, n) VALUES (?, 2)", name),
            execute(SLOW),
        ]
        ids = [conn.submit(request) for request in sqls]
        if commits:
            ids.append(conn.submit(execute("COMMIT")))
            replies = await conn.flush()
            assert all(replies[i]["type"] == "response_ok" for i in ids), replies
            await conn.close()
            return
        await conn.send_queued()  # the same frames, but no waiting for any reply
        await asyncio.sleep(rng.uniform(0, 0.4))
        await vanish(conn)

    async def http_client(name: str) -> None:
        # Over HTTP: a pipeline whose client times out mid-statement.
        body = {
            "baton": None,
            "requests": [
                {"type": "execute", "stmt": stmt("BEGIN")},
                {"type": "execute", "stmt": stmt("INSERT INTO t (client, n) VALUES (?, 1)", name)},
                {"type": "execute", "stmt": stmt(SLOW)},
                {"type": "close"},
            ],
        }
        timeout = httpx.Timeout(rng.uniform(0.05, 0.3))
        async with httpx.AsyncClient(base_url=f"http://{replica}", timeout=timeout) as http:
            with contextlib.suppress(httpx.TimeoutException):
                await http.post("/v2/pipeline", json=body)

    async def round_(r: int) -> list[str]:
        names = [f"r{r}-c{i}" for i in range(16)]
        jobs = [client(n, commits=i % 4 == 0) for i, n in enumerate(names)]
        jobs += [http_client(f"r{r}-h{i}") for i in range(4)]
        await asyncio.gather(*jobs)
        return [n for i, n in enumerate(names) if i % 4 == 0]

    committed = [name for r in range(3) for name in run(lambda: round_(r))]  # noqa: B023
    alive(up)
    wait_for(lambda: writable(up, "eu-west"), timeout=30, what="the write lock to be released")
    alive(up)
    with libsql_client.create_client_sync(ws(up.database_urls()["us-east"])) as db:
        assert db.execute("PRAGMA integrity_check").rows[0][0] == "ok"
        rows = db.execute("SELECT client, count(*) FROM t WHERE client LIKE 'r%' GROUP BY client")
        counts = {row[0]: row[1] for row in rows.rows}
    assert counts == dict.fromkeys(committed, 2), "only committed transactions, and all of them"


def test_close_stream_without_waiting_releases_the_write_lock(up: EdgeUp) -> None:
    # A client sends close_stream and closes the socket without reading the reply;
    # the socket closing a moment after close_stream is what once leaked the lock.
    rng = random.Random(11)

    async def leave(region: str) -> None:
        conn = await RawWs.connect(address(up.database_urls()[region]))
        await conn.ok({"type": "open_stream", "stream_id": 1})
        await conn.ok(execute("BEGIN"))
        await conn.ok(execute("INSERT INTO t (client, n) VALUES ('closed', 1)"))  # the lock
        request = {"type": "close_stream", "stream_id": 1}
        await conn.send({"type": "request", "request_id": 99, "request": request})
        await asyncio.sleep(rng.choice([0, 0, 0.001, 0.002, 0.005]))
        await vanish(conn)

    for attempt in range(20):
        run(lambda: leave(("eu-west", "us-east")[attempt % 2]))  # noqa: B023
        # Every region writes again at once (an attempt waits up to SQLite's 5 s).
        writer = ("us-east", "ap-south")[attempt % 2]
        wait_for(lambda: writable(up, writer), timeout=12, what=f"writes after {attempt}")  # noqa: B023
    assert count(up, "closed") == 0
    alive(up)
