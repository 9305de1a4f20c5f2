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

import json
import os
import random
import selectors
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from runtime.app.manifest import load
from runtime.app.variables import VariableResolver
from runtime.stores import MAX_KEY_BYTES, MAX_VALUE_BYTES

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
JCO = NODE_MODULES / "@bytecodealliance" / "jco" / "dist" / "jco.js"
PREVIEW2_SHIM = NODE_MODULES / "@bytecodealliance" / "preview2-shim" / "package.json"
INSTALL_HINT = "run tools/install-node-tools.sh"
MIN_NODE = 20

# The component's non-WASI imports (as jco names them, without the version),
# each served by a module in host/.
HOST_MODULES = {
    "fermyon:spin/key-value": "key-value.js",
    "fermyon:spin/variables": "variables.js",
    "spin:sqlite/sqlite": "sqlite.js",
}
TRANSPILE_TIMEOUT = 300.0
START_TIMEOUT = 120.0
GENERIC_500 = {"error": "internal server error"}


@dataclass
class JcoServer:
    """One Node process serving one component's incoming-handler on loopback."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60.0)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 10.0) -> str:
        """The server's stderr once it contains `text` (the guest's writes arrive async)."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.stderr()
            if text in log or time.monotonic() > deadline:
                return log
            time.sleep(0.05)


def find_node() -> str:
    """The `node` to run jco with, or skip with the reason."""
    node = shutil.which("node")
    if node is None:
        pytest.skip(f"node not found: these tests need Node >= {MIN_NODE} ({INSTALL_HINT})")
    done = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=60)
    version = done.stdout.strip()
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        pytest.skip(f"could not tell the version of {node} ({version or done.stderr.strip()!r})")
    if major < MIN_NODE:
        pytest.skip(f"{node} is {version}; these tests need Node >= {MIN_NODE}")
    if not (JCO.is_file() and PREVIEW2_SHIM.is_file()):
        pytest.skip(f"jco and preview2-shim are not installed in {NODE_MODULES}: {INSTALL_HINT}")
    return node


def transpile(node: str, wasm: Path, name: str, out: Path) -> None:
    """`jco transpile` the component into `out`, ready to import from Node."""
    maps = [f"{spec}={HERE / 'host' / module}" for spec, module in HOST_MODULES.items()]
    command = [node, str(JCO), "transpile", str(wasm), "-o", str(out), "--name", name]
    command += ["--no-typescript", "--quiet", "--map", *maps]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TRANSPILE_TIMEOUT)
    if done.returncode != 0:
        pytest.fail(f"jco transpile {wasm} failed:\n{done.stdout}\n{done.stderr}")
    # The output is ES modules that import @bytecodealliance/preview2-shim.
    (out / "package.json").write_text('{"type": "module"}\n')
    (out / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)


def host_config(manifest_path: Path, component_id: str) -> dict[str, object]:
    """What Spin would grant the component, for the JS stand-ins (EDGE_SPIN_HOST)."""
    manifest = load(manifest_path)
    spec = manifest.components[component_id]
    resolver = VariableResolver(manifest, {}, dotenv_path=None)
    return {
        "key_value_stores": list(spec.key_value_stores),
        "variables": resolver.resolve_all(component_id),
        "max_key_bytes": MAX_KEY_BYTES,
        "max_value_bytes": MAX_VALUE_BYTES,
    }


@contextmanager
def serve(node: str, manifest_path: Path, workdir: Path) -> Iterator[JcoServer]:
    """Transpile the manifest's component once and serve it from one Node process."""
    manifest = load(manifest_path)
    assert len(manifest.components) == 1, f"{manifest_path}: expected one component"
    component_id, spec = next(iter(manifest.components.items()))
    out = workdir / "js"
    transpile(node, spec.source, component_id, out)

    log = workdir / "server.log"
    env = dict(os.environ, EDGE_SPIN_HOST=json.dumps(host_config(manifest_path, component_id)))
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [node, str(HERE / "serve.js"), str(out / f"{component_id}.js"), "127.0.0.1"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=HERE,
            env=env,
        )
    try:
        line = _first_line(process, START_TIMEOUT)
        if not line.startswith("listening "):
            pytest.fail(
                f"serving {spec.source} under jco failed (exit {process.poll()}): "
                f"{line!r}\n{log.read_text(errors='replace')}"
            )
        yield JcoServer(f"http://{line.split()[1]}", process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _first_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    """The first line the process prints, "" if it exits or says nothing in time."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return process.stdout.readline().decode(errors="replace").strip()


# --- fixtures: one transpile and one server per component and session ---------


@pytest.fixture(scope="session")
def node() -> str:
    return find_node()


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
