"""A region on Kubernetes with SpinKube: its SpinApp, Secrets and autoscaler, as data.

spin-operator (API group core.spinkube.dev, version v1alpha1) runs a SpinApp
with the executor `containerd-shim-spin`: a Deployment of the same name whose
pods get the image, `SPIN_VARIABLE_<NAME>` for each of `spec.variables`, and the
Secret named by `spec.runtimeConfig.loadFromSecret`, whose key
`runtime-config.toml` is mounted as Spin's runtime config. Here that file sends
each SQL database to its Turso (libSQL) URL for the region (the region's
replica where one is configured, else the primary) with its token, and each
Redis key-value store to the region's server. Secret variables go in a second
Secret, read through `valueFrom.secretKeyRef`. Every object exists twice: with
its secret values (only for the output folder or kubectl) and redacted (for
the record, the plan and the schema check's messages).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import yaml

from ..app.model import Manifest
from .config import DeployFile, dns_label_problem
from .values import SecretValue, database_tokens, kv_passwords, region_values

API_VERSION = "core.spinkube.dev/v1alpha1"
RUNTIME_CONFIG_KEY = "runtime-config.toml"  # the key spin-operator mounts
CONFIG_ANNOTATION = "edge-deploy/config-sha256"
REGION_LABEL = "edge-deploy/region"


@dataclass(frozen=True)
class RegionDeploy:
    """One region's objects; `objects` hold the secret values, `redacted` do not."""

    region: str
    context: str | None
    namespace: str
    app: str
    image: str | None
    objects: tuple[dict[str, Any], ...] = field(repr=False)  # the Secrets' values: no repr
    redacted: tuple[dict[str, Any], ...] = field(repr=False)
    secret_values: tuple[str, ...] = field(repr=False)
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def secrets(self) -> list[dict[str, Any]]:
        return [obj for obj in self.objects if obj["kind"] == "Secret"]

    def others(self) -> list[dict[str, Any]]:
        return [obj for obj in self.objects if obj["kind"] != "Secret"]


def app_name(manifest: Manifest, deploy: DeployFile) -> str:
    """The SpinApp's name: the deploy file's `app`, else the manifest's name made a
    Kubernetes name (lowercase, `-` for anything else)."""
    if deploy.app:
        return deploy.app
    name = re.sub(r"[^a-z0-9-]+", "-", manifest.name.lower()).strip("-")[:63].strip("-")
    return name


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_string(value: str) -> str:
    # A TOML basic string: JSON's escapes (\\, \", \n, \uXXXX) are TOML's too.
    return json.dumps(value, ensure_ascii=False)


def runtime_config_text(tables: list[tuple[str, str, dict[str, str]]]) -> str:
    """Spin's runtime config from (section, label, keys) tables, e.g.
    ("sqlite_database", "default", {"type": "libsql", "url": ..., "token": ...})."""
    parts = []
    for section, label, keys in tables:
        lines = [f"[{section}.{_toml_key(label)}]"]
        lines += [f"{_toml_key(k)} = {_toml_string(v)}" for k, v in keys.items()]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user = quote(parts.username or "", safe="")
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}").geturl()


def _used_labels(manifest: Manifest, attribute: str) -> list[str]:
    seen: dict[str, None] = {}
    for spec in manifest.components.values():
        for label in getattr(spec, attribute):
            seen.setdefault(label, None)
    return list(seen)


def _runtime_config(
    manifest: Manifest,
    deploy: DeployFile,
    region: str,
    tokens: Mapping[str, SecretValue],
    passwords: Mapping[str, SecretValue],
    reveal: bool,
) -> tuple[str, list[str], list[str]]:
    """(runtime-config.toml, problems, notes) for `region`; secrets as placeholders
    unless `reveal`."""
    tables: list[tuple[str, str, dict[str, str]]] = []
    problems: list[str] = []
    notes: list[str] = []
    for label in _used_labels(manifest, "sqlite_databases"):
        db = deploy.databases.get(label)
        if db is None:
            problems.append(
                f"the app uses SQL database {label!r}, which {deploy.path.name} does not place: "
                f'add [databases.{label}] with the Turso URL (or type = "spin" for a file in '
                "each pod, shared by no other pod or region)"
            )
            continue
        if db.type == "spin":
            notes.append(
                f"SQL database {label!r} is a file in each pod: not shared, not replicated"
            )
            if label != "default":
                tables.append(("sqlite_database", label, {"type": "spin"}))
            continue
        token = tokens[label]
        if not token.is_set:
            problems.append(f"no token for SQL database {label!r}: set {token.source}")
        value = token.value if reveal and token.value else token.placeholder()
        tables.append(
            (
                "sqlite_database",
                label,
                {"type": "libsql", "url": db.url_for(region), "token": value},
            )
        )
    for label in _used_labels(manifest, "key_value_stores"):
        store = deploy.key_value.get(label)
        if store is None or store.type == "spin":
            if store is None and label != "default":
                problems.append(
                    f"the app uses key-value store {label!r}, which {deploy.path.name} does not "
                    f'place: add [key_value.{label}] (type = "redis", or "spin")'
                )
                continue
            notes.append(
                f"key-value store {label!r} is a file in each pod: writes are not shared between "
                'pods or regions (give it type = "redis" to share it)'
            )
            if label != "default":
                tables.append(("key_value_store", label, {"type": "spin"}))
            continue
        url = store.url_for(region)
        password = passwords[label]
        if password.is_set:
            url = _with_password(url, password.value if reveal and password.value else "PASSWORD")
            if not reveal:
                url = url.replace(":PASSWORD@", f":{password.placeholder()}@")
        tables.append(("key_value_store", label, {"type": "redis", "url": url}))
    return runtime_config_text(tables) if tables else "", problems, notes


