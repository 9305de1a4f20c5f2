"""Property tests: the stores agree with simple models for any input."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.stores import KVStore, SqlDatabase, SqlValue

# A few short keys make sets and deletes collide often; the rest explore Unicode.
keys = st.one_of(st.sampled_from(["a", "b", "c", "\u00e9", "\U0001f600"]), st.text(max_size=20))
values = st.binary(max_size=64)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("set"), keys, values),
        st.tuples(st.just("delete"), keys, st.none()),
    ),
    max_size=40,
)


@settings(max_examples=75, deadline=None)
@given(ops)
def test_kv_matches_a_dict(operations: list[tuple[str, str, bytes | None]]) -> None:
    model: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kv.sqlite"
        with KVStore(path) as store:
            for op, key, value in operations:
                if op == "set":
                    assert value is not None
                    store.set(key, value)
                    model[key] = value
                else:
                    store.delete(key)
                    model.pop(key, None)
                assert store.get(key) == model.get(key)
            assert store.keys() == sorted(model)
            for key in {k for _, k, _ in operations}:
                assert store.get(key) == model.get(key)
                assert store.exists(key) == (key in model)
            assert store.stats().keys == len(model)
            assert store.stats().value_bytes == sum(len(v) for v in model.values())
        with KVStore(path) as reopened:  # and the same after a restart
            live = reopened.keys()
            assert {k: reopened.get(k) for k in live} == model


sql_values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),  # SQLite stores NaN as NULL
    st.text(),
    st.binary(),
)


def _same(a: SqlValue, b: SqlValue) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return type(a) is type(b) and a == b


@pytest.fixture(scope="module")
def values_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlDatabase]:
    # Module-scoped: one file for all examples (hypothesis reruns the test body).
    with SqlDatabase(tmp_path_factory.mktemp("sql") / "values.sqlite") as db:
        db.execute("CREATE TABLE v (id INTEGER PRIMARY KEY, x)")  # no affinity: no coercion
        yield db


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(row=st.lists(sql_values, min_size=1, max_size=8))
def test_sql_values_round_trip(values_db: SqlDatabase, row: list[SqlValue]) -> None:
    with values_db.connect() as conn:
        echoed = conn.execute("SELECT " + ", ".join("?" * len(row)), row).rows
        assert len(echoed) == 1 and all(_same(a, b) for a, b in zip(echoed[0], row, strict=True))
        ids = []
        for value in row:
            ids.append(conn.execute("INSERT INTO v (x) VALUES (?)", [value]).last_insert_rowid)
        marks = ", ".join("?" * len(ids))
        stored = conn.execute(f"SELECT x FROM v WHERE id IN ({marks}) ORDER BY id", ids).rows
        assert all(_same(a, b) for (a,), b in zip(stored, row, strict=True))
