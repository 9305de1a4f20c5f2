"""Values, the JSON codec, SQL text scanning and describe, without a server."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.hrana import describe as describe_module
from runtime.hrana.errors import HranaError
from runtime.hrana.sqltext import has_content, parameter_names, split_statements
from runtime.hrana.values import decode_value, encode_value
from runtime.hrana.wire import dumps, loads
from runtime.stores import SqlDatabase
from runtime.stores._sqlite import driver


@pytest.mark.parametrize(
    "v", [None, 0, -(2**63), 2**63 - 1, 0.5, -0.0, float("inf"), "", "é\x00", b"", b"\x00\xff"]
)
def test_values_round_trip_through_json(v: object) -> None:
    back = decode_value(loads(dumps(encode_value(v))))
    assert type(back) is type(v) and back == v
    if isinstance(v, float):
        assert math.copysign(1, back) == math.copysign(1, v)  # type: ignore[arg-type]


def test_integers_are_strings_and_blobs_base64() -> None:
    assert encode_value(2**63 - 1) == {"type": "integer", "value": "9223372036854775807"}
    assert encode_value(b"\x00\x01") == {"type": "blob", "base64": "AAE="}
    assert encode_value(float("nan")) == {"type": "null"}  # SQLite's own reading of NaN


def test_dumps_spells_infinity_as_a_number_and_leaves_text_alone() -> None:
    text = dumps(
        [encode_value(float("inf")), encode_value(float("-inf")), "hrana-inf-", "Infinity"]
    )
    assert text.startswith(b'[{"type":"float","value":1e999},{"type":"float","value":-1e999}')
    assert json.loads(text)[2:] == ["hrana-inf-", "Infinity"]


@pytest.mark.parametrize("data", [b"NaN", b"[Infinity]", b"{", b"\xc3", b"[" * 50_000, b'"\xff"'])
def test_loads_is_strict(data: bytes) -> None:
    with pytest.raises(HranaError) as failed:
        loads(data)
    assert failed.value.code == "HRANA_PROTO_ERROR"


def test_split_statements() -> None:
    script = """
        CREATE TABLE a (x TEXT DEFAULT ';');
        -- a comment; still a comment
        INSERT INTO "we;ird" VALUES ('it''s; fine', [br;acket], `back;tick`); ;
        /* block; comment */
        CREATE TRIGGER tr AFTER INSERT ON a BEGIN
          UPDATE a SET x = 'x;y'; DELETE FROM a WHERE 0;
        END;
        SELECT 1 -- no final semicolon
    """
    pieces = split_statements(script)
    assert len(pieces) == 4
    assert pieces[0].strip() == "CREATE TABLE a (x TEXT DEFAULT ';');"
    assert "it''s; fine" in pieces[1]
    assert pieces[2].strip().startswith("/* block; comment */\n        CREATE TRIGGER")
    assert pieces[2].rstrip().endswith("END;")
    assert pieces[3].strip().startswith("SELECT 1")
    assert split_statements(" ;; -- nothing\n /* */ ") == []
    assert split_statements("SELECT 'unterminated;") == ["SELECT 'unterminated;"]
    assert not has_content("; -- x\n;")
    assert has_content("; x")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT ?, ?, ?",
        "SELECT ?3, ?, :a, @b, $c, :a, ?",
        "SELECT :a, ?1, ?",
        "SELECT $x::y(z), $x::y(z), a$b FROM (SELECT 1 AS a$b)",
        'SELECT \':no\', "?", [@no], `$no`, ? FROM (SELECT 1 AS "?", 2 AS [@no], 3 AS `$no`)'
        " -- :no\n /* @no */",
        "SELECT :ünï, @_1, ?10",
        "SELECT 1",
    ],
)
def test_parameter_names_agree_with_sqlite(sql: str) -> None:
    native = describe_module._native()
    assert native is not None, "the driver's SQLite library should load through ctypes"
    described = native.describe("", sql)
    assert parameter_names(sql) == [p["name"] for p in described["params"]]


def test_parameter_index_out_of_range() -> None:
    with pytest.raises(HranaError):
        parameter_names("SELECT ?99999")


STATEMENTS = [
    "SELECT id, v AS value, u FROM t WHERE id = ?",
    "SELECT * FROM t",
    "SELECT count(*) AS n FROM t",
    "WITH x(a) AS (SELECT 1) SELECT a FROM x",
    "VALUES (1, 'two')",
    "INSERT INTO t (v) VALUES (:v)",
    "UPDATE t SET v = @v WHERE id = $id",
    "DELETE FROM t",
    "CREATE TABLE u (x)",
    "CREATE TEMP TABLE tt (x)",
    "DROP TABLE t",
    "BEGIN",
    "COMMIT",
    "PRAGMA table_info(t)",
    "PRAGMA user_version = 3",
    "EXPLAIN SELECT 1",
    "EXPLAIN QUERY PLAN SELECT * FROM t",
    ";; SELECT 1",
]


@pytest.mark.parametrize("sql", STATEMENTS)
def test_describe_fallback_agrees_with_sqlite(tmp_path: Path, sql: str) -> None:
    with SqlDatabase(tmp_path / "d.sqlite") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v REAL, u TEXT)")
        native = describe_module._native()
        assert native is not None
        exact = native.describe(str(db.path), sql)
        fallback = describe_module.describe_with_sqlite3(str(db.path), sql)
    assert fallback["params"] == exact["params"]
    assert fallback["is_explain"] == exact["is_explain"]
    assert fallback["is_readonly"] == exact["is_readonly"]
    names = [c["name"] for c in exact["cols"]]
    fallback_names = [c["name"] for c in fallback["cols"]]
    # The fallback knows columns of queries only, and no decltypes.
    assert fallback_names in (names, [])
    assert all(c["decltype"] is None for c in fallback["cols"])


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("", "SQL_NO_STATEMENT"),
        ("SELECT 1; SELECT 2", "SQL_MANY_STATEMENTS"),
        ("SELEC", "SQLITE_ERROR"),
    ],
)
def test_describe_errors_alike(sql: str, code: str) -> None:
    native = describe_module._native()
    assert native is not None
    for describe in (native.describe, describe_module.describe_with_sqlite3):
        with pytest.raises(HranaError) as failed:
            describe("", sql)
        assert failed.value.code == code


def test_describe_never_runs_the_statement(tmp_path: Path) -> None:
    with SqlDatabase(tmp_path / "d.sqlite") as db:
        db.execute("CREATE TABLE t (x)")
        with db.connect() as conn:
            for sql in ("INSERT INTO t VALUES (1)", "DROP TABLE t"):
                assert describe_module.describe(conn, sql)["is_readonly"] is False
            assert describe_module.describe_with_sqlite3(str(db.path), "DELETE FROM t")
        assert db.execute("SELECT count(*) FROM t").rows == [(0,)]
        raw = driver.connect(db.path)
        assert raw.execute("SELECT name FROM sqlite_master").fetchall() == [("t",)]
        raw.close()


@given(
    st.one_of(
        st.none(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False),  # infinities included: they travel as 1e999
        st.text(),
        st.binary(),
    )
)
def test_any_value_survives_the_wire_codec(v: object) -> None:
    back = decode_value(loads(dumps({"rows": [[encode_value(v)]]}))["rows"][0][0])
    assert type(back) is type(v) and back == v
    if isinstance(v, float):
        assert math.copysign(1, back) == math.copysign(1, v)  # type: ignore[arg-type]


@given(st.one_of(st.integers(min_value=2**63), st.integers(max_value=-(2**63) - 1)))
def test_out_of_range_integers_are_refused(i: int) -> None:
    with pytest.raises(HranaError) as failed:
        decode_value({"type": "integer", "value": str(i)})
    assert failed.value.code == "ARGS_INVALID"


def test_stored_sql_texts_are_bounded() -> None:
    from runtime.hrana.statements import SqlTexts

    texts = SqlTexts(limit=2, max_chars=10)
    texts.store(1, "SELECT 1")
    with pytest.raises(HranaError) as failed:
        texts.store(2, "SELECT 2")  # 16 characters in all
    assert failed.value.code == "SQL_STORE_FULL"
    texts.close(1)
    texts.store(2, "SELECT 2")
    texts.store(3, "")
    with pytest.raises(HranaError):
        texts.store(4, "")  # three texts
