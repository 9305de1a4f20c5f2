"""`edge push` and `edge up -f REF` against a real OCI registry on loopback.

The registry is the distribution project's (tools/install-registry.sh installs
it; these tests skip without it), started per test with its own storage. What
is pushed is the componentize-py build of tests/apps/kvprobe and examples/todo.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runtime.app.manifest import load
from runtime.deploy.oci import artifact_digest, pull, push
from runtime.deploy.oci_package import package
from runtime.errors import EdgeError

from .edgeup import ROOT, EdgeUp
from .registry import LoopbackRegistry, registry_binary

pytestmark = pytest.mark.e2e


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[LoopbackRegistry]:
    binary = registry_binary()
    if binary is None:
        pytest.skip("no docker-registry on PATH (tools/install-registry.sh installs it)")
    server = LoopbackRegistry(binary, tmp_path / "registry")
    server.start()
    yield server
    server.stop()


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_pulled_wasm_is_the_built_one(
    built: dict[str, Path], registry: LoopbackRegistry, tmp_path: Path
) -> None:
    manifest = load(built["kvprobe"])
    pushed = push(manifest, f"{registry.address}/kvprobe:v1")
    digest = artifact_digest(manifest)
    assert pushed == f"{registry.address}/kvprobe:v1@{digest}"

    pulled = pull(f"{registry.address}/kvprobe:v1", tmp_path / "cache")
    assert pulled.parent == tmp_path / "cache" / "apps" / digest.removeprefix("sha256:")
    app = load(pulled)
    built_wasm = manifest.components["kvprobe"].source
    pulled_wasm = app.components["kvprobe"].source
    assert pulled_wasm.parent == pulled.parent
    assert sha256(pulled_wasm) == sha256(built_wasm)
    assert pulled_wasm.read_bytes() == built_wasm.read_bytes()
    assert app.routes() == manifest.routes()
    assert app.components["kvprobe"].key_value_stores == ("default",)
    # The locked app the registry holds is the one edge made.
    assert json.loads((pulled.parent / "spin.lock").read_bytes()) == package(manifest).locked_app


def test_the_digest_is_stable_across_pushes(
    built: dict[str, Path], registry: LoopbackRegistry
) -> None:
    manifest = load(built["kvprobe"])
    first = push(manifest, f"{registry.address}/kvprobe:v1")
    uploads = registry.requests("PUT", r"/blobs/uploads/")
    assert uploads == 3  # the wasm, the locked app, the config
    again = push(load(built["kvprobe"]), f"{registry.address}/kvprobe:v1")
    other_tag = push(manifest, f"{registry.address}/kvprobe:v2")
    assert first.partition("@")[2] == again.partition("@")[2] == other_tag.partition("@")[2]
    assert registry.requests("PUT", r"/blobs/uploads/") == uploads  # all already there
    # The registry hands out exactly the bytes that were hashed.
    answer = httpx.get(
        f"http://{registry.address}/v2/kvprobe/manifests/v2",
        headers={"accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert "sha256:" + hashlib.sha256(answer.content).hexdigest() == artifact_digest(manifest)
    assert answer.headers["docker-content-digest"] == artifact_digest(manifest)


def test_a_pulled_digest_needs_no_registry(
    built: dict[str, Path], registry: LoopbackRegistry, tmp_path: Path
) -> None:
    pushed = push(load(built["kvprobe"]), f"{registry.address}/kvprobe:v1")
    by_digest = f"{registry.address}/kvprobe@{pushed.partition('@')[2]}"
    first = pull(by_digest, tmp_path / "cache")
    blob_gets = registry.requests("GET", r"/blobs/sha256:")
    assert blob_gets == 2  # the wasm and the locked app
    registry.stop()
    assert pull(by_digest, tmp_path / "cache") == first
    assert pull(pushed, tmp_path / "cache") == first  # tag and digest: the digest wins
    # A tag must be asked for, and an unreachable registry says so at once.
    with pytest.raises(EdgeError, match=f"cannot reach the registry at http://{registry.address}"):
        pull(f"{registry.address}/kvprobe:v1", tmp_path / "cache")


def test_a_tag_that_moved_is_pulled_again(
    built: dict[str, Path], registry: LoopbackRegistry, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    ref = f"{registry.address}/app:v1"
    push(load(built["todo"]), ref)
    todo_app = pull(ref, cache)
    blob_gets = registry.requests("GET", r"/blobs/sha256:")
    manifest_gets = registry.requests("GET", r"/manifests/v1$")
    assert pull(ref, cache) == todo_app  # the tag still names it: one manifest request
    assert registry.requests("GET", r"/blobs/sha256:") == blob_gets
    assert registry.requests("GET", r"/manifests/v1$") == manifest_gets + 1

    push(load(built["kvprobe"]), ref)
    kvprobe_app = pull(ref, cache)
    assert kvprobe_app != todo_app
    assert load(kvprobe_app).name == "kvprobe"
    assert sha256(load(kvprobe_app).components["kvprobe"].source) == sha256(
        load(built["kvprobe"]).components["kvprobe"].source
    )
    assert load(todo_app).name == "todo"  # the earlier digest stays cached


def test_edge_push_builds_and_prints_the_digest(
    built: dict[str, Path], registry: LoopbackRegistry
) -> None:
    ref = f"{registry.address}/kvprobe:cli"
    done = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "push", "-f", str(built["kvprobe"]), ref],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kvprobe is up to date" in done.stderr
    assert done.stdout == f"{ref}@{artifact_digest(load(built['kvprobe']))}\n"


def _exchange(http: httpx.Client) -> list[tuple[int, str, bytes]]:
    answers = []
    for method, path, body in [
        ("GET", "/kv", None),
        ("PUT", "/kv/greeting", b"hello \x00\xff bytes"),
        ("GET", "/kv/greeting", None),
        ("POST", "/kv/seq/item", b"first"),
        ("POST", "/kv/seq/item", b"second"),
        ("GET", "/kv", None),
        ("DELETE", "/kv/greeting", None),
        ("GET", "/kv/greeting", None),
        ("GET", "/elsewhere", None),
    ]:
        response = http.request(method, path, content=body)
        answers.append(
            (response.status_code, response.headers.get("content-type", ""), response.content)
        )
    return answers


def test_edge_up_of_a_reference_serves_what_the_local_app_serves(
    built: dict[str, Path], registry: LoopbackRegistry, tmp_path: Path, launched: list[EdgeUp]
) -> None:
    ref = f"{registry.address}/kvprobe:v1"
    push(load(built["kvprobe"]), ref)
    local = EdgeUp(built["kvprobe"], tmp_path / "local", "--workers", "1", "--regions", "us-east")
    launched.append(local)
    cache = tmp_path / "edge-cache"  # the pulled app and its compiled code
    remote = EdgeUp(
        ref,
        tmp_path / "remote",
        "--workers",
        "1",
        "--regions",
        "us-east",
        env={"EDGE_CACHE_DIR": str(cache)},
    )
    launched.append(remote)
    with httpx.Client(base_url=local.url) as a, httpx.Client(base_url=remote.url) as b:
        expected = _exchange(a)
        assert expected[2] == (200, "application/octet-stream", b"hello \x00\xff bytes")
        assert _exchange(b) == expected
    assert f"pulled {ref}" in remote.output()
    # What edge up ran is the pushed blob, byte for byte.
    pulled = (
        cache / "oci" / "apps" / artifact_digest(load(built["kvprobe"])).removeprefix("sha256:")
    )
    assert sha256(pulled / "kvprobe.wasm") == sha256(
        load(built["kvprobe"]).components["kvprobe"].source
    )
