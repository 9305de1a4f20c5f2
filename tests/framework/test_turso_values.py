from __future__ import annotations

import datetime
import decimal
import enum
from typing import Any

import pytest

from framework import (
    DatabaseAccessDeniedError,
    DatabaseError,
    DatabaseFullError,
    InvalidConnectionError,
    NoSuchDatabaseError,
    turso,
)
from framework.sql import (
    ResultSet,
    Row,
    build_result,
    decode_value,
    encode_param,
    encode_params,
    statement_kind,
)

from . import fakes
from .fakes import (
    QueryResult,
    RowResult,
    Value_Blob,
    Value_Integer,
    Value_Null,
    Value_Real,
    Value_Text,
)

# --- parameters ---------------------------------------------------------------------


class Tagged(str):
    """A str subclass whose str() is not its value."""

    def __str__(self) -> str:
        return "tagged!"


class Level(enum.IntEnum):
    HIGH = 3


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (None, ("null", None)),
        (True, ("integer", 1)),
        (False, ("integer", 0)),
        (42, ("integer", 42)),
        (-(2**63), ("integer", -(2**63))),
        (2**63 - 1, ("integer", 2**63 - 1)),
        (Level.HIGH, ("integer", 3)),
        (1.5, ("real", 1.5)),
        ("héllo", ("text", "héllo")),
        (Tagged("red"), ("text", "red")),
        (b"\x00", ("blob", b"\x00")),
        (bytearray(b"ab"), ("blob", b"ab")),
        (memoryview(b"cd"), ("blob", b"cd")),
    ],
)
def test_encode_param(value: object, encoded: tuple[str, object]) -> None:
    kind, payload = encode_param(value)
    assert (kind, payload) == encoded
    assert type(payload) is type(encoded[1])  # plain int/str/bytes, not subclasses


def test_bool_is_sent_as_integer_not_as_true() -> None:
    kind, payload = encode_param(True)
    assert kind == "integer" and payload == 1 and type(payload) is int


@pytest.mark.parametrize(
    "value",
    [decimal.Decimal("1.5"), datetime.date(2024, 1, 1), {"a": 1}, [1], object(), 1j],
)
def test_unsupported_parameter_types_are_type_errors(value: object) -> None:
    with pytest.raises(
        TypeError, match=rf"parameter 2 has unsupported type {type(value).__name__}"
    ):
        encode_params(["ok", value])


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1])
def test_integers_outside_64_bits_are_refused(value: int) -> None:
    with pytest.raises(OverflowError, match="64-bit"):
        encode_param(value)


def test_named_parameters_are_refused_with_the_reason() -> None:
    with pytest.raises(TypeError, match="named SQL parameters are not supported"):
        encode_params({"id": 1})  # type: ignore[arg-type]


@pytest.mark.parametrize("params", ["abc", b"abc", 5, None])
def test_parameters_must_be_a_sequence_of_values(params: object) -> None:
    with pytest.raises(TypeError, match="list or tuple"):
        encode_params(params)  # type: ignore[arg-type]


def test_parameters_may_be_any_iterable() -> None:
    assert encode_params(x for x in (1, "a")) == [("integer", 1), ("text", "a")]
    assert encode_params(()) == []


# --- values from the host ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "python"),
    [
        (Value_Integer(7), 7),
        (Value_Real(0.25), 0.25),
        (Value_Text("t"), "t"),
        (Value_Blob(b"\x01"), b"\x01"),
        (Value_Null(), None),
    ],
)
def test_decode_value(value: object, python: object) -> None:
    assert decode_value(value) == python


def test_decode_value_refuses_unknown_objects() -> None:
    with pytest.raises(TypeError, match="unexpected SQL value"):
        decode_value(3)


# --- rows and result sets ------------------------------------------------------------


def make_result() -> ResultSet:
    query = QueryResult(
        ["id", "title", "data"],
        [
            RowResult([Value_Integer(1), Value_Text("first"), Value_Null()]),
            RowResult([Value_Integer(2), Value_Text("second"), Value_Blob(b"x")]),
        ],
    )
    return build_result(query)


def test_row_by_index_and_by_name() -> None:
    row = make_result().rows[0]
    assert row[0] == 1 and row["title"] == "first" and row[-1] is None
    assert row[1:] == ("first", None)
    assert row.get("title") == "first" and row.get("nope", "dflt") == "dflt"
    assert row.keys() == ["id", "title", "data"]
    assert row.as_dict() == {"id": 1, "title": "first", "data": None}
    assert len(row) == 3 and list(row) == [1, "first", None]
    row_id, title, _ = row
    assert (row_id, title) == (1, "first")
    assert row == (1, "first", None) and "first" in row


