"""The OCI artifact of an app, as `spin registry push` makes it: layers, config, locked app.

No registry here: the artifact is computed in memory, and unpacked again
through the pull cache from blobs put there by hand.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from runtime.app.manifest import load
from runtime.deploy.oci import artifact_digest
from runtime.deploy.oci_cache import OciCache, locked_app_digest, needed_blobs, parse_manifest
from runtime.deploy.oci_package import (
    DATA_LAYER_MEDIA_TYPE,
    OCI_CONFIG_MEDIA_TYPE,
    OCI_MANIFEST_MEDIA_TYPE,
    SPIN_APPLICATION_MEDIA_TYPE,
    WASM_LAYER_MEDIA_TYPE,
    package,
)
from runtime.errors import EdgeError

WEB_WASM = b"\0asm\x0d\0\x01\0" + b"web component " * 40
JOBS_WASM = b"\0asm\x0d\0\x01\0" + b"jobs component " * 40
BIG_ASSET = b"x" * 1000
SMALL_ASSET = b"tiny"

MANIFEST = """\
spin_manifest_version = 2

[application]
name = "shop"
version = "1.2.3"
description = "A shop"
authors = ["Ada <ada@example.com>", "Bob"]

[application.trigger.redis]
address = "redis://{{ redis_host }}:6379"

[variables]
redis_host = { default = "localhost" }
api_token = { required = true, secret = true, description = "the API's token" }

[[trigger.http]]
route = "/api/..."
component = "web"

[[trigger.http]]
id = "internal"
route = { private = true }
component = "jobs"

[[trigger.redis]]
channel = "orders"
component = "jobs"

[[trigger.cron]]
component = "jobs"
cron_expression = "0 * * * * *"

[component.web]
source = "web.wasm"
description = "The web front"
key_value_stores = ["default", "carts"]
sqlite_databases = ["default"]
allowed_outbound_hosts = ["https://api.example.com", "http://jobs.spin.internal"]
allowed_http_hosts = ["legacy.example.com"]
files = [{ source = "assets", destination = "/static" }]
exclude_files = ["assets/skip.txt"]
[component.web.variables]
token = "{{ api_token }}"
mode = "shop"
[component.web.environment]
B_VAR = "2"
A_VAR = "1"
[component.web.build]
command = "edge componentize app -o web.wasm"
workdir = "."
watch = ["**/*.py"]

[component.jobs]
source = "jobs/jobs.wasm"
allowed_outbound_hosts = ["redis://{{ redis_host }}"]
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "spin.toml").write_text(MANIFEST)
    (tmp_path / "web.wasm").write_bytes(WEB_WASM)
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "jobs.wasm").write_bytes(JOBS_WASM)
    assets = tmp_path / "assets"
    (assets / "img").mkdir(parents=True)
    (assets / "img" / "logo.svg").write_bytes(BIG_ASSET)
    (assets / "robots.txt").write_bytes(SMALL_ASSET)
    (assets / "skip.txt").write_bytes(b"excluded")
    return tmp_path / "spin.toml"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_layers_are_wasm_then_files_then_the_locked_app(app: Path) -> None:
    artifact = package(load(app))
    kinds = [(layer.media_type, layer.data) for layer in artifact.layers[:-1]]
    # web's wasm, web's one large file (robots.txt is inlined, skip.txt excluded), jobs' wasm.
    assert kinds == [
        (WASM_LAYER_MEDIA_TYPE, WEB_WASM),
        (DATA_LAYER_MEDIA_TYPE, BIG_ASSET),
        (WASM_LAYER_MEDIA_TYPE, JOBS_WASM),
    ]
    last = artifact.layers[-1]
    assert last.media_type == SPIN_APPLICATION_MEDIA_TYPE
    assert json.loads(last.data) == artifact.locked_app


def test_the_manifest_is_canonical_json_naming_every_blob(app: Path) -> None:
    artifact = package(load(app))
    document = json.loads(artifact.manifest)
    assert artifact.manifest == json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    assert document["schemaVersion"] == 2
    assert document["mediaType"] == OCI_MANIFEST_MEDIA_TYPE
    assert document["config"] == {
        "mediaType": OCI_CONFIG_MEDIA_TYPE,
        "digest": sha(artifact.config.data),
        "size": len(artifact.config.data),
    }
    assert document["layers"] == [
        {"mediaType": layer.media_type, "digest": sha(layer.data), "size": len(layer.data)}
        for layer in artifact.layers
    ]
    assert document["annotations"] == {
        "org.opencontainers.image.title": "shop",
        "org.opencontainers.image.version": "1.2.3",
        "org.opencontainers.image.description": "A shop",
        "org.opencontainers.image.authors": "Ada <ada@example.com>, Bob",
    }
    assert artifact.digest == sha(artifact.manifest) == artifact_digest(load(app))


