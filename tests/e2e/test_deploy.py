"""`edge deploy` as a user runs it, on a real built component (the faults app).

Kubernetes: the SpinApp and Secrets of three regions written to a folder and
checked against the schema; the database token and the secret variable only in
the Secrets' file, never in another file, the record, stdout or stderr; the
plan, and its change report after a first deploy; --apply failing clearly with
the real kubectl and no cluster. Spin plugins: a `spin` stand-in on PATH (the
only stand-in) records the command line it is given and answers `spin plugins
list` as Spin does; without `spin`, or without the plugin, the error says how
to install it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import wasmtime
import yaml

from runtime.deploy.schema import problems
from tests.runtime.deploy.helpers import (
    API_KEY,
    DEPLOY,
    DIGEST,
    IMAGE,
    KV_PASSWORD,
    MANIFEST,
    TOKEN,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SECRETS = (TOKEN, API_KEY, KV_PASSWORD, "pw-never%2Fin%20a%20file-55")

STANDIN = f"""#!{sys.executable}
# A stand-in for the Spin CLI: records its arguments, answers `spin plugins list`
# with SPIN_STANDIN_PLUGINS, and runs only those plugins.
import json, os, sys
args = sys.argv[1:]
with open(os.environ["SPIN_STANDIN_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
plugins = json.loads(os.environ.get("SPIN_STANDIN_PLUGINS", "[]"))
if args[:2] == ["plugins", "list"]:
    if os.environ.get("SPIN_STANDIN_NO_JSON"):
        print("error: unexpected argument '--format' found", file=sys.stderr)
        sys.exit(2)
    print(json.dumps([{{"name": n, "installed": True, "version": "1.2.3"}} for n in plugins]))
    sys.exit(0)
if args and args[0] not in plugins:
    # What Spin does for a subcommand that is no plugin it has (without a terminal).
    print(f"Error: '{{args[0]}}' is not a known Spin command. See spin --help.", file=sys.stderr)
    sys.exit(2)
print(f"{{args[0]}} {{args[1]}}: deployed (stand-in)")
"""


@pytest.fixture
def app(built: dict[str, Path], tmp_path: Path) -> Path:
    """The three-region app of the deploy tests, on the faults app's built component."""
    root = tmp_path / "app"
    root.mkdir()
    os.symlink(built["faults"].parent / "faults.wasm", root / "notes.wasm")
    (root / "spin.toml").write_text(MANIFEST)
    (root / "edge-deploy.toml").write_text(DEPLOY)
    return root


def edge(app: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EDGE_", "SPIN_VARIABLE_", "KUBECONFIG"))
    }
    base = {
        "EDGE_SQL_TOKEN_DEFAULT": TOKEN,
        "SPIN_VARIABLE_API_KEY": API_KEY,
        "EDGE_KV_PASSWORD_DEFAULT": KV_PASSWORD,
        "KUBECONFIG": str(app / "no-kubeconfig"),
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "500",  # rich wraps stderr at 80 columns otherwise
    }
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", "deploy", *args],
        cwd=app,
        env={**clean, **base, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def files_holding_secrets(folder: Path) -> set[Path]:
    found = set()
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(secret.encode() in data for secret in SECRETS):
                found.add(path.relative_to(folder))
    return found


def test_three_regions_to_kubernetes_manifests(app: Path) -> None:
    done = edge(app, "--to", "kubernetes", "--image", IMAGE)
    assert done.returncode == 0, done.stderr
    assert_no_secret(done.stdout, done.stderr)
    out = app / ".edge" / "deploy"
    assert files_holding_secrets(app.parent) == {
        Path(f"app/.edge/deploy/{r}/secrets.yaml") for r in ("us-east", "eu-west", "ap-south")
    }
    for region in ("us-east", "eu-west", "ap-south"):
        objects = [
            *yaml.safe_load_all((out / region / "secrets.yaml").read_text()),
            *yaml.safe_load_all((out / region / "spinapp.yaml").read_text()),
        ]
        for obj in objects:
            assert problems(obj) == [], obj["kind"]
        kinds = {obj["kind"]: obj for obj in objects}
        spec = kinds["SpinApp"]["spec"]
        assert spec["image"].endswith("@" + DIGEST)
        assert spec["runtimeConfig"]["loadFromSecret"] == "notes-runtime-config"
        assert ("HorizontalPodAutoscaler" in kinds) is (region == "eu-west")
        assert (out / region / "secrets.yaml").stat().st_mode & 0o777 == 0o600
        assert f"apply -f {out.relative_to(app)}/{region}/" in done.stderr


def test_plan_then_changes_after_a_first_deploy(app: Path) -> None:
    plan = edge(app, "--to", "kubernetes", "--image", IMAGE, "--plan")
    assert plan.returncode == 0, plan.stderr
    assert "SQL databases (primary region: us-east):" in plan.stdout
    assert "      eu-west: replica https://notes-acme-eu-west.turso.io" in plan.stdout
    assert "  digest     " + DIGEST in plan.stdout
    assert "Spin check passed" in plan.stdout
    assert "no earlier deploy recorded here" in plan.stdout
    assert_no_secret(plan.stdout, plan.stderr)
    assert not (app / ".edge").exists()

    assert edge(app, "--to", "kubernetes", "--image", IMAGE).returncode == 0
    (app / "edge-deploy.toml").write_text(
        DEPLOY.replace("https://notes-acme-eu-west.turso.io", "https://notes-eu.example.net")
    )
    again = edge(app, "--to", "kubernetes", "--image", IMAGE, "--plan")
    assert again.returncode == 0, again.stderr
    changes = again.stdout.split("changes since the last deploy", 1)[1]
    assert "eu-west: Secret notes-runtime-config:" in changes
    assert '-url = "https://notes-acme-eu-west.turso.io"' in changes
    assert '+url = "https://notes-eu.example.net"' in changes
    assert "~ spec.podAnnotations.edge-deploy/config-sha256" in changes  # pods roll
    assert "us-east" not in changes and "ap-south" not in changes
    assert_no_secret(again.stdout, again.stderr)


def test_a_component_with_a_non_spin_import_is_refused(app: Path) -> None:
    evil = app / "notes.wasm"
    evil.unlink()
    evil.write_bytes(
        wasmtime.wat2wasm(
            '(component (import "example:evil/thing" (instance $t (export "run" (func)))))'
        )
    )
    done = edge(app, "--to", "kubernetes", "--image", IMAGE, "--plan")
    assert done.returncode == 1
    assert "refusing to deploy: the app would fail on Spin" in done.stderr
    assert "imports example:evil/thing, which Spin's platform does not provide" in done.stderr
    assert "artifact:" not in done.stdout  # refused before any plan
    assert not (app / ".edge").exists()


@pytest.mark.skipif(not os.access("/usr/bin/kubectl", os.X_OK), reason="needs /usr/bin/kubectl")
def test_apply_fails_clearly_without_a_cluster(app: Path) -> None:
    done = edge(app, "--to", "kubernetes", "--image", IMAGE, "--apply",
                EDGE_KUBECTL="/usr/bin/kubectl")  # fmt: skip
    assert done.returncode == 1
    assert "region 'us-east' (context 'gke-us-east', namespace 'edge')" in done.stderr
    assert 'context "gke-us-east" does not exist' in done.stderr
    assert "nothing was applied to any region" in done.stderr
    assert_no_secret(done.stdout, done.stderr)
    assert files_holding_secrets(app.parent) == set()  # --apply writes no Secret file


def standin(tmp_path: Path, plugins: list[str], **extra: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    spin = bin_dir / "spin"
    spin.write_text(STANDIN)
    spin.chmod(0o755)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "SPIN_STANDIN_LOG": str(tmp_path / "spin.log"),
        "SPIN_STANDIN_PLUGINS": json.dumps(plugins),
        **extra,
    }


def spin_calls(tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "spin.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.parametrize(
    ("to", "plugin", "from_flag"),
    [
        (["spin-cloud"], "cloud", ["--from", "spin.toml"]),
        (["akamai"], "aka", []),
        (["plugin", "fastly"], "fastly", []),
    ],
)
def test_handoff_to_a_spin_plugin(
    app: Path, tmp_path: Path, to: list[str], plugin: str, from_flag: list[str]
) -> None:
    env = standin(tmp_path, [plugin], SPIN_VARIABLE_REGION_NAME="everywhere")
    done = edge(app, "--to", *to, "--", "--readiness-timeout", "30", **env)
    assert done.returncode == 0, done.stderr
    calls = spin_calls(tmp_path)
    assert calls[0] == ["plugins", "list", "--installed", "--format", "json"]
    assert calls[1] == [
        plugin, "deploy", *from_flag,
        "--variable", "greeting=hello",
        "--variable", "region_name=everywhere",
        "--variable", f"api_key={API_KEY}",
        "--readiness-timeout", "30",
    ]  # fmt: skip
    assert f"{plugin} deploy: deployed (stand-in)" in done.stdout
    assert "--variable api_key=***" in done.stderr
    assert_no_secret(done.stdout, done.stderr)
    assert files_holding_secrets(app) == set()
    record = app / ".edge" / "deploy" / f"last-plugin-{plugin}.json"
    assert json.loads(record.read_text())["variables"]["api_key"] == (
        "<secret from SPIN_VARIABLE_API_KEY>"
    )


def test_the_plugin_gets_the_deploy_files_variables_only(app: Path, tmp_path: Path) -> None:
    env = standin(tmp_path, ["cloud"])
    done = edge(app, "--to", "spin-cloud", "--plan", **env)
    assert done.returncode == 1  # region_name: required, given only per region
    assert "the [regions] of edge-deploy.toml are for Kubernetes" in done.stdout
    assert "greeting = 'hello' (edge-deploy.toml [variables])" in done.stdout
    assert "required variable 'region_name' has no value" in done.stderr
    assert "set SPIN_VARIABLE_REGION_NAME" in done.stderr
    assert spin_calls(tmp_path) == []  # a plan runs nothing


def test_without_spin_the_error_says_how_to_install(app: Path, tmp_path: Path) -> None:
    bare = tmp_path / "empty-bin"
    bare.mkdir()
    os.symlink(sys.executable, bare / "python3")
    assert shutil.which("spin", path=str(bare)) is None
    done = edge(app, "--to", "spin-cloud", PATH=str(bare), SPIN_VARIABLE_REGION_NAME="x")
    assert done.returncode == 1
    assert "the Spin CLI (`spin`) is not on PATH" in done.stderr
    assert "https://spinframework.dev/install" in done.stderr
    assert "spin plugins install cloud" in done.stderr


def test_a_missing_plugin_says_how_to_install_it(app: Path, tmp_path: Path) -> None:
    env = standin(tmp_path, ["cloud"], SPIN_VARIABLE_REGION_NAME="x")
    done = edge(app, "--to", "akamai", **env)
    assert done.returncode == 1
    assert "the Spin plugin 'aka' is not installed: run `spin plugins install aka`" in done.stderr
    assert [call[0] for call in spin_calls(tmp_path)] == ["plugins"]  # it never ran `spin aka`


def test_a_missing_plugin_told_by_spins_exit_status(app: Path, tmp_path: Path) -> None:
    """A Spin that cannot list plugins in JSON: `spin aka deploy` itself says
    "'aka' is not a known Spin command" and exits with 2."""
    env = standin(tmp_path, [], SPIN_STANDIN_NO_JSON="1", SPIN_VARIABLE_REGION_NAME="x")
    done = edge(app, "--to", "akamai", **env)
    assert done.returncode == 1
    assert "run `spin plugins install aka`" in done.stderr
    assert [call[:2] for call in spin_calls(tmp_path)] == [["plugins", "list"], ["aka", "deploy"]]
    assert_no_secret(done.stdout, done.stderr)


def test_deploy_pushes_to_the_registry_first(app: Path) -> None:
    """`--registry REF`: edge push to a real registry, then the SpinApps name its digest."""
    from runtime.app.manifest import load
    from runtime.deploy.oci import artifact_digest

    from .registry import LoopbackRegistry, registry_binary

    binary = registry_binary()
    if binary is None:
        pytest.skip("no docker-registry on PATH (tools/install-registry.sh installs it)")
    registry = LoopbackRegistry(binary, app.parent / "registry")
    registry.start()
    try:
        done = edge(app, "--to", "kubernetes", "--registry", f"{registry.address}/notes:v1")
    finally:
        registry.stop()
    assert done.returncode == 0, done.stderr
    assert_no_secret(done.stdout, done.stderr)
    digest = artifact_digest(load(app / "spin.toml"))
    for region in ("us-east", "eu-west", "ap-south"):
        text = (app / ".edge" / "deploy" / region / "spinapp.yaml").read_text()
        (spinapp,) = [o for o in yaml.safe_load_all(text) if o and o["kind"] == "SpinApp"]
        assert spinapp["spec"]["image"] == f"{registry.address}/notes:v1@{digest}"