def test_row_unknown_column_names_the_columns() -> None:
    with pytest.raises(KeyError, match="id, title, data"):
        make_result().rows[0]["missing"]


def test_row_as_dict_is_a_fresh_dict() -> None:
    row = make_result().rows[0]
    copy = row.as_dict()
    copy["title"] = "changed"
    assert row["title"] == "first"


def test_duplicate_column_names_refer_to_the_first() -> None:
    row = Row(["id", "id"], [1, 2])
    assert row["id"] == 1 and row[1] == 2 and row.as_dict() == {"id": 1}


def test_result_set_helpers() -> None:
    result = make_result()
    assert result.columns == ["id", "title", "data"]
    assert len(result) == 2 and [r["id"] for r in result] == [1, 2]
    first = result.first()
    assert first is not None and first["title"] == "first"
    assert result.scalar() == 1 and result[1]["data"] == b"x"
    assert result.as_dicts()[1] == {"id": 2, "title": "second", "data": b"x"}
    empty = build_result(QueryResult([], []))
    assert empty.first() is None and empty.scalar() is None and len(empty) == 0
    assert empty.rows_affected == 0 and empty.last_insert_rowid is None


# --- statement kinds (what decides rows_affected) -------------------------------------


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT 1", "SELECT"),
        ("  insert into t values (1)", "INSERT"),
        ("-- a comment\n/* another */ UPDATE t SET x = 1", "UPDATE"),
        ("WITH old AS (SELECT id FROM t) DELETE FROM t WHERE id IN old", "DELETE"),
        ("WITH RECURSIVE c(x) AS (SELECT 1 UNION SELECT x+1 FROM c) SELECT x FROM c", "SELECT"),
        ("WITH x AS (DELETE FROM t RETURNING 1) SELECT 1", "SELECT"),
        ("REPLACE INTO t VALUES (1)", "REPLACE"),
        ("INSERT INTO t VALUES ('it''s -- not a comment')", "INSERT"),
        ("EXPLAIN DELETE FROM t", "EXPLAIN"),
        ('CREATE TABLE "insert" (x)', "CREATE"),
        ("", ""),
        ("/* unterminated", ""),
    ],
)
def test_statement_kind(sql: str, kind: str) -> None:
    assert statement_kind(sql) == kind


# --- the Connection wrapper over fake bindings -------------------------------------------


def test_execute_converts_parameters_and_rows(bindings: fakes.Bindings) -> None:
    query = QueryResult(["n", "b"], [RowResult([Value_Integer(5), Value_Integer(1)])])
    bindings.connection = fakes.FakeConnection("default", {"SELECT ?, ?": query})
    db = turso.connect()
    result = db.execute("SELECT ?, ?", [5, True])
    assert bindings.connection.executed == [("SELECT ?, ?", [Value_Integer(5), Value_Integer(1)])]
    assert result.rows[0].as_dict() == {"n": 5, "b": 1}
    db.execute("SELECT 1", (None, 1.5, "s", b"b"))
    assert bindings.connection.executed[-1][1] == [
        Value_Null(),
        Value_Real(1.5),
        Value_Text("s"),
        Value_Blob(b"b"),
    ]


def test_rows_affected_only_for_writes(bindings: fakes.Bindings) -> None:
    conn = bindings.connection = fakes.FakeConnection("default", changes_value=3, rowid_value=9)
    db = turso.connect()
    update = db.execute("UPDATE t SET x = 1")
    assert (update.rows_affected, update.last_insert_rowid) == (3, None)
    # changes() still says 3 after a SELECT; the result must not.
    select = db.execute("SELECT * FROM t")
    assert (select.rows_affected, select.last_insert_rowid) == (0, None)
    insert = db.execute("INSERT INTO t VALUES (1)")
    assert (insert.rows_affected, insert.last_insert_rowid) == (3, 9)
    conn.changes_value = 0
    ignored = db.execute("INSERT OR IGNORE INTO t VALUES (1)")
    assert (ignored.rows_affected, ignored.last_insert_rowid) == (0, None)


@pytest.mark.parametrize(
    ("error", "exc_type", "message"),
    [
        ("NoSuchDatabase", NoSuchDatabaseError, "no database labelled 'orders'"),
        ("AccessDenied", DatabaseAccessDeniedError, "may not use database 'orders'"),
    ],
)
def test_connect_errors(
    bindings: fakes.Bindings, error: str, exc_type: type[DatabaseError], message: str
) -> None:
    bindings.open_error = fakes.SQL_ERRORS[f"Error_{error}"]()
    with pytest.raises(exc_type, match=message):
        turso.connect("orders")


