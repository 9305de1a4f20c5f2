"""`edge deploy` in process, on a tiny WAT component: the plan, the change report,
what is written where, and what stops it before anything is written."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
import wasmtime

from runtime.deploy.check import ContractError
from runtime.deploy.kubectl import KubectlError
from runtime.deploy.run import DeployOptions, deploy, parse_target
from runtime.errors import EdgeError

from .helpers import API_KEY, DEPLOY, DIGEST, ENV, IMAGE, KV_PASSWORD, MANIFEST, TOKEN

# Imports only Spin interfaces and exports the HTTP handler: what Spin runs.
COMPONENT = """(component
  (import "wasi:cli/environment@0.2.3" (instance $env))
  (instance $h)
  (export "wasi:http/incoming-handler@0.2.0" (instance $h))
)"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    root.mkdir()
    (root / "notes.wasm").write_bytes(wasmtime.wat2wasm(COMPONENT))
    (root / "spin.toml").write_text(MANIFEST)
    (root / "edge-deploy.toml").write_text(DEPLOY)
    return root


def run(app: Path, *, env: dict[str, str] = ENV, **options) -> tuple[int, list[str], list[str]]:  # type: ignore[no-untyped-def]
    out: list[str] = []
    report: list[str] = []
    defaults = dict(
        manifest_path=app / "spin.toml",
        to=["kubernetes"],
        image=IMAGE,
        state_dir=app / ".edge",
        cache_dir=app.parent / "cache",
        env=env,
        out=out.append,
        report=report.append,
    )
    code = deploy(DeployOptions(**{**defaults, **options}))
    return code, out, report


def test_plan_says_what_where_and_which_secrets(app: Path) -> None:
    code, out, _ = run(app, plan_only=True)
    assert code == 0
    text = "\n".join(out)
    wasm = hashlib.sha256((app / "notes.wasm").read_bytes()).hexdigest()
    assert f"  image      {IMAGE}" in out
    assert f"  digest     {DIGEST}" in out
    assert f"  component  notes: notes.wasm sha256:{wasm}" in out
    assert "Spin check passed" in text
    assert "target: Kubernetes (SpinKube), 3 region(s), edge-deploy.toml" in out
    assert "  us-east: context gke-us-east, namespace edge, SpinApp notes, replicas 3" in out
    assert any(
        line.startswith("  eu-west: ") and "autoscaling 2..10 at 70% CPU" in line for line in out
    )
    assert "SQL databases (primary region: us-east):" in out
    assert "      us-east: primary https://notes-acme.turso.io" in out
    assert "      eu-west: replica https://notes-acme-eu-west.turso.io" in out
    assert any(line.startswith("      ap-south: primary's URL") for line in out)
    assert (
        "  default: libSQL, token from EDGE_SQL_TOKEN_DEFAULT (set), in each region's Secret" in out
    )
    assert "  eu-west: greeting = 'bonjour' (edge-deploy.toml [regions.eu-west.variables])" in out
    assert any(
        "api_key: secret, from SPIN_VARIABLE_API_KEY (set) -> Secret notes-variables" in line
        for line in out
    )
    assert "no earlier deploy recorded here: everything is new" in text
    for secret in (TOKEN, API_KEY, KV_PASSWORD):
        assert secret not in text
    assert not (app / ".edge").exists()  # a plan writes nothing


def test_writes_each_region_and_then_reports_changes(app: Path) -> None:
    code, _, report = run(app)
    assert code == 0
    for region in ("us-east", "eu-west", "ap-south"):
        folder = app / ".edge" / "deploy" / region
        assert (folder / "spinapp.yaml").is_file()
        assert (folder / "secrets.yaml").stat().st_mode & 0o777 == 0o600
        assert TOKEN in (folder / "secrets.yaml").read_text()
        assert TOKEN not in (folder / "spinapp.yaml").read_text()
    record = app / ".edge" / "deploy" / "last-kubernetes.json"
    assert record.is_file() and TOKEN not in record.read_text()
    assert any(
        "apply with: kubectl --context gke-eu-west --namespace edge apply -f" in r for r in report
    )

    (app / "edge-deploy.toml").write_text(DEPLOY.replace("replicas = 3", "replicas = 4"))
    code, out, _ = run(app, plan_only=True, regions=["us-east"])
    assert code == 0
    start = out.index(f"changes since the last deploy ({record}):")
    assert out[start + 1 :] == [
        "  us-east: SpinApp notes:",
        "      ~ spec.replicas: 3 -> 4",
    ]