def test_the_image_config_labels_the_locked_app_digest(app: Path) -> None:
    artifact = package(load(app))
    locked_digest = sha(artifact.layers[-1].data)
    assert artifact.config.data == (
        b'{"architecture":"wasm","os":"Wasip1","config":{"Labels":'
        b'{"com.fermyon.spin.lockedAppDigest":"' + locked_digest.encode() + b'"}},'
        b'"rootfs":{"type":"layers","diff_ids":[]}}'
    )


def test_the_digest_is_stable_and_follows_the_content(app: Path) -> None:
    first = package(load(app)).digest
    assert package(load(app)).digest == first
    (app.parent / "web.wasm").write_bytes(WEB_WASM + b"!")
    assert package(load(app)).digest != first


def test_locked_app_application_variables_and_triggers(app: Path) -> None:
    locked = package(load(app)).locked_app
    assert list(locked)[:3] == ["spin_lock_version", "must_understand", "metadata"]
    # jobs.spin.internal: web needs local service chaining, so version 1 and must_understand.
    assert locked["spin_lock_version"] == 1
    assert locked["must_understand"] == ["component_host_requirements"]
    assert locked["metadata"] == {
        "authors": ["Ada <ada@example.com>", "Bob"],
        "description": "A shop",
        "name": "shop",
        "triggers": {"redis": {"address": "redis://{{ redis_host }}:6379"}},
        "version": "1.2.3",
    }  # several trigger types: no single "trigger" entry, no "origin"
    assert locked["variables"] == {
        "api_token": {"description": "the API's token", "secret": True},
        "redis_host": {"default": "localhost"},
    }
    assert locked["triggers"] == [
        {
            "id": "web-http-trigger",
            "trigger_type": "http",
            "trigger_config": {"component": "web", "route": "/api/..."},
        },
        {
            "id": "internal",
            "trigger_type": "http",
            "trigger_config": {"component": "jobs", "route": {"private": True}},
        },
        {
            "id": "jobs-redis-trigger",
            "trigger_type": "redis",
            "trigger_config": {"channel": "orders", "component": "jobs"},
        },
        {
            "id": "jobs-cron-trigger",
            "trigger_type": "cron",
            "trigger_config": {"component": "jobs", "cron_expression": "0 * * * * *"},
        },
    ]


def test_locked_components_reference_their_content_by_digest(app: Path) -> None:
    web, jobs = package(load(app)).locked_app["components"]
    assert list(web) == [
        "id", "metadata", "source", "env", "files", "config", "host_requirements",
    ]  # fmt: skip
    assert web["metadata"] == {
        "allowed_outbound_hosts": [
            "https://api.example.com",
            "http://jobs.spin.internal",
            "http://legacy.example.com",
            "https://legacy.example.com",
        ],
        "build": {"command": "edge componentize app -o web.wasm", "watch": ["**/*.py"]},
        "databases": ["default"],
        "description": "The web front",
        "key_value_stores": ["default", "carts"],
    }
    assert web["source"] == {"content_type": "application/wasm", "digest": sha(WEB_WASM)}
    assert web["env"] == {"A_VAR": "1", "B_VAR": "2"}
    assert list(web["env"]) == ["A_VAR", "B_VAR"]
    assert web["files"] == [
        {"digest": sha(BIG_ASSET), "path": "static/img/logo.svg"},
        {
            "inline": base64.b64encode(SMALL_ASSET).decode(),
            "digest": sha(SMALL_ASSET),
            "path": "static/robots.txt",
        },
    ]
    assert web["config"] == {"mode": "shop", "token": "{{ api_token }}"}
    assert web["host_requirements"] == {"local_service_chaining": "required"}
    assert jobs == {
        "id": "jobs",
        "metadata": {"allowed_outbound_hosts": ["redis://{{ redis_host }}"]},
        "source": {"content_type": "application/wasm", "digest": sha(JOBS_WASM)},
    }


def test_one_component_app_keeps_spins_single_trigger_entry(tmp_path: Path) -> None:
    (tmp_path / "spin.toml").write_text(
        'spin_manifest_version = 2\n[application]\nname = "one"\n'
        '[[trigger.http]]\nroute = "/..."\ncomponent = "one"\n'
        '[component.one]\nsource = "one.wasm"\n'
    )
    (tmp_path / "one.wasm").write_bytes(WEB_WASM)
    locked = package(load(tmp_path / "spin.toml")).locked_app
    assert locked["spin_lock_version"] == 0
    assert "must_understand" not in locked and "variables" not in locked
    assert locked["metadata"] == {"name": "one", "trigger": {"type": "http"}, "triggers": {}}


