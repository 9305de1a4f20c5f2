"""Spin's entry point, run for real: `wasi:http/incoming-handler` under jco + Node.

The local runtime (wasmtime-py) can only call a component's
`edge:runtime/dispatch` export. Here jco transpiles each built component to
JavaScript, and preview2-shim's HTTP server (the one `jco serve` runs) drives
its `wasi:http/incoming-handler` export: `framework.component.IncomingHandler`
reads the request body from a wasi:io stream and answers through
`response-outparam`, as it does on Spin. Spin's own imports come from the small
JS stand-ins in host/: an in-memory key-value store with the local runtime's
size limits, the component's variables as its spin.toml resolves them, and a
sqlite interface whose every open fails.

Needs Node >= 20 and `tools/install-node-tools.sh` (pinned jco and
preview2-shim in ./node_modules); without them these tests skip.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.stores import MAX_KEY_BYTES, MAX_VALUE_BYTES

from .harness import JcoServer, serve

pytestmark = pytest.mark.e2e

GENERIC_500 = {"error": "internal server error"}


# --- fixtures: one transpile and one server per component and session ---------


@pytest.fixture(scope="session")
def hello(
    node: str, built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JcoServer]:
    with serve(node, built["hello"], tmp_path_factory.mktemp("jco-hello")) as server:
        yield server


@pytest.fixture(scope="session")
def faults(
    node: str, built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JcoServer]:
    with serve(node, built["faults"], tmp_path_factory.mktemp("jco-faults")) as server:
        yield server


# --- the hello example ---------------------------------------------------------


def test_get_with_query_returns_json(hello: JcoServer) -> None:
    with hello.client() as client:
        resp = client.get("/hello", params={"name": "x"})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == {"message": "hello, x"}


def test_binary_body_round_trips(hello: JcoServer) -> None:
    # Over 64 KiB read chunks and 4 KiB write chunks, many times each.
    body = random.Random(20).randbytes(200 * 1024)
    with hello.client() as client:
        resp = client.post(
            "/echo/a/b", content=body, headers={"content-type": "application/x-edge-test"}
        )
    assert resp.status_code == 200
    assert resp.headers["x-echo-path"] == "/a/b"
    assert resp.headers["content-type"] == "application/x-edge-test"
    assert len(resp.content) == len(body)
    assert resp.content == body


def test_empty_body_round_trips(hello: JcoServer) -> None:
    with hello.client() as client:
        resp = client.post("/echo/", content=b"")
    assert resp.status_code == 200
    assert resp.content == b""
    assert resp.headers["x-echo-path"] == "/"


def test_unknown_path_is_404(hello: JcoServer) -> None:
    with hello.client() as client:
        resp = client.get("/nope")
    assert resp.status_code == 404
    assert resp.json() == {"error": "not found"}


def test_wrong_method_is_405_with_allow(hello: JcoServer) -> None:
    with hello.client() as client:
        resp = client.get("/echo/a")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "POST"
    assert resp.json() == {"error": "method not allowed"}


def test_head_has_no_body(hello: JcoServer) -> None:
    with hello.client() as client:
        resp = client.head("/hello")
    assert resp.status_code == 200
    assert resp.content == b""


# --- the faults app: errors, and Spin's imports through host/ ------------------


def test_exception_is_a_generic_500_and_the_server_keeps_serving(faults: JcoServer) -> None:
    with faults.client() as client:
        resp = client.get("/raise")
        assert resp.status_code == 500
        assert resp.json() == GENERIC_500
        assert "secret" not in resp.text
        assert client.get("/ok").json() == {"ok": True, "method": "GET"}
    # The traceback goes to the guest's stderr, which the host passes on.
    assert "RuntimeError: secret internal detail" in faults.wait_for_log("secret internal")


def test_key_value_through_the_host_shim(faults: JcoServer) -> None:
    with faults.client() as client:
        stored = client.post("/kv/big", params={"size": 64})
        assert (stored.status_code, stored.text) == (200, "stored")
        too_big = client.post("/kv/big", params={"size": MAX_VALUE_BYTES + 1})
        assert too_big.status_code == 413
        assert too_big.text.startswith("too large")
        long_key = client.post("/kv/big-key", params={"size": MAX_KEY_BYTES + 1})
        assert long_key.status_code == 413
        denied = client.get("/kv/undeclared")
        assert (denied.status_code, denied.text) == (403, "access-denied")


def test_variables_through_the_host_shim(faults: JcoServer) -> None:
    with faults.client() as client:
        assert client.get("/var/greeting").json() == {"value": "hello"}
        assert client.get("/var/missing").status_code == 500


def test_sqlite_errors_reach_the_app(faults: JcoServer) -> None:
    with faults.client() as client:
        resp = client.post("/sql", json={"sql": "select 1"})
    assert resp.status_code == 400
    assert "no sqlite database" in resp.json()["error"]
