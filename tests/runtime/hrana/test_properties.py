"""Property: any SQLite value comes back exactly through execute, over HTTP and WebSocket."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import libsql_client
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.hrana import create_hrana_app
from runtime.stores import SqlDatabase

from .helpers import running

sql_values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),  # the client refuses non-finite floats
    st.text(),
    st.binary(),
)


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[libsql_client.ClientSync]]:
    db = SqlDatabase(Path(tmp_path_factory.mktemp("hrana")) / "p.sqlite")
    db.execute("CREATE TABLE kept (v)")
    with running(create_hrana_app(db.connect)) as address:
        opened = [libsql_client.create_client_sync(f"{s}://{address}") for s in ("http", "ws")]
        yield opened
        for client in opened:
            client.close()
    db.close()


def identical(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return type(a) is type(b) and a == b


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(sql_values, min_size=1, max_size=5))
def test_values_round_trip(clients: list[libsql_client.ClientSync], values: list[object]) -> None:
    marks = ", ".join("?" for _ in values)
    for client in clients:
        (row,) = client.execute(f"SELECT {marks}", values).rows
        assert all(identical(a, b) for a, b in zip(row.astuple(), values, strict=True))
        named = {f"p{i}": v for i, v in enumerate(values)}
        (row,) = client.execute(f"SELECT {', '.join(':' + k for k in named)}", named).rows
        assert all(identical(a, b) for a, b in zip(row.astuple(), values, strict=True))


@settings(max_examples=50, deadline=None)
@given(value=sql_values)
def test_values_round_trip_through_a_table(
    clients: list[libsql_client.ClientSync], value: object
) -> None:
    for client in clients:
        rowid = client.execute("INSERT INTO kept (v) VALUES (?)", [value]).last_insert_rowid
        (row,) = client.execute("SELECT v FROM kept WHERE rowid = ?", [rowid]).rows
        assert identical(row[0], value)