def test_no_image_is_said_plainly(app: Path) -> None:
    with pytest.raises(EdgeError, match="no image for region 'us-east': give --image"):
        run(app, image=None, plan_only=True)


def test_missing_secrets_stop_it_before_anything_is_written(app: Path) -> None:
    with pytest.raises(EdgeError) as info:
        run(app, env={})
    message = str(info.value)
    assert "no token for SQL database 'default': set EDGE_SQL_TOKEN_DEFAULT" in message
    assert "secret variable 'api_key' is required: set SPIN_VARIABLE_API_KEY" in message
    assert not (app / ".edge").exists()


def test_a_component_that_spin_would_refuse_is_refused(app: Path) -> None:
    evil = '(component (import "example:evil/thing" (instance $t (export "run" (func)))))'
    (app / "notes.wasm").write_bytes(wasmtime.wat2wasm(evil))
    with pytest.raises(ContractError) as info:
        run(app, plan_only=True)
    assert "imports example:evil/thing, which Spin's platform does not provide" in str(info.value)
    assert "exports no wasi:http/incoming-handler@0.2.x" in str(info.value)


def test_secrets_are_not_written_where_git_would_take_them(app: Path) -> None:
    subprocess.run(["git", "init", "-q", str(app)], check=True)
    with pytest.raises(EdgeError, match="in a folder that git does not ignore"):
        run(app, out_dir=app / "k8s")
    assert not (app / "k8s" / "us-east" / "secrets.yaml").exists()
    (app / ".gitignore").write_text("k8s/\n")
    assert run(app, out_dir=app / "k8s")[0] == 0


@pytest.mark.skipif(not os.access("/usr/bin/kubectl", os.X_OK), reason="needs /usr/bin/kubectl")
def test_apply_without_a_cluster_fails_and_writes_no_secret(
    app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(app / "none"))
    with pytest.raises(KubectlError, match='context "gke-us-east" does not exist'):
        run(app, apply=True, kubectl="/usr/bin/kubectl")
    assert not list((app.parent).rglob("secrets.yaml"))
    assert not (app / ".edge" / "deploy" / "last-kubernetes.json").exists()


def test_registry_push_goes_through_edge_push(app: Path) -> None:
    try:
        import runtime.deploy.oci  # noqa: F401
    except ImportError:
        with pytest.raises(EdgeError, match="--image REF@sha256:<digest>"):
            run(app, image=None, registry="ghcr.io/acme/notes:v1")
    else:
        pytest.skip("edge's OCI push is installed: tests/e2e/test_deploy.py pushes for real")
    code, out, _ = run(app, image=None, registry="ghcr.io/acme/notes:v1", plan_only=True)
    assert code == 0
    assert any("ghcr.io/acme/notes:v1 (to be pushed first" in line for line in out)


@pytest.mark.parametrize(
    ("words", "kind", "plugin"),
    [
        (["kubernetes"], "kubernetes", None),
        (["spin-cloud"], "spin-cloud", "cloud"),
        (["akamai"], "akamai", "aka"),
        (["plugin", "fastly"], "plugin", "fastly"),
    ],
)
def test_targets(words: list[str], kind: str, plugin: str | None) -> None:
    target = parse_target(words, None)
    assert (target.kind, target.plugin) == (kind, plugin)


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (None, "say where to deploy"),
        (["heroku"], "unknown target 'heroku'"),
        (["plugin"], "--to plugin needs the plugin's name"),
        (["akamai", "x"], "--to akamai takes no name"),
    ],
)
def test_bad_targets(words: list[str] | None, message: str) -> None:
    with pytest.raises(EdgeError, match=message):
        parse_target(words, None)
