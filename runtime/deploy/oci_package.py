"""An app as the OCI artifact `spin registry push` makes of it, computed in memory.

The artifact is an OCI image manifest whose layers are, in order: each
component's `.wasm` (`application/vnd.wasm.content.layer.v1+wasm`) followed by
the files it mounts (`application/vnd.wasm.content.layer.v1+data`, one per
file, none for files of 128 bytes or less, which the locked app carries
inline), duplicates dropped, and last the locked app
(`application/vnd.fermyon.spin.application.v1+config`): Spin's `LockedApp` JSON
with every source named by its sha256 digest. The manifest's config is an OCI
image config (`wasm`/`Wasip1`) whose one label, `com.fermyon.spin.lockedAppDigest`,
is the locked app's digest.

Everything is serialized deterministically (as Spin's serde does it: struct
fields in declaration order, maps sorted, compact JSON; the manifest as
canonical JSON), and nothing time-dependent goes in, so the same build always
gives the same manifest digest: `package(manifest).digest` is known before
pushing. Spin adds an `org.opencontainers.image.created` annotation; edge does
not, for that reason.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..app.hosts import Domain
from ..app.model import ComponentSpec, Manifest
from ..app.outbound import (
    SERVICE_CHAINING_SUFFIX,
    AllowedHost,
    LiteralHost,
    OutboundHostError,
    Subdomains,
)
from ..app.outbound import from_http_hosts as http_hosts_as_outbound
from ..errors import EdgeError
from .oci_files import mounted_files

SPIN_APPLICATION_MEDIA_TYPE = "application/vnd.fermyon.spin.application.v1+config"
WASM_LAYER_MEDIA_TYPE = "application/vnd.wasm.content.layer.v1+wasm"
DATA_LAYER_MEDIA_TYPE = "application/vnd.wasm.content.layer.v1+data"
# What wkg pushes a bare component as; Spin reads it as a wasm layer too.
WASM_LAYER_MEDIA_TYPE_WKG = "application/wasm"
OCI_MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LOCKED_APP_DIGEST_LABEL = "com.fermyon.spin.lockedAppDigest"
WASM_CONTENT_TYPE = "application/wasm"
# Content up to this size is inlined in the locked app (Spin's default), and a
# file that small gets no layer: some registries refuse tiny blobs.
INLINE_MAX_BYTES = 128
# The lowest layer limit of the well-known registries (ECR's 500), the config's included.
MAX_LAYERS = 500
SERVICE_CHAINING = "local_service_chaining"
_WASM_MAGIC = b"\0asm"


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes = field(repr=False)

    @cached_property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class Artifact:
    """What `push` uploads: the layers (locked app last), the config, the manifest."""

    layers: tuple[Blob, ...]
    config: Blob
    manifest: bytes = field(repr=False)
    locked_app: dict[str, Any] = field(repr=False)

    @cached_property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()

    @property
    def blobs(self) -> tuple[Blob, ...]:
        return (*self.layers, self.config)


def package(manifest: Manifest) -> Artifact:
    """The artifact of `manifest`'s built components (EdgeError if one is missing)."""
    layers: list[Blob] = []
    locked = locked_app(manifest, layers)
    locked_layer = Blob(SPIN_APPLICATION_MEDIA_TYPE, json_bytes(locked))
    layers = _unique(layers)
    layers.append(locked_layer)
    if len(layers) + 1 > MAX_LAYERS:
        raise EdgeError(
            f"the app would need {len(layers) + 1} layers, more than registries take "
            f"({MAX_LAYERS}): Spin packs so many files into archive layers, which edge "
            "does not make; mount fewer files"
        )
    config = Blob(OCI_CONFIG_MEDIA_TYPE, json_bytes(_image_config(locked_layer.digest)))
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST_MEDIA_TYPE,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    if annotations := _annotations(manifest):
        document["annotations"] = annotations
    return Artifact(tuple(layers), config, canonical_json(document), locked)


def json_bytes(value: Any) -> bytes:
    """Compact JSON, keys in the order given (serde_json's `to_vec`)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def canonical_json(value: Any) -> bytes:
    """OCI's canonical JSON for manifests: keys sorted, no insignificant whitespace."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def _image_config(locked_digest: str) -> dict[str, Any]:
    # The fields of oci-client's ConfigFile that Spin fills, in their order.
    return {
        "architecture": "wasm",
        "os": "Wasip1",
        "config": {"Labels": {LOCKED_APP_DIGEST_LABEL: locked_digest}},
        "rootfs": {"type": "layers", "diff_ids": []},
    }


