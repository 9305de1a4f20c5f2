"""The explorer's reads of real stores: keys side by side, previews, outboxes, SQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.regions.network import Network
from runtime.serve import explorer_kv
from runtime.serve.explorer_sql import QueryRefused, SqlReader
from runtime.stores import StateLayout, StoreRegistry
from runtime.stores.changes import pack_hlc

REGIONS = ["us-east", "eu-west", "ap-south"]


@pytest.fixture
def registries(tmp_path: Path):
    layout = StateLayout(tmp_path)
    made = {name: StoreRegistry(layout, name) for name in REGIONS}
    yield made
    for registry in made.values():
        registry.close_all()


def test_scan_filters_by_prefix_and_substring_in_key_order(registries) -> None:
    store = registries["us-east"].kv("default")
    for key in ["b:2", "a:1", "a:10", "a%x", "c"]:
        store.set(key, key.encode())
    store.delete("a:10")
    assert [e.key for e in store.scan()] == ["a%x", "a:1", "a:10", "b:2", "c"]
    assert [e.key for e in store.scan("a:")] == ["a:1", "a:10"]  # % is no wildcard
    assert [(e.key, e.tombstone) for e in store.scan("a:", "10")] == [("a:10", True)]
    assert [e.key for e in store.scan("", ":", 2)] == ["a:1", "a:10"]


def test_keys_side_by_side_mark_what_differs(registries) -> None:
    us, eu, ap = (registries[name].kv("default") for name in REGIONS)
    stamp = us.set("same", b"v")
    eu.set("same", b"v", hlc=stamp, origin="us-east")
    ap.set("same", b"v", hlc=stamp, origin="us-east")
    us.set("only-us", b"\xff\x00binary")
    eu.delete("gone")  # a tombstone reads like a key never written
    answer = explorer_kv.list_keys(registries, "default", "", "", 100)
    keys = {k["key"]: k for k in answer["keys"]}
    assert list(keys) == ["gone", "only-us", "same"]
    assert not keys["same"]["differs"] and not keys["gone"]["differs"]
    assert keys["only-us"]["differs"]
    copy = keys["only-us"]["regions"]["us-east"]
    assert copy["state"] == "present" and copy["size"] == 8 and copy["origin"] == "us-east"
    assert copy["preview"] == {"text": None, "hex": "ff0062696e617279", "size": 8, "cut": False}
    assert keys["only-us"]["regions"]["eu-west"] == {"state": "absent"}
    assert keys["gone"]["regions"]["eu-west"]["state"] == "deleted"


def test_the_cut_of_the_union_is_exact(registries) -> None:
    registries["us-east"].kv("default").set("k1", b"1")
    registries["eu-west"].kv("default").set("k0", b"0")
    registries["ap-south"].kv("default").set("k2", b"2")
    answer = explorer_kv.list_keys(registries, "default", "k", "", 2)
    assert [k["key"] for k in answer["keys"]] == ["k0", "k1"] and answer["truncated"]


def test_preview_is_cut_at_256_bytes_and_keeps_whole_characters() -> None:
    value = ("é" * 200).encode()  # 400 bytes: byte 256 falls inside no character
    shown = explorer_kv.preview(value)
    assert shown["size"] == 400 and shown["cut"]
    assert shown["text"] == "é" * 128 and len(shown["hex"]) == 512
    odd = ("a" + "é" * 200).encode()  # byte 256 splits a character
    assert explorer_kv.preview(odd)["text"] == "a" + "é" * 127


def test_pending_lists_each_links_outbox_with_when_it_is_due(registries) -> None:
    network = Network(REGIONS, lag=2.0, jitter=0.0)
    network.partition("ap-south")
    registries["us-east"].kv("default").set("k", b"hello")
    answer = explorer_kv.pending(registries, "default", network, 10)
    links = {(link["from"], link["to"]): link for link in answer["links"]}
    to_eu = links[("us-east", "eu-west")]
    (change,) = to_eu["changes"]
    assert to_eu["backlog"] == 1 and not to_eu["partitioned"]
    assert change["key"] == "k" and change["op"] == "set" and change["preview"]["text"] == "hello"
    assert change["due_at"] == pytest.approx(change["written_at"] + 2.0)
    to_ap = links[("us-east", "ap-south")]
    assert to_ap["partitioned"] and to_ap["changes"][0]["due_at"] is None
    assert links[("eu-west", "us-east")] == {
        "from": "eu-west",
        "to": "us-east",
        "partitioned": False,
        "backlog": 0,
        "changes": [],
    }


def test_read_value_whole_and_checked(registries) -> None:
    registries["eu-west"].kv("default").set("k", b"\x00\x01", hlc=pack_hlc(5000), origin="eu-west")
    value = explorer_kv.read_value(registries, "default", "k", "eu-west")
    assert value["base64"] == "AAE=" and value["written_at"] == 5.0
    with pytest.raises(KeyError, match="unknown region 'mars'"):
        explorer_kv.read_value(registries, "default", "k", "mars")


def test_sql_reads_each_regions_copy_and_refuses_writes(registries) -> None:
    primary = registries["us-east"].sql("default")
    primary.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)")
    primary.execute("INSERT INTO t (b) VALUES (x'00ff'), (NULL)")
    reader = SqlReader(registries, ["default"])
    try:
        answer = reader.query("default", "us-east", "SELECT id, b FROM t ORDER BY id")
        assert answer["columns"] == ["id", "b"]
        assert answer["rows"] == [[1, {"blob": "00ff", "size": 2}], [2, None]]
        # The replica has not been synced: a stale read, not an error of the explorer.
        with pytest.raises(QueryRefused, match="no such table: t"):
            reader.query("default", "eu-west", "SELECT * FROM t")
        for statement in ["DELETE FROM t", "CREATE TABLE u (x)", "ATTACH 'x.db' AS x", "BEGIN"]:
            with pytest.raises(QueryRefused, match="only reads") as refused:
                reader.query("default", "us-east", statement)
            assert refused.value.code == "SQLITE_AUTH"
        assert primary.execute("SELECT count(*) FROM t").rows == [(2,)]
        tables = reader.tables("default")
        assert tables["tables"] == [
            {"name": "t", "rows": {"us-east": 2, "eu-west": None, "ap-south": None}}
        ]
        big = reader.query(
            "default",
            "us-east",
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 600)"
            " SELECT x FROM c",
        )
        assert len(big["rows"]) == 500 and big["truncated"]
    finally:
        reader.close()
