"""Hrana over WebSocket, message by message (aiohttp against the real server)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from runtime.hrana import create_hrana_app
from runtime.hrana.websocket import MAX_STREAMS
from runtime.stores import SqlDatabase

from .helpers import RawWs, rows, run, running, stmt, wait_until_writable


def execute(stream_id: int, sql: str, *args: Any, **named: Any) -> dict[str, Any]:
    return {"type": "execute", "stream_id": stream_id, "stmt": stmt(sql, *args, **named)}


def test_pipelined_requests_on_a_stream_run_in_order(address: str) -> None:
    async def scenario() -> None:
        ws = await RawWs.connect(address)
        # Everything is sent before any reply, as libsql-client does.
        opened = ws.submit({"type": "open_stream", "stream_id": 1})
        ids = [ws.submit(execute(1, "INSERT INTO t (v) VALUES (?)", i)) for i in range(20)]
        counted = ws.submit(execute(1, "SELECT group_concat(v) FROM t"))
        closed = ws.submit({"type": "close_stream", "stream_id": 1})
        replies = await ws.flush()
        assert replies[opened]["response"] == {"type": "open_stream"}
        assert all(replies[i]["type"] == "response_ok" for i in ids)
        expected = ",".join(str(i) for i in range(20))
        assert rows(replies[counted]["response"]["result"]) == [[expected]]
        assert replies[closed]["response"] == {"type": "close_stream"}
        await ws.close()

    run(scenario)


def test_interactive_transaction_and_autocommit(address: str, db: SqlDatabase) -> None:
    async def scenario() -> None:
        ws = await RawWs.connect(address, ("hrana3",))
        for sid in (1, 2):
            await ws.ok({"type": "open_stream", "stream_id": sid})
        auto = await ws.ok({"type": "get_autocommit", "stream_id": 1})
        assert auto["is_autocommit"] is True
        await ws.ok(execute(1, "BEGIN"))
        await ws.ok(execute(1, "INSERT INTO t (v) VALUES ('in tx')"))
        assert (await ws.ok({"type": "get_autocommit", "stream_id": 1}))["is_autocommit"] is False
        # Another stream: an error there leaves stream 1's transaction alone.
        failed = await ws.request(execute(2, "INSERT INTO nowhere VALUES (1)"))
        assert failed["type"] == "response_error"
        assert "no such table" in failed["error"]["message"]
        other = await ws.ok(execute(2, "SELECT count(*) FROM t"))
        assert rows(other["result"]) == [[0]]
        await ws.ok(execute(1, "COMMIT"))
        assert db.execute("SELECT v FROM t").rows == [("in tx",)]
        await ws.close()

    run(scenario)


def test_batch_with_conditions(address: str, db: SqlDatabase) -> None:
    async def scenario() -> None:
        ws = await RawWs.connect(address)
        await ws.ok({"type": "open_stream", "stream_id": 7})
        steps = [
            {"stmt": stmt("BEGIN")},
            {
                "condition": {"type": "ok", "step": 0},
                "stmt": stmt("INSERT INTO t (u) VALUES ('a')"),
            },
            {
                "condition": {"type": "ok", "step": 1},
                "stmt": stmt("INSERT INTO t (u) VALUES ('a')"),
            },
            {"condition": {"type": "ok", "step": 2}, "stmt": stmt("COMMIT")},
            {
                "condition": {"type": "not", "cond": {"type": "ok", "step": 3}},
                "stmt": stmt("ROLLBACK"),
            },
        ]
        reply = await ws.ok({"type": "batch", "stream_id": 7, "batch": {"steps": steps}})
        result = reply["result"]
        assert [r is not None for r in result["step_results"]] == [True, True, False, False, True]
        assert result["step_errors"][2]["code"] == "SQLITE_CONSTRAINT_UNIQUE"
        assert db.execute("SELECT count(*) FROM t").rows == [(0,)]
        await ws.close()

    run(scenario)


def test_store_sql_is_per_connection_and_sequence_describe(address: str, db: SqlDatabase) -> None:
    async def scenario() -> None:
        ws = await RawWs.connect(address)
        await ws.ok({"type": "store_sql", "sql_id": 5, "sql": "INSERT INTO t (v) VALUES (:v)"})
        again = await ws.request({"type": "store_sql", "sql_id": 5, "sql": "SELECT 1"})
        assert again["error"]["code"] == "SQL_ID_IN_USE"
        for sid in (1, 2):
            await ws.ok({"type": "open_stream", "stream_id": sid})
            named = [{"name": "v", "value": {"type": "integer", "value": str(sid)}}]
            await ws.ok(
                {"type": "execute", "stream_id": sid, "stmt": {"sql_id": 5, "named_args": named}}
            )
        described = await ws.ok({"type": "describe", "stream_id": 1, "sql_id": 5})
        assert described["result"]["params"] == [{"name": ":v"}]
        assert described["result"]["is_readonly"] is False
        await ws.ok({"type": "close_sql", "sql_id": 5})
        gone = await ws.request({"type": "execute", "stream_id": 1, "stmt": {"sql_id": 5}})
        assert gone["error"]["code"] == "SQL_NOT_FOUND"
        script = "INSERT INTO t (v) VALUES (3); INSERT INTO t (v) VALUES ('4;')"
        assert await ws.ok({"type": "sequence", "stream_id": 2, "sql": script}) == {
            "type": "sequence"
        }
        assert db.execute("SELECT v FROM t ORDER BY id").rows == [(1,), (2,), (3,), ("4;",)]
        await ws.close()

    run(scenario)


def test_errors_answer_the_request_and_the_connection_carries_on(address: str) -> None:
    async def scenario() -> None:
        ws = await RawWs.connect(address)
        await ws.ok({"type": "open_stream", "stream_id": 1})
        cases = [
            (execute(9, "SELECT 1"), "STREAM_NOT_FOUND"),
            ({"type": "open_stream", "stream_id": 1}, "STREAM_EXISTS"),
            ({"type": "launch_rockets"}, "HRANA_PROTO_ERROR"),
            ({"type": "open_stream", "stream_id": "1"}, "HRANA_PROTO_ERROR"),
            ({"type": "execute", "stream_id": 1}, "HRANA_PROTO_ERROR"),
            ("not an object", "HRANA_PROTO_ERROR"),
            (execute(1, "SELEC"), "SQLITE_ERROR"),
            (
                {
                    "type": "execute",
                    "stream_id": 1,
                    "stmt": {"sql": "SELECT ?", "args": [{"type": "integer", "value": "1e3"}]},
                },
                "ARGS_INVALID",
            ),
            ({"type": "fetch_cursor", "cursor_id": 3, "max_count": 1}, "CURSOR_NOT_FOUND"),
        ]
        for request, code in cases:
            reply = await ws.request(request)  # type: ignore[arg-type]
            assert reply["type"] == "response_error", (request, reply)
            assert reply["error"]["code"] == code, (request, reply)
            assert reply["error"]["message"]
        assert rows((await ws.ok(execute(1, "SELECT 1")))["result"]) == [[1]]
        # Closing a stream that is not open is harmless.
        await ws.ok({"type": "close_stream", "stream_id": 42})
        await ws.close()

    run(scenario)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", 1007),
        ('{"type": "hello", "jwt": NaN}', 1007),
        (b"\x00binary", 1003),
        ('{"type": "goodbye"}', 1002),
        ('{"type": "request", "request_id": "x", "request": {}}', 1002),
        ("[1, 2]", 1002),
    ],
)
def test_protocol_violations_close_only_that_connection(
    address: str, frame: str | bytes, code: int
) -> None:
    async def scenario() -> None:
        bystander = await RawWs.connect(address)
        await bystander.ok({"type": "open_stream", "stream_id": 1})
        await bystander.ok(execute(1, "BEGIN"))
        ws = await RawWs.connect(address)
        if isinstance(frame, bytes):
            await ws.ws.send_bytes(frame)
        else:
            await ws.ws.send_str(frame)
        closing = await ws.receive()
        assert closing.type == aiohttp.WSMsgType.CLOSE
        assert closing.data == code
        await ws.close()
        # The other connection's stream and transaction are untouched.
        assert (await bystander.ok({"type": "get_autocommit", "stream_id": 1}))[
            "is_autocommit"
        ] is False
        await bystander.ok(execute(1, "ROLLBACK"))
        await bystander.close()

    run(scenario)


def test_request_before_hello_closes(address: str) -> None:
    async def scenario() -> None:
        ws = await RawWs.connect(address, hello=False)
        await ws.send(
            {"type": "request", "request_id": 1, "request": {"type": "open_stream", "stream_id": 1}}
        )
        closing = await ws.receive()
        assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1002)
        await ws.close()

    run(scenario)


def test_hello_may_be_repeated_in_hrana2_but_not_hrana1(address: str) -> None:
    async def scenario() -> None:
        ws = await RawWs.connect(address, ("hrana2",))
        assert ws.ws.protocol == "hrana2"
        await ws.send({"type": "hello", "jwt": None})
        assert await ws.receive() == {"type": "hello_ok"}
        await ws.close()
        ws = await RawWs.connect(address, ("hrana1",))
        assert ws.ws.protocol == "hrana1"
        await ws.ok({"type": "open_stream", "stream_id": 1})
        assert rows((await ws.ok(execute(1, "SELECT 'v1'")))["result"]) == [["v1"]]
        await ws.send({"type": "hello", "jwt": None})
        closing = await ws.receive()
        assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1002)
        await ws.close()

    run(scenario)


def test_subprotocol_negotiation(address: str) -> None:
    async def scenario() -> None:
        ws = await RawWs.connect(address, ("hrana1", "hrana2", "hrana3"))
        assert ws.ws.protocol == "hrana3"  # the newest both speak
        await ws.close()
        ws = await RawWs.connect(address, ())  # none offered: hrana1
        assert ws.ws.protocol is None
        await ws.close()
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await RawWs.connect(address, ("hrana3-protobuf",))

    run(scenario)


def test_cursor(address: str) -> None:
    async def scenario() -> None:
        ws = await RawWs.connect(address, ("hrana3",))
        await ws.ok({"type": "open_stream", "stream_id": 1})
        await ws.ok(execute(1, "INSERT INTO t (v) VALUES (1), (2), (3)"))
        batch = {"steps": [{"stmt": stmt("SELECT v FROM t ORDER BY v")}, {"stmt": stmt("nope")}]}
        opened = ws.submit({"type": "open_cursor", "stream_id": 1, "cursor_id": 4, "batch": batch})
        first = ws.submit({"type": "fetch_cursor", "cursor_id": 4, "max_count": 2})
        second = ws.submit({"type": "fetch_cursor", "cursor_id": 4, "max_count": 100})
        replies = await ws.flush()
        assert replies[opened]["response"] == {"type": "open_cursor"}
        one, two = replies[first]["response"], replies[second]["response"]
        assert [e["type"] for e in one["entries"]] == ["step_begin", "row"]
        assert one["done"] is False
        assert [e["type"] for e in two["entries"]] == ["row", "row", "step_end", "step_error"]
        assert two["done"] is True
        await ws.ok({"type": "close_cursor", "cursor_id": 4})
        await ws.close()

    run(scenario)


def test_streams_per_connection_are_bounded(address: str) -> None:
    async def scenario() -> None:
        ws = await RawWs.connect(address)
        ids = [ws.submit({"type": "open_stream", "stream_id": i}) for i in range(MAX_STREAMS + 1)]
        replies = await ws.flush()
        assert all(replies[i]["type"] == "response_ok" for i in ids[:-1])
        assert replies[ids[-1]]["error"]["code"] == "STREAM_LIMIT"
        await ws.close()

    run(scenario)


@pytest.mark.parametrize("how", ["close", "abort"])
def test_dropped_connection_rolls_back(address: str, db: SqlDatabase, how: str) -> None:
    async def scenario() -> None:
        ws = await RawWs.connect(address)
        await ws.ok({"type": "open_stream", "stream_id": 1})
        await ws.ok(execute(1, "BEGIN"))
        await ws.ok(execute(1, "INSERT INTO t (v) VALUES ('half')"))
        await ws.ok(execute(1, "INSERT INTO t (v) VALUES ('done')"))
        if how == "abort":  # the TCP connection just goes away, no close frame
            transport = ws.ws._response.connection.transport  # type: ignore[union-attr]
            transport.abort()  # type: ignore[union-attr]
            await ws.session.close()
        else:
            await ws.close()

    run(scenario)
    wait_until_writable(db)
    assert db.execute("SELECT count(*) FROM t").rows == [(0,)]


def test_message_size_limit(db: SqlDatabase) -> None:
    async def scenario(address: str) -> None:
        ws = await RawWs.connect(address)
        await ws.send(
            {
                "type": "request",
                "request_id": 1,
                "request": execute(1, "SELECT '" + "x" * 3000 + "'"),
            }
        )
        closing = await ws.receive()
        assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1009)
        await ws.close()

    with running(create_hrana_app(db.connect, max_body_bytes=2000)) as address:
        asyncio.run(scenario(address))