def _metadata(name: str, namespace: str, app: str, region: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": {
            "app.kubernetes.io/name": app,
            "app.kubernetes.io/managed-by": "edge",
            REGION_LABEL: region,
        },
    }


def _secret(meta: dict[str, Any], data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": "Opaque",
        "stringData": data,
    }


def render_region(
    manifest: Manifest,
    deploy: DeployFile,
    region: str,
    image: str | None,
    env: Mapping[str, str],
) -> RegionDeploy:
    """The region's Secrets, SpinApp and autoscaler. `image` (--image, or what
    --registry pushed) yields to the region's own `image`, the file's to both."""
    target = deploy.regions[region]
    app = app_name(manifest, deploy)
    problems: list[str] = []
    notes: list[str] = []
    problem = dns_label_problem(app) if app else "is empty"
    if problem:
        problems.append(
            f"the app's name {manifest.name!r} is no Kubernetes name ({problem}): set app = "
            f'"..." in {deploy.path.name}'
        )
    if target.context is None:
        problems.append(f'region {region!r} has no Kubernetes context: add context = "..."')
    chosen = target.image or image or deploy.image
    if chosen is None:
        problems.append(
            f"no image for region {region!r}: give --image REF@sha256:..., --registry REF, or "
            f'image = "..." in {deploy.path.name}'
        )
    elif "@sha256:" not in chosen:
        notes.append(f"image {chosen} is a tag, not a digest: a later push changes what runs")

    values = region_values(manifest, deploy, region, env)
    problems += values.problems
    tokens = database_tokens(deploy, env)
    passwords = kv_passwords(deploy, env)
    config, config_problems, config_notes = _runtime_config(
        manifest, deploy, region, tokens, passwords, reveal=True
    )
    shown_config, _, _ = _runtime_config(manifest, deploy, region, tokens, passwords, reveal=False)
    problems += config_problems
    notes += config_notes

    namespace = target.namespace
    config_secret = f"{app}-runtime-config"
    variables_secret = f"{app}-variables"
    spec: dict[str, Any] = {"image": chosen or "", "executor": deploy.executor}
    scaling = target.autoscaling
    if scaling is not None:
        spec["enableAutoscaling"] = True
        if scaling.writes_hpa and not target.requests.get("cpu"):
            notes.append(
                f"region {region!r}: the autoscaler's CPU target needs resources.requests.cpu"
            )
    else:
        spec["replicas"] = 1 if target.replicas is None else target.replicas
    resources = {k: v for k, v in (("limits", target.limits), ("requests", target.requests)) if v}
    if resources:
        spec["resources"] = copy.deepcopy(resources)
    variables: list[dict[str, Any]] = [
        {"name": name, "value": value} for name, value in sorted(values.plain.items())
    ]
    variables += [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": variables_secret, "key": name}}}
        for name in sorted(values.secrets)
    ]
    if variables:
        spec["variables"] = variables
    if config:
        spec["runtimeConfig"] = {"loadFromSecret": config_secret}
        # Pods read the runtime config when they start: a new digest rolls them
        # (the digest is of the redacted text, so a rotated token alone does not).
        digest = hashlib.sha256(shown_config.encode()).hexdigest()
        spec["podAnnotations"] = {CONFIG_ANNOTATION: digest}

    spinapp = {
        "apiVersion": API_VERSION,
        "kind": "SpinApp",
        "metadata": _metadata(app, namespace, app, region),
        "spec": spec,
    }
    objects: list[dict[str, Any]] = []
    shown: list[dict[str, Any]] = []
    if config:
        meta = _metadata(config_secret, namespace, app, region)
        objects.append(_secret(meta, {RUNTIME_CONFIG_KEY: config}))
        shown.append(_secret(copy.deepcopy(meta), {RUNTIME_CONFIG_KEY: shown_config}))
    if values.secrets:
        meta = _metadata(variables_secret, namespace, app, region)
        real = {name: secret.value or "" for name, secret in sorted(values.secrets.items())}
        hidden = {name: secret.placeholder() for name, secret in sorted(values.secrets.items())}
        objects.append(_secret(meta, real))
        shown.append(_secret(copy.deepcopy(meta), hidden))
    objects.append(spinapp)
    shown.append(copy.deepcopy(spinapp))
    if scaling is not None and scaling.writes_hpa:
        hpa = _autoscaler(
            app, namespace, region, scaling.min_replicas, scaling.max_replicas, scaling.cpu_percent
        )
        objects.append(hpa)
        shown.append(copy.deepcopy(hpa))
    secret_values = [s.value for s in values.secrets.values() if s.value]
    secret_values += [t.value for t in tokens.values() if t.value]
    secret_values += [p.value for p in passwords.values() if p.value]
    secret_values += [quote(p.value, safe="") for p in passwords.values() if p.value]
    return RegionDeploy(
        region=region,
        context=target.context,
        namespace=namespace,
        app=app,
        image=chosen,
        objects=tuple(objects),
        redacted=tuple(shown),
        secret_values=tuple(secret_values),
        problems=tuple(problems),
        notes=tuple(notes),
    )


def _autoscaler(
    app: str, namespace: str, region: str, low: int | None, high: int | None, cpu: int | None
) -> dict[str, Any]:
    """An HPA on the Deployment that spin-operator makes for the SpinApp (same name)."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(app, namespace, app, region),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
            "minReplicas": low or 1,
            "maxReplicas": high or 1,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": cpu or 80},
                    },
                }
            ],
        },
    }


class _Dumper(yaml.SafeDumper):
    """Block scalars (`|`) for multi-line strings: runtime-config.toml stays readable."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(objects: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> str:
    """Objects as one YAML stream, documents separated by `---`."""
    return yaml.dump_all(
        list(objects),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        explicit_start=True,
    )