def _annotations(manifest: Manifest) -> dict[str, str]:
    """The annotations Spin infers from the app, but `created` (see the module's docstring)."""
    out = {"org.opencontainers.image.title": manifest.name}
    if manifest.authors:
        out["org.opencontainers.image.authors"] = ", ".join(manifest.authors)
    if manifest.description:
        out["org.opencontainers.image.description"] = manifest.description
    if manifest.version:
        out["org.opencontainers.image.version"] = manifest.version
    return out


def _unique(layers: list[Blob]) -> list[Blob]:
    seen: set[tuple[str, str]] = set()
    out = []
    for layer in layers:
        key = (layer.media_type, layer.digest)
        if key not in seen:
            seen.add(key)
            out.append(layer)
    return out


# --- the locked app -----------------------------------------------------------


def locked_app(manifest: Manifest, layers: list[Blob] | None = None) -> dict[str, Any]:
    """Spin's LockedApp of `manifest` as pushed: sources by digest, no `origin`.

    The blobs it references are appended to `layers` (wasm, then mounted files).
    """
    layers = [] if layers is None else layers
    components = [_component(spec, manifest, layers) for spec in manifest.components.values()]
    must_understand = []
    if any("host_requirements" in c for c in components):
        must_understand.append("component_host_requirements")
    out: dict[str, Any] = {"spin_lock_version": 1 if must_understand else 0}
    if must_understand:
        out["must_understand"] = must_understand
    out["metadata"] = _app_metadata(manifest)
    if manifest.variables:
        out["variables"] = {
            name: _variable(decl.description, decl.default, decl.secret)
            for name, decl in sorted(manifest.variables.items())
        }
    out["triggers"] = _triggers(manifest)
    out["components"] = components
    return out


