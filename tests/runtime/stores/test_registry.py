from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.stores import KVStore, LayoutError, SqlDatabase, StateLayout, StoreRegistry


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[StoreRegistry]:
    reg = StoreRegistry(StateLayout(tmp_path), "eu-west")
    yield reg
    reg.close_all()


def test_stores_are_opened_at_their_layout_paths(registry: StoreRegistry, tmp_path: Path) -> None:
    kv = registry.kv("default")
    db = registry.sql("default")
    assert kv.path == tmp_path / "eu-west" / "kv" / "default.sqlite"
    assert db.path == tmp_path / "eu-west" / "sql" / "default.sqlite"
    assert kv.path.exists() and db.path.exists()


def test_same_label_gives_the_same_object(registry: StoreRegistry) -> None:
    assert registry.kv("default") is registry.kv("default")
    assert registry.sql("default") is registry.sql("default")
    assert registry.kv("default") is not registry.kv("sessions")


def test_kv_writes_are_stamped_with_the_region(registry: StoreRegistry) -> None:
    registry.kv("default").set("k", b"v")
    entry = registry.kv("default").entry("k")
    assert entry is not None and entry.origin == "eu-west"


def test_limits_are_passed_to_the_stores(tmp_path: Path) -> None:
    reg = StoreRegistry(StateLayout(tmp_path), "us-east", max_key_bytes=8, max_value_bytes=16)
    try:
        store = reg.kv("default")
        assert (store.max_key_bytes, store.max_value_bytes) == (8, 16)
    finally:
        reg.close_all()


def test_regions_are_kept_apart(tmp_path: Path) -> None:
    layout = StateLayout(tmp_path)
    us, eu = StoreRegistry(layout, "us-east"), StoreRegistry(layout, "eu-west")
    try:
        us.kv("default").set("where", b"us")
        assert eu.kv("default").get("where") is None
        us.sql("default").execute("CREATE TABLE t (a)")
        assert eu.sql("default").execute(
            "SELECT count(*) FROM sqlite_schema WHERE name = 't'"
        ).rows == [(0,)]
    finally:
        us.close_all()
        eu.close_all()


def test_invalid_label_or_region_is_rejected(registry: StoreRegistry, tmp_path: Path) -> None:
    with pytest.raises(LayoutError):
        registry.kv("../escape")
    with pytest.raises(LayoutError):
        registry.sql("a/b")
    with pytest.raises(LayoutError):
        StoreRegistry(StateLayout(tmp_path), "../up")


def test_close_all_closes_and_later_calls_reopen(registry: StoreRegistry) -> None:
    kv, db = registry.kv("default"), registry.sql("default")
    kv.set("k", b"v")
    registry.close_all()
    assert kv.closed and db.closed
    assert registry.open_kv_labels() == [] and registry.open_sql_labels() == []
    again = registry.kv("default")
    assert again is not kv and again.get("k") == b"v"


def test_a_store_closed_by_its_user_is_reopened(registry: StoreRegistry) -> None:
    # Instance teardown may close what a guest left open; the shared store must
    # not stay broken for the next request.
    first = registry.kv("default")
    first.set("k", b"v")
    first.close()
    second = registry.kv("default")
    assert second is not first and second.get("k") == b"v"
    db = registry.sql("default")
    db.close()
    assert registry.sql("default") is not db


def test_open_labels(registry: StoreRegistry) -> None:
    registry.kv("sessions")
    registry.kv("default")
    registry.sql("todos")
    assert registry.open_kv_labels() == ["default", "sessions"]
    assert registry.open_sql_labels() == ["todos"]


def test_concurrent_first_use_opens_one_object(registry: StoreRegistry) -> None:
    barrier = threading.Barrier(16)
    kvs: list[KVStore] = []
    dbs: list[SqlDatabase] = []

    def use() -> None:
        barrier.wait()
        kvs.append(registry.kv("default"))
        dbs.append(registry.sql("default"))

    threads = [threading.Thread(target=use) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(s) for s in kvs}) == 1 and len(kvs) == 16
    assert len({id(d) for d in dbs}) == 1 and len(dbs) == 16