def test_a_missing_or_foreign_component_is_refused(app: Path) -> None:
    (app.parent / "web.wasm").unlink()
    with pytest.raises(EdgeError, match=r"component 'web': cannot read its source .*edge build"):
        package(load(app))
    (app.parent / "web.wasm").write_bytes(b"#!/bin/sh\n")
    with pytest.raises(EdgeError, match="is not a WebAssembly file"):
        package(load(app))


def test_unpacking_gives_back_the_app(app: Path, tmp_path: Path) -> None:
    """What `pull` does after the downloads, from blobs put in the cache by hand."""
    manifest = load(app)
    artifact = package(manifest)
    cache = OciCache(tmp_path / "cache")
    document = parse_manifest(artifact.manifest)
    assert locked_app_digest(document) == artifact.layers[-1].digest
    assert needed_blobs(document) == [layer.digest for layer in artifact.layers]
    for blob in artifact.layers:
        cache.blob_path(blob.digest).parent.mkdir(parents=True, exist_ok=True)
        cache.blob_path(blob.digest).write_bytes(blob.data)
    assert cache.unpacked(artifact.digest) is None
    path = cache.unpack(artifact.digest, artifact.manifest, origin="test")
    assert cache.unpacked(artifact.digest) == path

    pulled = load(path)
    assert pulled.name == manifest.name and pulled.version == manifest.version
    assert pulled.description == manifest.description and pulled.authors == manifest.authors
    assert pulled.variables == manifest.variables
    assert pulled.redis_address == manifest.redis_address
    assert pulled.routes() == manifest.routes()
    assert [t.private for t in pulled.http_triggers] == [False, True]
    assert pulled.redis_triggers == manifest.redis_triggers
    assert pulled.cron_triggers == manifest.cron_triggers
    for cid, spec in manifest.components.items():
        got = pulled.components[cid]
        assert got.source.read_bytes() == spec.source.read_bytes()
        assert got.build is None  # nothing to build: the pushed .wasm is run as it is
        assert got.key_value_stores == spec.key_value_stores
        assert got.sqlite_databases == spec.sqlite_databases
        assert got.variables == spec.variables
        assert got.environment == spec.environment
    web = pulled.components["web"]
    assert web.allowed_outbound_hosts == (
        "https://api.example.com",
        "http://jobs.spin.internal",
        "http://legacy.example.com",
        "https://legacy.example.com",
    )
    assert (path.parent / "files" / "web" / "static" / "img" / "logo.svg").read_bytes() == BIG_ASSET
    assert (path.parent / "files" / "web" / "static" / "robots.txt").read_bytes() == SMALL_ASSET
    assert not (path.parent / "files" / "web" / "static" / "skip.txt").exists()
    assert (path.parent / "spin.lock").read_bytes() == artifact.layers[-1].data
    # The locked app of the unpacked app is the pushed one.
    (path.parent / "web.wasm").unlink()  # a hard link to the blob, not the blob
    assert cache.blob_path(sha(WEB_WASM)).read_bytes() == WEB_WASM


def test_unpacking_refuses_a_blob_changed_in_the_cache(app: Path, tmp_path: Path) -> None:
    artifact = package(load(app))
    cache = OciCache(tmp_path / "cache")
    for blob in artifact.layers:
        cache.blob_path(blob.digest).parent.mkdir(parents=True, exist_ok=True)
        data = blob.data + (b"tampered" if blob.data == JOBS_WASM else b"")
        cache.blob_path(blob.digest).write_bytes(data)
    with pytest.raises(EdgeError, match="was changed on disk"):
        cache.unpack(artifact.digest, artifact.manifest, origin="test")
    assert cache.unpacked(artifact.digest) is None
    assert list((tmp_path / "cache" / "apps").iterdir()) == []  # no half-written app


def test_a_cached_app_whose_wasm_was_changed_is_dropped(app: Path, tmp_path: Path) -> None:
    artifact = package(load(app))
    cache = OciCache(tmp_path / "cache")
    for blob in artifact.layers:
        cache.blob_path(blob.digest).parent.mkdir(parents=True, exist_ok=True)
        cache.blob_path(blob.digest).write_bytes(blob.data)
    path = cache.unpack(artifact.digest, artifact.manifest, origin="test")
    assert cache.unpacked(artifact.digest) == path
    with (path.parent / "jobs.wasm").open("ab") as wasm:  # the hard link to the blob
        wasm.write(b"edited")
    assert cache.unpacked(artifact.digest) is None
    assert not path.parent.exists()
    assert not cache.has_blob(sha(JOBS_WASM))  # it shared the edit: pulled again
    assert cache.has_blob(sha(WEB_WASM))