def _variable(description: str, default: str | None, secret: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if description:
        out["description"] = description
    if default is not None:
        out["default"] = default
    if secret:
        out["secret"] = True
    return out


def _trigger_types(manifest: Manifest) -> list[str]:
    types = [
        kind
        for kind, entries in (
            ("http", manifest.http_triggers),
            ("redis", manifest.redis_triggers),
            ("cron", manifest.cron_triggers),
        )
        if entries
    ]
    return types + [kind for kind in manifest.other_triggers if kind not in types]


def _app_metadata(manifest: Manifest) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": manifest.name}
    if manifest.version:
        meta["version"] = manifest.version
    if manifest.description:
        meta["description"] = manifest.description
    if manifest.authors:
        meta["authors"] = list(manifest.authors)
    global_configs = _global_trigger_configs(manifest)
    meta["triggers"] = global_configs
    types = _trigger_types(manifest)
    if len(types) == 1:  # Spin's compatibility copy for single-trigger apps
        meta["trigger"] = {**global_configs.get(types[0], {}), "type": types[0]}
    return _sorted(meta)


def _global_trigger_configs(manifest: Manifest) -> dict[str, Any]:
    """`[application.trigger.<type>]` as written (the manifest file's, when it is there)."""
    if manifest.path.is_file():
        try:
            data = tomllib.loads(manifest.path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            data = {}
        configs = data.get("application", {}).get("trigger", {})
        if isinstance(configs, dict):
            return dict(_sorted(_json_value(configs)))
    out: dict[str, Any] = {}
    if manifest.base not in ("", "/"):
        out["http"] = {"base": manifest.base}
    if manifest.redis_address is not None:
        out["redis"] = {"address": manifest.redis_address}
    return out


def _triggers(manifest: Manifest) -> list[dict[str, Any]]:
    entries: list[tuple[str, str, dict[str, Any]]] = []  # (type, id as written, config)
    for http in manifest.http_triggers:
        config: dict[str, Any] = {"component": http.component}
        config["route"] = {"private": True} if http.private else http.route
        if http.executor != "spin":
            config["executor"] = {"type": http.executor}
        entries.append(("http", http.id, config))
    for redis in manifest.redis_triggers:
        config = {"component": redis.component, "channel": redis.channel}
        if redis.address is not None:
            config["address"] = redis.address
        entries.append(("redis", "", config))
    for cron in manifest.cron_triggers:
        config = {"component": cron.component, "cron_expression": cron.cron_expression}
        entries.append(("cron", "", config))
    for kind, written in manifest.other_triggers.items():
        for entry in written:
            config = {k: _json_value(v) for k, v in entry.items() if k != "id"}
            trigger_id = entry.get("id")
            entries.append((kind, trigger_id if isinstance(trigger_id, str) else "", config))
    ids = _trigger_ids(entries)
    return [
        {"id": trigger_id, "trigger_type": kind, "trigger_config": _sorted(config)}
        for (kind, _, config), trigger_id in zip(entries, ids, strict=True)
    ]


def _trigger_ids(entries: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    """Spin's normalization: ids as written, else `<component>-<type>-trigger`, else
    `<type>-trigger<n>` (the first n free, counted per type)."""
    taken = {written for _, written, _ in entries}
    counters: dict[str, int] = {}
    out = []
    for kind, written, config in entries:
        if written:
            out.append(written)
            continue
        component = config.get("component")
        if isinstance(component, str):
            natural = f"{component}-{kind}-trigger"
            if natural not in taken:
                taken.add(natural)
                out.append(natural)
                continue
        counter = counters.get(kind, 1)
        while f"{kind}-trigger{counter}" in taken:
            counter += 1
        counters[kind] = counter
        taken.add(f"{kind}-trigger{counter}")
        out.append(f"{kind}-trigger{counter}")
    return out


def _component(spec: ComponentSpec, manifest: Manifest, layers: list[Blob]) -> dict[str, Any]:
    wasm = _read_wasm(spec)
    layers.append(wasm)
    out: dict[str, Any] = {"id": spec.id}
    if metadata := _component_metadata(spec, manifest):
        out["metadata"] = metadata
    out["source"] = {"content_type": WASM_CONTENT_TYPE, **_content_ref(wasm)}
    if spec.environment:
        out["env"] = dict(sorted(spec.environment.items()))
    files = []
    for guest, host in mounted_files(spec, manifest.root):
        blob = Blob(DATA_LAYER_MEDIA_TYPE, host.read_bytes())
        files.append({**_content_ref(blob), "path": guest})
        if blob.size > INLINE_MAX_BYTES:
            layers.append(blob)
    if files:
        out["files"] = files
    if spec.variables:
        out["config"] = dict(sorted(spec.variables.items()))
    if any(_is_chaining_host(host) for host in _outbound_hosts(spec)):
        out["host_requirements"] = {SERVICE_CHAINING: "required"}
    return out


def _read_wasm(spec: ComponentSpec) -> Blob:
    try:
        data = spec.source.read_bytes()
    except OSError as exc:
        raise EdgeError(
            f"component {spec.id!r}: cannot read its source {spec.source} "
            f"({exc.strerror or exc}): build the app first (edge build)"
        ) from None
    if not data.startswith(_WASM_MAGIC):
        raise EdgeError(f"component {spec.id!r}: {spec.source} is not a WebAssembly file")
    return Blob(WASM_LAYER_MEDIA_TYPE, data)


def _content_ref(blob: Blob) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if blob.size <= INLINE_MAX_BYTES:
        out["inline"] = base64.b64encode(blob.data).decode()
    out["digest"] = blob.digest
    return out


def _outbound_hosts(spec: ComponentSpec) -> list[str]:
    """`allowed_outbound_hosts`, then the legacy `allowed_http_hosts` converted (Spin's order)."""
    try:
        legacy = http_hosts_as_outbound(spec.allowed_http_hosts)
    except OutboundHostError as exc:
        raise EdgeError(f"component {spec.id!r}: {exc}") from None
    return [*spec.allowed_outbound_hosts, *legacy]


def _is_chaining_host(entry: str) -> bool:
    try:
        rule = AllowedHost.parse(entry)
    except (OutboundHostError, ValueError):
        return False  # a template: Spin parses it unresolved, and that fails too
    if isinstance(rule.host, Subdomains):
        return rule.host.suffix == SERVICE_CHAINING_SUFFIX
    if isinstance(rule.host, LiteralHost) and isinstance(rule.host.host, Domain):
        return rule.host.host.name.endswith(SERVICE_CHAINING_SUFFIX)
    return False


def _component_metadata(spec: ComponentSpec, manifest: Manifest) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if spec.description:
        meta["description"] = spec.description
    if hosts := _outbound_hosts(spec):
        meta["allowed_outbound_hosts"] = hosts
    if spec.key_value_stores:
        meta["key_value_stores"] = list(spec.key_value_stores)
    if spec.sqlite_databases:
        meta["databases"] = list(spec.sqlite_databases)
    if spec.ai_models:
        meta["ai_models"] = list(spec.ai_models)
    if spec.build is not None:
        build: dict[str, Any] = {
            "command": spec.build.command
            if isinstance(spec.build.command, str)
            else list(spec.build.command)
        }
        workdir = os.path.relpath(spec.build.workdir, manifest.root)
        if workdir != ".":
            build["workdir"] = Path(workdir).as_posix()
        if spec.build.watch:
            build["watch"] = list(spec.build.watch)
        meta["build"] = build
    return _sorted(meta)


def _sorted(value: Any) -> Any:
    """Maps sorted by key at every depth (serde_json's map without preserve_order)."""
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def _json_value(value: Any) -> Any:
    """TOML values as JSON ones (dates and times as their ISO text)."""
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return value
