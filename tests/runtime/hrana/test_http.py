"""Hrana over HTTP, request by request (httpx against the real server)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from runtime.hrana import create_hrana_app
from runtime.stores import SqlDatabase

from .helpers import Pipeline, rows, running, stmt


def test_version_probes_and_health(http: httpx.Client) -> None:
    for path in ("/health", "/v1", "/v2", "/v3"):
        assert http.get(path).status_code == 200, path
    missing = http.get("/v3-protobuf")  # not served: a client falls back to JSON
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND"


def test_v1_execute_and_batch(http: httpx.Client) -> None:
    response = http.post("/v1/execute", json={"stmt": stmt("SELECT ?, :n", 1, n="x")})
    assert response.status_code == 200
    result = response.json()["result"]
    assert rows(result) == [[1, "x"]]
    assert [c["name"] for c in result["cols"]] == ["?", ":n"]
    batch = {"steps": [{"stmt": stmt("SELECT 1")}, {"stmt": stmt("SELEC")}]}
    result = http.post("/v1/batch", json={"batch": batch}).json()["result"]
    assert rows(result["step_results"][0]) == [[1]]
    assert result["step_results"][1] is None
    assert result["step_errors"][1]["code"] == "SQLITE_ERROR"
    failed = http.post("/v1/execute", json={"stmt": stmt("SELEC")})
    assert failed.status_code == 400
    assert failed.json()["code"] == "SQLITE_ERROR"


def test_v1_execute_never_leaves_a_transaction_open(http: httpx.Client, db: SqlDatabase) -> None:
    assert http.post("/v1/execute", json={"stmt": stmt("BEGIN IMMEDIATE")}).status_code == 200
    db.execute("INSERT INTO t (v) VALUES (1)")  # would be SQLITE_BUSY if the BEGIN lingered


def test_pipeline_stream_lives_across_requests(http: httpx.Client, db: SqlDatabase) -> None:
    stream, other = Pipeline(http), Pipeline(http)
    stream.execute("BEGIN")
    first = stream.baton
    assert first is not None
    stream.execute("INSERT INTO t (v) VALUES (?)", 42)
    assert stream.baton not in (None, first)  # a new baton for every response
    assert rows(stream.execute("SELECT v FROM t")) == [[42]]
    assert rows(other.execute("SELECT count(*) FROM t")) == [[0]]  # isolated until commit
    (autocommit,) = stream.send({"type": "get_autocommit"})
    assert autocommit["response"] == {"type": "get_autocommit", "is_autocommit": False}
    stream.execute("COMMIT")
    assert rows(other.execute("SELECT v FROM t")) == [[42]]
    assert stream.send({"type": "close"}) == [{"type": "ok", "response": {"type": "close"}}]
    assert stream.baton is None


def test_wrong_unknown_and_reused_batons_are_refused(http: httpx.Client) -> None:
    stream = Pipeline(http)
    stream.execute("SELECT 1")
    used = stream.baton
    stream.execute("SELECT 2")
    for baton in (used, "forged", stream.baton + "x", ""):  # type: ignore[operator]
        response = http.post("/v2/pipeline", json={"baton": baton, "requests": []})
        assert response.status_code == 400
        assert response.json()["code"] == "BATON_INVALID"
    assert rows(stream.execute("SELECT 3")) == [[3]]  # the real stream is unharmed
    bad = http.post("/v2/pipeline", json={"baton": 7, "requests": []})
    assert bad.json()["code"] == "HRANA_PROTO_ERROR"


def test_requests_after_close_fail_alone(http: httpx.Client) -> None:
    stream = Pipeline(http)
    results = stream.send(
        {"type": "execute", "stmt": stmt("SELECT 1")},
        {"type": "close"},
        {"type": "execute", "stmt": stmt("SELECT 2")},
    )
    assert [r["type"] for r in results] == ["ok", "ok", "error"]
    assert results[2]["error"]["code"] == "STREAM_CLOSED"
    assert stream.baton is None


@pytest.fixture
def short_lived(db: SqlDatabase) -> Iterator[httpx.Client]:
    app = create_hrana_app(db.connect, idle_timeout=0.3, max_streams=3)
    with running(app) as address, httpx.Client(base_url=f"http://{address}") as client:
        yield client


def test_idle_stream_expires_and_rolls_back(short_lived: httpx.Client, db: SqlDatabase) -> None:
    stream = Pipeline(short_lived)
    stream.execute("BEGIN")
    stream.execute("INSERT INTO t (v) VALUES ('lost')")
    time.sleep(1.0)
    response = short_lived.post("/v2/pipeline", json={"baton": stream.baton, "requests": []})
    assert response.status_code == 400
    assert response.json()["code"] == "STREAM_EXPIRED"
    assert db.execute("SELECT count(*) FROM t").rows == [(0,)]
    db.execute("INSERT INTO t (v) VALUES ('kept')")  # the write lock went with the stream


def test_open_streams_are_bounded(short_lived: httpx.Client) -> None:
    streams = [Pipeline(short_lived) for _ in range(3)]
    for s in streams:
        s.execute("SELECT 1")
    response = short_lived.post("/v2/pipeline", json={"baton": None, "requests": []})
    assert response.status_code == 503
    assert response.json()["code"] == "STREAM_LIMIT"
    streams[0].send({"type": "close"})
    assert rows(Pipeline(short_lived).execute("SELECT 1")) == [[1]]


def test_batch_conditions(http: httpx.Client) -> None:
    steps = [
        {"stmt": stmt("SELECT 0")},  # 0 ok
        {"stmt": stmt("SELEC 1")},  # 1 error
        {"condition": {"type": "ok", "step": 0}, "stmt": stmt("SELECT 2")},  # runs
        {"condition": {"type": "ok", "step": 1}, "stmt": stmt("SELECT 3")},  # skipped
        {"condition": {"type": "error", "step": 1}, "stmt": stmt("SELECT 4")},  # runs
        {"condition": {"type": "not", "cond": {"type": "ok", "step": 3}}, "stmt": stmt("SELECT 5")},
        {
            "condition": {
                "type": "and",
                "conds": [{"type": "ok", "step": 2}, {"type": "error", "step": 3}],
            },
            "stmt": stmt("SELECT 6"),  # skipped: step 3 did not run, so it did not fail
        },
        {
            "condition": {
                "type": "or",
                "conds": [{"type": "ok", "step": 3}, {"type": "ok", "step": 5}],
            },
            "stmt": stmt("SELECT 7"),
        },
        {"condition": {"type": "is_autocommit"}, "stmt": stmt("BEGIN")},  # 8 runs
        {"condition": {"type": "is_autocommit"}, "stmt": stmt("SELECT 9")},  # skipped: in a tx
        {"condition": {"type": "and", "conds": []}, "stmt": stmt("ROLLBACK")},  # empty and: true
        {"condition": {"type": "or", "conds": []}, "stmt": stmt("SELECT 11")},  # empty or: false
    ]
    (result,) = Pipeline(http).send({"type": "batch", "batch": {"steps": steps}})
    outcome = result["response"]["result"]
    ran = [i for i, r in enumerate(outcome["step_results"]) if r is not None]
    failed = [i for i, e in enumerate(outcome["step_errors"]) if e is not None]
    assert ran == [0, 2, 4, 5, 7, 8, 10]
    assert failed == [1]
    assert rows(outcome["step_results"][7]) == [[7]]


@pytest.mark.parametrize(
    "cond",
    [
        {"type": "ok", "step": 0},  # itself
        {"type": "ok", "step": 5},  # a later step
        {"type": "ok", "step": -1},
        {"type": "ok"},
        {"type": "maybe"},
        {"type": "not"},
        {"type": "and", "conds": {}},
        "ok",
    ],
)
def test_bad_conditions_fail_the_whole_batch(
    http: httpx.Client, db: SqlDatabase, cond: object
) -> None:
    steps = [{"condition": cond, "stmt": stmt("INSERT INTO t (v) VALUES (1)")}]
    (result,) = Pipeline(http).send({"type": "batch", "batch": {"steps": steps}})
    assert result["type"] == "error"
    assert result["error"]["code"] == "HRANA_PROTO_ERROR"
    assert db.execute("SELECT count(*) FROM t").rows == [(0,)]


def test_deeply_nested_condition_is_refused(http: httpx.Client) -> None:
    cond: dict[str, object] = {"type": "is_autocommit"}
    for _ in range(100):
        cond = {"type": "not", "cond": cond}
    steps = [{"stmt": stmt("SELECT 1")}, {"condition": cond, "stmt": stmt("SELECT 2")}]
    (result,) = Pipeline(http).send({"type": "batch", "batch": {"steps": steps}})
    assert result["error"]["code"] == "HRANA_PROTO_ERROR"


def test_sequence(http: httpx.Client, db: SqlDatabase) -> None:
    stream = Pipeline(http)
    script = """
        CREATE TABLE log (msg TEXT);  -- a comment; with a semicolon
        CREATE TRIGGER t_log AFTER INSERT ON t BEGIN
            INSERT INTO log VALUES ('inserted; ' || new.v);
            INSERT INTO log VALUES ('twice');
        END;
        /* ; */ INSERT INTO t (v) VALUES ('a;b');;
        INSERT INTO t (v) VALUES ("it's")
    """
    (result,) = stream.send({"type": "sequence", "sql": script})
    assert result == {"type": "ok", "response": {"type": "sequence"}}
    assert db.execute("SELECT v FROM t ORDER BY id").rows == [("a;b",), ("it's",)]
    assert len(db.execute("SELECT * FROM log").rows) == 4


def test_sequence_stays_in_the_transaction_and_stops_at_an_error(
    http: httpx.Client, db: SqlDatabase
) -> None:
    stream = Pipeline(http)
    stream.execute("BEGIN")
    script = (
        "INSERT INTO t (v) VALUES (1); INSERT INTO nowhere VALUES (2); INSERT INTO t (v) VALUES (3)"
    )
    (result,) = stream.send({"type": "sequence", "sql": script})
    assert result["type"] == "error"
    assert "no such table" in result["error"]["message"]
    assert rows(stream.execute("SELECT v FROM t")) == [[1]]  # the first ran, the third did not
    stream.execute("ROLLBACK")  # and nothing was committed behind our back
    assert db.execute("SELECT count(*) FROM t").rows == [(0,)]


def test_describe(http: httpx.Client) -> None:
    stream = Pipeline(http)
    (result,) = stream.send(
        {
            "type": "describe",
            "sql": "SELECT id, v AS value, u || ?2 FROM t WHERE id = :id OR id = ?",
        }
    )
    described = result["response"]["result"]
    assert described["params"] == [{"name": None}, {"name": "?2"}, {"name": ":id"}, {"name": None}]
    assert described["cols"] == [
        {"name": "id", "decltype": "INTEGER"},
        {"name": "value", "decltype": None},
        {"name": "u || ?2", "decltype": None},
    ]
    assert described["is_readonly"] is True
    assert described["is_explain"] is False
    (result,) = stream.send(
        {"type": "describe", "sql": "INSERT INTO t (v) VALUES (@v) RETURNING id"}
    )
    described = result["response"]["result"]
    assert described["is_readonly"] is False
    assert described["params"] == [{"name": "@v"}]
    assert described["cols"] == [{"name": "id", "decltype": "INTEGER"}]
    (result,) = stream.send({"type": "describe", "sql": "EXPLAIN SELECT 1"})
    assert result["response"]["result"]["is_explain"] is True
    (result,) = stream.send({"type": "describe", "sql": "SELECT * FROM nowhere"})
    assert result["error"]["code"] == "SQLITE_ERROR"
    (result,) = stream.send({"type": "describe", "sql": "SELECT 1; SELECT 2"})
    assert result["error"]["code"] == "SQL_MANY_STATEMENTS"
    (result,) = stream.send({"type": "describe", "sql": " -- nothing"})
    assert result["error"]["code"] == "SQL_NO_STATEMENT"


def test_store_sql_is_per_stream(http: httpx.Client) -> None:
    stream = Pipeline(http)
    results = stream.send(
        {"type": "store_sql", "sql_id": 1, "sql": "SELECT ? + 1"},
        {"type": "execute", "stmt": {"sql_id": 1, "args": [{"type": "integer", "value": "41"}]}},
        {"type": "store_sql", "sql_id": 1, "sql": "SELECT 0"},
        {"type": "describe", "sql_id": 1},
        {"type": "sequence", "sql_id": 1},  # needs an argument it cannot have
        {"type": "close_sql", "sql_id": 1},
        {"type": "close_sql", "sql_id": 1},  # closing twice is fine
        {"type": "execute", "stmt": {"sql_id": 1}},
        {"type": "execute", "stmt": {"sql_id": 1, "sql": "SELECT 1"}},
    )
    assert [r["type"] for r in results] == [
        "ok",
        "ok",
        "error",
        "ok",
        "error",
        "ok",
        "ok",
        "error",
        "error",
    ]
    assert rows(results[1]["response"]["result"]) == [[42]]
    assert results[2]["error"]["code"] == "SQL_ID_IN_USE"
    assert results[7]["error"]["code"] == "SQL_NOT_FOUND"
    assert results[8]["error"]["code"] == "HRANA_PROTO_ERROR"
    other = Pipeline(http)
    (result,) = other.send({"type": "execute", "stmt": {"sql_id": 1}})
    assert result["error"]["code"] == "SQL_NOT_FOUND"


def test_v3_pipeline_and_cursor(http: httpx.Client) -> None:
    stream = Pipeline(http, "/v3/pipeline")
    stream.execute("INSERT INTO t (v) VALUES ('a'), ('b')")
    batch = {"steps": [{"stmt": stmt("SELECT v FROM t ORDER BY id")}, {"stmt": stmt("SELEC")}]}
    response = http.post("/v3/cursor", json={"baton": stream.baton, "batch": batch})
    assert response.status_code == 200
    head, *entries = [json.loads(line) for line in response.text.splitlines()]
    assert head["baton"] and head["base_url"] is None
    assert [e["type"] for e in entries] == ["step_begin", "row", "row", "step_end", "step_error"]
    assert entries[0]["cols"] == [{"name": "v", "decltype": None}]
    assert entries[1]["row"] == [{"type": "text", "value": "a"}]
    assert entries[4]["step"] == 1
    stream.baton = head["baton"]
    assert rows(stream.execute("SELECT count(*) FROM t")) == [[2]]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "HRANA_PROTO_ERROR"),
        (b'{"baton": null, "requests": [], "x": NaN}', "HRANA_PROTO_ERROR"),
        (b"\xff\xfe", "HRANA_PROTO_ERROR"),
        (b"[]", "HRANA_PROTO_ERROR"),
        (b'{"baton": null}', "HRANA_PROTO_ERROR"),
        (b'{"baton": null, "requests": {}}', "HRANA_PROTO_ERROR"),
        (b"[" * 100_000, "HRANA_PROTO_ERROR"),
        (b"", "HRANA_PROTO_ERROR"),
    ],
)
def test_malformed_bodies_are_400(http: httpx.Client, body: bytes, code: str) -> None:
    response = http.post("/v2/pipeline", content=body)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert rows(Pipeline(http).execute("SELECT 1")) == [[1]]  # still serving


@pytest.mark.parametrize(
    "request_",
    [
        {"type": "launch"},
        {"kind": "execute"},
        "execute",
        {"type": "execute"},
        {"type": "execute", "stmt": {"sql": 5}},
        {"type": "execute", "stmt": {"sql": "SELECT 1", "want_rows": "yes"}},
        {"type": "store_sql", "sql_id": 2**31, "sql": "SELECT 1"},
        {"type": "store_sql", "sql_id": True, "sql": "SELECT 1"},
    ],
)
def test_malformed_requests_fail_alone(http: httpx.Client, request_: object) -> None:
    results = Pipeline(http).send(request_, {"type": "execute", "stmt": stmt("SELECT 1")})  # type: ignore[arg-type]
    assert results[0]["type"] == "error"
    assert results[0]["error"]["code"] == "HRANA_PROTO_ERROR"
    assert results[1]["type"] == "ok"


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "integer", "value": "9223372036854775808"},
        {"type": "integer", "value": "-9223372036854775809"},
        {"type": "integer", "value": "12abc"},
        {"type": "integer", "value": "1.5"},
        {"type": "integer", "value": True},
        {"type": "integer"},
        {"type": "float", "value": "1.5"},
        {"type": "float", "value": None},
        {"type": "text", "value": 5},
        {"type": "text", "value": "\ud800"},
        {"type": "blob", "base64": "not base64!"},
        {"type": "blob", "base64": "A"},
        {"type": "blob", "value": "AAAA"},
        {"type": "decimal", "value": "1"},
        {"value": "1"},
        "1",
        None,
    ],
)
def test_bad_values_are_refused(http: httpx.Client, db: SqlDatabase, bad: object) -> None:
    request = {"type": "execute", "stmt": {"sql": "INSERT INTO t (v) VALUES (?)", "args": [bad]}}
    (result,) = Pipeline(http).send(request)
    assert result["type"] == "error"
    assert result["error"]["code"] == "ARGS_INVALID"
    assert db.execute("SELECT count(*) FROM t").rows == [(0,)]


def test_lenient_value_forms(http: httpx.Client) -> None:
    args = [
        {"type": "integer", "value": 7},  # a JSON number, not the spec's string
        {"type": "blob", "base64": "AAE"},  # unpadded
        {"type": "float", "value": 3},
    ]
    result = Pipeline(http).send(
        {"type": "execute", "stmt": {"sql": "SELECT ?, ?, ?", "args": args}}
    )
    assert rows(result[0]["response"]["result"]) == [[7, b"\x00\x01", 3]]
    assert result[0]["response"]["result"]["rows"][0][2] == {"type": "float", "value": 3.0}


def test_infinite_floats_are_numbers_on_the_wire(http: httpx.Client) -> None:
    response = http.post("/v1/execute", json={"stmt": stmt("SELECT 1e999, -1e999, 1.5")})
    assert "1e999" in response.text and "Infinity" not in response.text
    values = [v["value"] for v in response.json()["result"]["rows"][0]]
    assert values == [float("inf"), float("-inf"), 1.5]
    body = b'{"stmt": {"sql": "SELECT ?", "args": [{"type": "float", "value": -1e999}]}}'
    back = http.post("/v1/execute", content=body).json()["result"]["rows"][0][0]
    assert back == {"type": "float", "value": float("-inf")}


def test_want_rows_false(http: httpx.Client) -> None:
    request = {"type": "execute", "stmt": {"sql": "SELECT 1 AS one", "want_rows": False}}
    (result,) = Pipeline(http).send(request)
    assert result["response"]["result"]["rows"] == []
    assert result["response"]["result"]["cols"] == [{"name": "one", "decltype": None}]


def test_positional_and_named_arguments_together(http: httpx.Client) -> None:
    stream = Pipeline(http)
    result = stream.execute("SELECT ?, :b, ?3, :b", "first", 99, "third", b="bee")
    assert rows(result) == [["first", "bee", "third", "bee"]]
    (failed,) = stream.send({"type": "execute", "stmt": stmt("SELECT ?, ?", 1)})
    assert failed["error"]["code"] == "ARGS_INVALID"


def test_oversized_body_is_413(db: SqlDatabase) -> None:
    app = create_hrana_app(db.connect, max_body_bytes=1000)
    with running(app) as address, httpx.Client(base_url=f"http://{address}") as client:
        big = {"stmt": stmt("SELECT ?", "x" * 2000)}
        response = client.post("/v1/execute", json=big)
        assert response.status_code == 413
        assert response.json()["code"] == "BODY_TOO_LARGE"

        def chunks() -> Iterator[bytes]:  # no content-length: counted as it arrives
            yield b'{"stmt": {"sql": "SELECT \''
            for _ in range(20):
                yield b"x" * 100
            yield b"'\"}}"

        assert client.post("/v1/execute", content=chunks()).status_code == 413
        assert client.post("/v1/execute", json={"stmt": stmt("SELECT 1")}).status_code == 200
    # Far too large: refused without reading it; the client may see the 413 or a reset.
    app = create_hrana_app(db.connect, max_body_bytes=1000)
    with running(app) as address, httpx.Client(base_url=f"http://{address}") as client:
        try:
            response = client.post("/v1/execute", content=b"x" * 1_000_000)
            assert response.status_code == 413
        except httpx.TransportError:
            pass
        assert client.post("/v1/execute", json={"stmt": stmt("SELECT 1")}).status_code == 200


def test_unknown_path(http: httpx.Client) -> None:
    response = http.post("/v9/pipeline", json={})
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_a_waiting_statement_does_not_block_the_server(http: httpx.Client, db: SqlDatabase) -> None:
    holder = Pipeline(http)
    holder.execute("BEGIN IMMEDIATE")  # holds the write lock
    waiter_done = threading.Event()

    def waiter() -> None:  # waits for the lock in a worker thread, up to the busy timeout
        with httpx.Client(base_url=http.base_url, timeout=30) as other:
            Pipeline(other).execute("INSERT INTO t (v) VALUES ('after')")
        waiter_done.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.3)
    assert not waiter_done.is_set()
    started = time.monotonic()
    assert http.get("/health").status_code == 200
    assert rows(Pipeline(http).execute("SELECT count(*) FROM t")) == [[0]]  # reads go on
    assert time.monotonic() - started < 3.0  # not behind the waiter (5 s busy timeout)
    holder.execute("COMMIT")
    thread.join(10)
    assert waiter_done.is_set()
    assert db.execute("SELECT v FROM t").rows == [("after",)]
