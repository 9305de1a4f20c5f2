"""Serving a built component's `wasi:http/incoming-handler` under jco + Node.

Shared by the tests of tests/wasi_http: `find_node` finds a usable Node (or
skips the test), and `serve` transpiles one component of a manifest with jco
and serves it from one Node process (serve.js, preview2-shim's HTTP server) on
loopback. Spin's own imports come from the JS stand-ins in host/, configured
from the component's spin.toml entry (`host_config`).
"""

from __future__ import annotations

import json
import os
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

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
JCO = NODE_MODULES / "@bytecodealliance" / "jco" / "dist" / "jco.js"
PREVIEW2_SHIM = NODE_MODULES / "@bytecodealliance" / "preview2-shim" / "package.json"
INSTALL_HINT = "run tools/install-node-tools.sh"
MIN_NODE = 20

# The component's non-WASI imports (as jco names them, without the version),
# each served by a module in host/. The WASI ones, wasi:http/outgoing-handler
# among them, are preview2-shim's.
HOST_MODULES = {
    "fermyon:spin/key-value": "key-value.js",
    "fermyon:spin/variables": "variables.js",
    "spin:sqlite/sqlite": "sqlite.js",
}
TRANSPILE_TIMEOUT = 300.0
START_TIMEOUT = 120.0


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
def serve(
    node: str, manifest_path: Path, workdir: Path, component_id: str | None = None
) -> Iterator[JcoServer]:
    """Transpile one component of the manifest and serve it from one Node process.

    `component_id` may be left out when the manifest has only one component.
    """
    manifest = load(manifest_path)
    if component_id is None:
        assert len(manifest.components) == 1, f"{manifest_path}: name the component to serve"
        component_id = next(iter(manifest.components))
    spec = manifest.components[component_id]
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
