"""The record of the last deploy, and the change report against it."""

from __future__ import annotations

from pathlib import Path

from runtime.deploy.kubernetes import render_region
from runtime.deploy.record import changes, load_record, record_path, save_record

from .helpers import DEPLOY, ENV, IMAGE, TOKEN, deploy_file, manifest


def record(text: str = DEPLOY, image: str = IMAGE, env: dict[str, str] = ENV) -> dict:
    deploy = deploy_file(text)
    regions = {}
    for name in deploy.regions:
        region = render_region(manifest(), deploy, name, image, env)
        regions[name] = {
            "context": region.context,
            "namespace": region.namespace,
            "objects": list(region.redacted),
        }
    return {"target": "kubernetes", "artifact": {"image": image}, "regions": regions}


def test_saved_and_loaded_without_secrets(tmp_path: Path) -> None:
    path = record_path(tmp_path, "kubernetes")
    assert path == tmp_path / "deploy" / "last-kubernetes.json"
    assert load_record(path) is None
    save_record(path, record())
    assert TOKEN not in path.read_text()
    loaded = load_record(path)
    assert loaded is not None and loaded["regions"].keys() == {"us-east", "eu-west", "ap-south"}
    assert changes(loaded, record()) == ["nothing: the same as the last deploy"]


def test_first_deploy() -> None:
    assert changes(None, record()) == ["no earlier deploy recorded here: everything is new"]


def test_what_changed_field_by_field() -> None:
    old = record()
    text = (
        DEPLOY.replace("replicas = 3", "replicas = 5")
        .replace("https://notes-acme-eu-west.turso.io", "https://notes-acme-eu.turso.io")
        .replace('greeting = "bonjour"', 'greeting = "salut"')
    )
    new = record(text, image=IMAGE.replace("ab", "cd"))
    lines = changes(old, new)
    assert lines[0].startswith("image: ghcr.io/acme/notes@sha256:abab")
    assert "us-east: SpinApp notes:" in lines
    assert "    ~ spec.replicas: 3 -> 5" in lines
    assert '    ~ spec.variables[greeting].value: "bonjour" -> "salut"' in lines
    assert "eu-west: Secret notes-runtime-config:" in lines
    # A changed replica URL shows as a line of runtime-config.toml; the token stays hidden.
    assert '        -url = "https://notes-acme-eu-west.turso.io"' in lines
    assert '        +url = "https://notes-acme-eu.turso.io"' in lines
    assert not any(TOKEN in line for line in lines)


def test_a_rotated_token_is_not_a_recorded_change() -> None:
    rotated = {**ENV, "EDGE_SQL_TOKEN_DEFAULT": "another-token"}
    assert changes(record(), record(env=rotated)) == ["nothing: the same as the last deploy"]


def test_regions_added_and_removed() -> None:
    old = record()
    new = record()
    new["regions"]["sa-east"] = new["regions"].pop("ap-south")
    lines = changes(old, new)
    assert "sa-east: new region (nothing deployed there before)" in lines
    assert any(line.startswith("ap-south: not in this deploy") for line in lines)
