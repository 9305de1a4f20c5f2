"""The pinned libsql-client against our server, over http:// and ws://."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator

import libsql_client
import pytest
from libsql_client import LibsqlError

from runtime.stores import SqlDatabase

from .helpers import wait_until_writable

SCHEMES = ["http", "ws"]

VALUES = [
    0,
    1,
    -1,
    2**31,
    2**53 + 1,  # not a double: must not pass through a float anywhere
    2**63 - 1,
    -(2**63),
    0.0,
    -0.0,
    0.1,
    1.5e308,
    5e-324,
    -2.5,
    "",
    "plain",
    "ünïcödé ✓ 🙂 中文",
    "nul\x00inside",
    "'; DROP TABLE t; --",
    b"",
    b"\x00",
    b"\x00\x01\x02\xff\x00",
    bytes(range(256)),
    None,
]


@pytest.fixture(params=SCHEMES)
def client(request: pytest.FixtureRequest, address: str) -> Iterator[libsql_client.ClientSync]:
    with libsql_client.create_client_sync(f"{request.param}://{address}") as c:
        yield c


@pytest.fixture
def ws_client(address: str) -> Iterator[libsql_client.ClientSync]:
    with libsql_client.create_client_sync(f"ws://{address}") as c:
        yield c


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("v", VALUES, ids=repr)
def test_every_value_type_round_trips_exactly(client: libsql_client.ClientSync, v: object) -> None:
    (row,) = client.execute("SELECT ?, typeof(?)", [v, v]).rows
    assert same(row[0], v), (row[0], v)
    expected = {int: "integer", float: "real", str: "text", bytes: "blob", type(None): "null"}
    assert row[1] == expected[type(v)]


def test_values_survive_a_table(client: libsql_client.ClientSync) -> None:
    for i, v in enumerate(VALUES):
        client.execute("INSERT INTO t (id, v) VALUES (?, ?)", [i + 1, v])
    stored = [row[0] for row in client.execute("SELECT v FROM t ORDER BY id").rows]
    assert all(same(a, b) for a, b in zip(stored, VALUES, strict=True))


def test_out_of_range_integers_are_refused_not_wrapped(client: libsql_client.ClientSync) -> None:
    # The client itself refuses them; SQLite turns an overflowing literal into a REAL.
    with pytest.raises(OverflowError):
        client.execute("SELECT ?", [2**63])
    (row,) = client.execute("SELECT 9223372036854775807, -9223372036854775808").rows
    assert row.astuple() == (2**63 - 1, -(2**63))


def test_named_arguments_with_every_prefix(client: libsql_client.ClientSync) -> None:
    rs = client.execute("SELECT :a, @b, $c, :a", {"a": 1, "b": "two", "c": b"3"})
    assert rs.rows[0].astuple() == (1, "two", b"3", 1)
    rs = client.execute("SELECT :a", {":a": 7})
    assert rs.rows[0][0] == 7


def test_result_shape(client: libsql_client.ClientSync) -> None:
    rs = client.execute("INSERT INTO t (v) VALUES ('a'), ('b')")
    assert rs.rows_affected == 2
    assert rs.last_insert_rowid == 2
    rs = client.execute("SELECT id, v AS value FROM t ORDER BY id")
    assert rs.columns == ("id", "value")
    assert [r.asdict() for r in rs.rows] == [{"id": 1, "value": "a"}, {"id": 2, "value": "b"}]


def test_batch_is_atomic(client: libsql_client.ClientSync) -> None:
    results = client.batch(
        [
            "INSERT INTO t (u) VALUES ('x')",
            ("INSERT INTO t (u) VALUES (?)", ["y"]),
            "SELECT u FROM t",
        ]
    )
    assert [r.rows_affected for r in results[:2]] == [1, 1]
    assert [row[0] for row in results[2].rows] == ["x", "y"]
    with pytest.raises(LibsqlError) as failed:
        client.batch(["INSERT INTO t (u) VALUES ('z')", "INSERT INTO t (u) VALUES ('x')"])
    assert failed.value.code == "SQLITE_CONSTRAINT_UNIQUE"
    # 'z' was rolled back with the failed batch.
    assert client.execute("SELECT count(*) FROM t").rows[0][0] == 2


def test_syntax_error(client: libsql_client.ClientSync) -> None:
    with pytest.raises(LibsqlError) as failed:
        client.execute("SELEC 1")
    assert failed.value.code == "SQLITE_ERROR"
    assert "syntax error" in str(failed.value)
    assert client.execute("SELECT 1").rows[0][0] == 1  # and the client carries on


def test_constraint_violation(client: libsql_client.ClientSync) -> None:
    client.execute("INSERT INTO t (u) VALUES ('same')")
    with pytest.raises(LibsqlError) as failed:
        client.execute("INSERT INTO t (u) VALUES ('same')")
    assert failed.value.code == "SQLITE_CONSTRAINT_UNIQUE"
    assert "UNIQUE constraint failed" in str(failed.value)


def test_several_statements_in_execute_are_refused(client: libsql_client.ClientSync) -> None:
    with pytest.raises(LibsqlError):
        client.execute("INSERT INTO t (v) VALUES (1); INSERT INTO t (v) VALUES (2)")
    assert client.execute("SELECT count(*) FROM t").rows[0][0] == 0


def test_interactive_transaction_commits(
    ws_client: libsql_client.ClientSync, db: SqlDatabase
) -> None:
    with ws_client.transaction() as tx:
        tx.execute("INSERT INTO t (v) VALUES (1)")
        assert tx.execute("SELECT count(*) FROM t").rows[0][0] == 1
        assert db.execute("SELECT count(*) FROM t").rows == [(0,)]  # not yet visible outside
        tx.execute("INSERT INTO t (v) VALUES (2)")
        tx.commit()
    assert db.execute("SELECT count(*) FROM t").rows == [(2,)]


def test_interactive_transaction_rolls_back(
    ws_client: libsql_client.ClientSync, db: SqlDatabase
) -> None:
    with ws_client.transaction() as tx:
        tx.execute("INSERT INTO t (v) VALUES (1)")
        with pytest.raises(LibsqlError):
            tx.execute("INSERT INTO nowhere VALUES (1)")
        tx.rollback()
    assert db.execute("SELECT count(*) FROM t").rows == [(0,)]
    assert ws_client.execute("SELECT count(*) FROM t").rows[0][0] == 0


def test_dropped_connection_mid_transaction_applies_nothing(address: str, db: SqlDatabase) -> None:
    client = libsql_client.create_client_sync(f"ws://{address}")
    tx = client.transaction()
    tx.execute("INSERT INTO t (v) VALUES ('half')")
    tx.execute("UPDATE t SET v = 'changed'")
    client.close()  # the WebSocket goes away with the transaction open
    # The server closes the stream: rolled back, and the write lock is free again.
    wait_until_writable(db)
    assert db.execute("SELECT count(*) FROM t").rows == [(0,)]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_many_concurrent_clients(address: str, db: SqlDatabase, scheme: str) -> None:
    threads, statements = 20, 20
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with libsql_client.create_client_sync(f"{scheme}://{address}") as c:
                for i in range(statements):
                    c.execute("INSERT INTO t (v, u) VALUES (?, ?)", [n, f"{n}-{i}"])
                    assert c.execute("SELECT count(*) FROM t WHERE v = ?", [n]).rows[0][0] == i + 1
        except BaseException as exc:  # reported below, with the thread's own traceback
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert not errors, errors[:3]
    assert db.execute("SELECT count(*), count(DISTINCT u) FROM t").rows == [(400, 400)]