@pytest.mark.parametrize(
    ("error", "exc_type"),
    [("InvalidConnection", InvalidConnectionError), ("DatabaseFull", DatabaseFullError)],
)
def test_execute_errors_are_typed(
    bindings: fakes.Bindings, error: str, exc_type: type[DatabaseError]
) -> None:
    bad = fakes.SQL_ERRORS[f"Error_{error}"]()
    bindings.connection = fakes.FakeConnection("default", {"INSERT INTO t VALUES (1)": bad})
    with pytest.raises(exc_type) as info:
        turso.connect().execute("INSERT INTO t VALUES (1)")
    assert isinstance(info.value, DatabaseError)


def test_io_errors_keep_sqlites_message_verbatim(bindings: fakes.Bindings) -> None:
    message = "constraint failed: UNIQUE constraint failed: users.email"
    sql = "INSERT INTO users (email) VALUES (?)"
    bindings.connection = fakes.FakeConnection(
        "default", {sql: fakes.SQL_ERRORS["Error_Io"](message)}
    )
    with pytest.raises(DatabaseError) as info:
        turso.connect().execute(sql, ["a@b.c"])
    assert type(info.value) is DatabaseError
    assert info.value.message == message and str(info.value) == message
    assert info.value.sql == sql


def test_batch_commits_all(bindings: fakes.Bindings) -> None:
    conn = bindings.connection = fakes.FakeConnection("default", changes_value=1, rowid_value=4)
    results = turso.connect().batch(["DELETE FROM t", ("INSERT INTO t VALUES (?)", [True])])
    assert [s for s, _ in conn.executed] == [
        "BEGIN",
        "DELETE FROM t",
        "INSERT INTO t VALUES (?)",
        "COMMIT",
    ]
    assert [r.last_insert_rowid for r in results] == [None, 4]


def test_batch_rolls_back_and_reraises(bindings: fakes.Bindings) -> None:
    failing = "INSERT INTO t VALUES (2)"
    conn = bindings.connection = fakes.FakeConnection(
        "default", {failing: fakes.SQL_ERRORS["Error_Io"]("UNIQUE constraint failed: t.x")}
    )
    with pytest.raises(DatabaseError, match="UNIQUE constraint failed"):
        turso.connect().batch(["INSERT INTO t VALUES (1)", failing, "INSERT INTO t VALUES (3)"])
    assert [s for s, _ in conn.executed] == [
        "BEGIN",
        "INSERT INTO t VALUES (1)",
        failing,
        "ROLLBACK",
    ]


def test_batch_checks_every_item_before_beginning(bindings: fakes.Bindings) -> None:
    conn = bindings.connection = fakes.FakeConnection("default")
    db = turso.connect()
    with pytest.raises(TypeError, match="parameter 1 has unsupported type"):
        db.batch(["DELETE FROM t", ("INSERT INTO t VALUES (?)", [object()])])
    with pytest.raises(TypeError, match="batch item 2"):
        db.batch(["DELETE FROM t", 42])  # type: ignore[list-item]
    assert conn.executed == [] and db.batch([]) == []


def test_transactions_nest_with_savepoints(bindings: fakes.Bindings) -> None:
    conn = bindings.connection = fakes.FakeConnection("default")
    db = turso.connect()
    with db.transaction():
        db.execute("UPDATE a SET x = 1")
        with pytest.raises(RuntimeError), db.transaction():
            db.execute("UPDATE b SET x = 1")
            raise RuntimeError("undo b only")
        assert db.in_transaction
    assert not db.in_transaction
    assert [s for s, _ in conn.executed] == [
        "BEGIN",
        "UPDATE a SET x = 1",
        "SAVEPOINT edge_savepoint_1",
        "UPDATE b SET x = 1",
        "ROLLBACK TO edge_savepoint_1",
        "RELEASE edge_savepoint_1",
        "COMMIT",
    ]


def test_a_failing_rollback_does_not_hide_the_original_error(bindings: fakes.Bindings) -> None:
    conn = bindings.connection = fakes.FakeConnection(
        "default", {"ROLLBACK": fakes.SQL_ERRORS["Error_Io"]("no transaction is active")}
    )
    db = turso.connect()
    with pytest.raises(ValueError, match="original"), db.transaction():
        raise ValueError("original")
    assert [s for s, _ in conn.executed] == ["BEGIN", "ROLLBACK"]


def test_closed_connection(bindings: fakes.Bindings) -> None:
    with turso.connect() as db:
        pass
    assert bindings.connection is not None and bindings.connection.closed
    with pytest.raises(ValueError, match="closed"):
        db.execute("SELECT 1")


def test_sql_must_be_a_string(bindings: fakes.Bindings) -> None:
    sql: Any = b"SELECT 1"
    with pytest.raises(TypeError, match="SQL must be str"):
        turso.connect().execute(sql)
