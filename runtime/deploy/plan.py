"""What `edge deploy --plan` prints, before anything is pushed, written or applied:
the artifact, the regions and their targets, where each SQL database's primary
and replicas are, which variables and secrets each region gets (never a secret's
value), and what would change since the last deploy."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..app.model import Manifest
from ..app.runtime_config import display_url
from ..build.contract import ContractReport
from .config import DeployFile, describe
from .kubernetes import RegionDeploy
from .values import RegionValues, SecretValue, database_tokens, kv_passwords

_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})$")


@dataclass(frozen=True)
class Artifact:
    """What is deployed: the image (when there is one) and each component's wasm."""

    image: str | None
    components: dict[str, str]  # component id -> sha256:<hex> of its .wasm
    sources: dict[str, Path]
    pushed_to: str | None = None  # --registry: the digest is known after the push

    @property
    def image_digest(self) -> str | None:
        m = _DIGEST.search(self.image or "")
        return m.group(1) if m else None


def component_digests(manifest: Manifest) -> dict[str, str]:
    return {
        cid: "sha256:" + hashlib.sha256(spec.source.read_bytes()).hexdigest()
        for cid, spec in manifest.components.items()
    }


def _state(secret: SecretValue) -> str:
    return f"from {secret.source} ({'set' if secret.is_set else 'NOT SET'})"


def artifact_lines(artifact: Artifact, reports: list[ContractReport]) -> list[str]:
    lines = ["artifact:"]
    if artifact.pushed_to is not None:
        lines.append(
            f"  image      {artifact.pushed_to} (to be pushed first; its digest is known after "
            "the push)"
        )
    elif artifact.image is not None:
        digest = artifact.image_digest
        lines.append(f"  image      {artifact.image}")
        lines.append(f"  digest     {digest}" if digest else "  digest     none: a tag, not pinned")
    for cid, digest in artifact.components.items():
        lines.append(f"  component  {cid}: {artifact.sources[cid].name} {digest}")
    ok = all(report.ok for report in reports)
    if ok:
        lines.append(
            "  Spin check passed: each component imports only Spin platform interfaces and "
            "exports what its triggers call"
        )
    return lines


def kubernetes_lines(
    manifest: Manifest,
    deploy: DeployFile,
    regions: list[RegionDeploy],
    values: dict[str, RegionValues],
    env: Mapping[str, str],
    output: str,
) -> list[str]:
    lines = [f"target: Kubernetes (SpinKube), {len(regions)} region(s), {deploy.path.name}"]
    for region in regions:
        target = deploy.regions[region.region]
        if target.autoscaling is None:
            scale = f"replicas {target.replicas if target.replicas is not None else 1}"
        elif target.autoscaling.writes_hpa:
            a = target.autoscaling
            scale = (
                f"autoscaling {a.min_replicas}..{a.max_replicas} at {a.cpu_percent}% CPU "
                "(HorizontalPodAutoscaler)"
            )
        else:
            scale = "autoscaling (enableAutoscaling: your HPA or KEDA sets the replicas)"
        lines.append(
            f"  {region.region}: context {region.context}, namespace {region.namespace}, "
            f"SpinApp {region.app}, {scale}"
        )
        if target.limits or target.requests:
            parts = [
                f"{k} {describe(v)}"
                for k, v in (("limits", target.limits), ("requests", target.requests))
                if v
            ]
            lines.append(f"      resources: {'; '.join(parts)}")
        if target.image:
            lines.append(f"      image: {target.image} (the region's own)")
    lines += sql_lines(manifest, deploy, [r.region for r in regions], env)
    lines += kv_lines(deploy, [r.region for r in regions], env)
    lines.append("variables and secrets:")
    for region in regions:
        lines += _values_lines(
            region.region, values[region.region], f"Secret {region.app}-variables"
        )
    lines.append(f"output: {output}")
    notes = [note for region in regions for note in region.notes]
    lines += [f"note: {note}" for note in dict.fromkeys(notes)]
    return lines


def _values_lines(where: str, values: RegionValues, secret_home: str) -> list[str]:
    lines = []
    entries = [
        f"{name} = {value!r} ({values.sources[name]})" for name, value in values.plain.items()
    ]
    entries += [
        f"{name}: secret, {_state(secret)} -> {secret_home}"
        for name, secret in values.secrets.items()
    ]
    if not entries:
        entries = ["none (the manifest's defaults)"]
    lines.append(f"  {where}: {entries[0]}")
    lines += [f"  {' ' * len(where)}  {entry}" for entry in entries[1:]]
    return lines


def sql_lines(
    manifest: Manifest, deploy: DeployFile, regions: list[str], env: Mapping[str, str]
) -> list[str]:
    tokens = database_tokens(deploy, env)
    used = {label for spec in manifest.components.values() for label in spec.sqlite_databases}
    if not used:
        return []
    lines = [f"SQL databases (primary region: {deploy.primary_region}):"]
    for label in sorted(used):
        db = deploy.databases.get(label)
        if db is None:
            lines.append(f"  {label}: not placed in {deploy.path.name}")
            continue
        if db.type == "spin":
            lines.append(f"  {label}: a file in each pod (type spin): not shared, not replicated")
            continue
        lines.append(f"  {label}: libSQL, token {_state(tokens[label])}, in each region's Secret")
        for region in regions:
            if region == deploy.primary_region:
                role = "primary"
            elif region in db.replicas:
                role = "replica"
            else:
                role = "primary's URL (no replica here: reads pay the round trip)"
            lines.append(f"      {region}: {role} {display_url(db.url_for(region))}")
    return lines


def kv_lines(deploy: DeployFile, regions: list[str], env: Mapping[str, str]) -> list[str]:
    passwords = kv_passwords(deploy, env)
    if not deploy.key_value:
        return []
    lines = ["key-value stores:"]
    for label, store in deploy.key_value.items():
        if store.type == "spin":
            lines.append(f"  {label}: a file in each pod (type spin): not shared, not replicated")
            continue
        password = passwords[label]
        auth = (
            f"password {_state(password)}"
            if password.is_set
            else f"no password ({password.source} unset)"
        )
        lines.append(f"  {label}: Redis, {auth}")
        for region in regions:
            lines.append(f"      {region}: {display_url(store.url_for(region))}")
    return lines


def plugin_lines(
    manifest: Manifest, plugin: str, deploy: DeployFile, values: RegionValues
) -> list[str]:
    lines = [f"target: the Spin plugin {plugin!r} (`spin {plugin} deploy`), which places the app"]
    if deploy.regions:
        lines.append(
            f"  the [regions] of {deploy.path.name} are for Kubernetes: the plugin's platform "
            "chooses where the app runs"
        )
    used = {label for spec in manifest.components.values() for label in spec.sqlite_databases}
    if used:
        lines.append(
            f"  SQL databases {', '.join(sorted(used))}: the platform's own (the plugin links "
            "them); [databases] of the deploy file are not sent"
        )
    if plugin == "cloud" and (manifest.redis_triggers or manifest.cron_triggers):
        lines.append(
            "  note: Fermyon Cloud runs HTTP triggers only; it refuses Redis and cron ones"
        )
    lines.append("variables and secrets (passed as --variable name=value):")
    lines += _values_lines("all", values, "the plugin's command line (shown as ***)")
    return lines
