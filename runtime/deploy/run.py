"""`edge deploy`: build, check against Spin, plan, then write, apply or hand off.

In this order, and nothing is pushed, written or applied before the last
step's checks pass: the components are built (`edge build`'s check of trigger
exports included) and held against Spin's contract as compiled; the deploy
file is read against the manifest; every region's objects are rendered and
checked against the schema; the plan is printed with what changed since the
last deploy. `--plan` stops there. Otherwise `--registry` pushes first, and
then the manifests are written to the output folder (Secrets with mode 600, and
only where git ignores them), or applied with kubectl (`--apply`), or the app
goes to the Spin plugin; and the record is kept for the next plan.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..app.manifest import load
from ..app.model import Manifest
from ..build.incremental import build_manifest
from ..durations import parse_duration
from ..errors import EdgeError
from ..wasm.engine import WasmEngine
from . import kubectl as kubectl_steps
from .check import check_components, refuse_failing
from .config import (
    DEFAULT_FILE,
    TARGETS,
    DeployFile,
    empty_deploy_file,
    load_deploy_file,
    selected_regions,
)
from .kubernetes import RegionDeploy, render_region, to_yaml
from .plan import Artifact, artifact_lines, component_digests, kubernetes_lines, plugin_lines
from .plugins import PLUGINS, find_spin, handoff, run_handoff
from .record import changes, load_record, record_path, save_record
from .schema import validate
from .values import region_values

Printer = Callable[[str], None]
_IMAGE_DIGEST = re.compile(r"@sha256:([0-9a-fA-F]*)$")


@dataclass(frozen=True)
class Target:
    kind: str  # kubernetes, spin-cloud, akamai, plugin
    plugin: str | None = None  # the Spin plugin for every kind but kubernetes

    @property
    def key(self) -> str:
        return "kubernetes" if self.kind == "kubernetes" else f"plugin-{self.plugin}"


def parse_target(words: list[str] | None, default: str | None) -> Target:
    """`--to kubernetes | spin-cloud | akamai | plugin NAME` (or the deploy file's target)."""
    words = list(words or ([default] if default else []))
    usage = "--to kubernetes | spin-cloud | akamai | plugin NAME"
    if not words:
        raise EdgeError(f'say where to deploy: {usage} (or target = "..." in {DEFAULT_FILE})')
    kind, rest = words[0], words[1:]
    if kind not in TARGETS:
        raise EdgeError(f"unknown target {kind!r}: {usage}")
    if kind == "plugin":
        if len(rest) != 1 or not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", rest[0]):
            raise EdgeError(
                f"--to plugin needs the plugin's name, e.g. --to plugin cloud ({usage})"
            )
        return Target(kind, rest[0])
    if rest:
        raise EdgeError(f"--to {kind} takes no name (got {' '.join(rest)}): {usage}")
    return Target(kind, PLUGINS.get(kind))


@dataclass
class DeployOptions:
    manifest_path: Path = Path("spin.toml")
    deploy_file: Path | None = None
    to: list[str] | None = None
    regions: list[str] | None = None
    image: str | None = None
    registry: str | None = None
    out_dir: Path | None = None
    apply: bool = False
    kubectl: str | None = None
    wait_timeout: str = "5m"
    plan_only: bool = False
    state_dir: Path = Path(".edge")
    cache_dir: Path | None = None  # of compiled components (default: edge's user cache)
    plugin_args: list[str] = field(default_factory=list)
    env: Mapping[str, str] = field(default_factory=dict)  # for values: os.environ over .env
    process_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    out: Printer = print  # the plan
    report: Printer = print  # progress


def check_image(reference: str) -> str:
    if any(c.isspace() for c in reference) or "://" in reference or not reference:
        raise EdgeError(
            f"--image {reference!r} is not an OCI image reference (registry/repo@sha256:...)"
        )
    m = _IMAGE_DIGEST.search(reference)
    if m and not re.fullmatch(r"[0-9a-f]{64}", m.group(1)):
        raise EdgeError(f"--image {reference!r}: a sha256 digest is 64 lowercase hex digits")
    return reference


def deploy(opts: DeployOptions) -> int:
    """Run `edge deploy`; the exit status (EdgeError for what the user must fix)."""
    manifest = load(opts.manifest_path)
    build_manifest(manifest, report=opts.report)
    reports = check_components(manifest, WasmEngine(cache_dir=opts.cache_dir))
    refuse_failing(reports)
    if opts.image and opts.registry:
        raise EdgeError("give --image (already pushed) or --registry (push it now), not both")
    deploy_path = opts.deploy_file or manifest.root / DEFAULT_FILE
    if deploy_path.is_file():
        deploy_file = load_deploy_file(deploy_path, manifest)
    elif opts.deploy_file is not None:
        raise EdgeError(f"no deploy file at {deploy_path}")
    else:
        deploy_file = empty_deploy_file(deploy_path)
    target = parse_target(opts.to, deploy_file.target)
    digests = component_digests(manifest)
    sources = {cid: spec.source for cid, spec in manifest.components.items()}
    image = check_image(opts.image) if opts.image else None
    artifact = Artifact(image, digests, sources, pushed_to=opts.registry)
    head = artifact_lines(artifact, reports)
    if target.kind == "kubernetes":
        if image is None and opts.registry is None and deploy_file.image:
            artifact = replace(artifact, image=deploy_file.image)
            head = artifact_lines(artifact, reports)
        return _kubernetes(opts, manifest, deploy_file, artifact, head)
    return _plugin(opts, manifest, deploy_file, target, artifact, head)


def _render(
    manifest: Manifest,
    deploy: DeployFile,
    regions: list[str],
    image: str | None,
    env: Mapping[str, str],
) -> list[RegionDeploy]:
    return [render_region(manifest, deploy, region, image, env) for region in regions]


def _validate(rendered: list[RegionDeploy]) -> None:
    for region in rendered:
        validate(region.objects, f"region {region.region!r}")


def _problems(found: list[str], opts: DeployOptions) -> None:
    if found:
        lines = "\n".join(f"  - {p}" for p in dict.fromkeys(found))
        raise EdgeError(f"cannot deploy{' (plan only)' if opts.plan_only else ''}:\n{lines}")


def _print_changes(
    opts: DeployOptions, old: dict[str, Any] | None, new: dict[str, Any], path: Path
) -> None:
    opts.out(f"changes since the last deploy ({path}):")
    for line in changes(old, new):
        opts.out(f"  {line}")


def _kubernetes(
    opts: DeployOptions, manifest: Manifest, deploy: DeployFile, artifact: Artifact, head: list[str]
) -> int:
    if not deploy.regions:
        if not deploy.path.is_file():
            raise EdgeError(
                f"no deploy file {deploy.path}: --to kubernetes needs one with a [regions.<name>] "
                "per region (context, namespace, ...): see the README's Deploying to regions"
            )
        raise EdgeError(f"{deploy.path}: no [regions.<name>]: nothing to deploy to")
    names = selected_regions(deploy, opts.regions)
    image = artifact.image or artifact.pushed_to
    rendered = _render(manifest, deploy, names, image, opts.env)
    values = {name: region_values(manifest, deploy, name, opts.env) for name in names}
    out_dir = opts.out_dir or opts.state_dir / "deploy"
    if opts.apply:
        output = (
            "applied with kubectl to each region's context (objects on kubectl's stdin, no files)"
        )
    else:
        output = (
            f"manifests to {out_dir}/<region>/: spinapp.yaml, and secrets.yaml (mode 600) with "
            "the Secrets' values; nothing is applied"
        )
    for line in head + kubernetes_lines(manifest, deploy, rendered, values, opts.env, output):
        opts.out(line)
    path = record_path(opts.state_dir, "kubernetes")
    old = load_record(path)
    new = _kubernetes_record(artifact, rendered)
    shown_old = _restricted(old, set(names), set(deploy.regions))
    _print_changes(opts, shown_old, new, path)
    _problems([p for region in rendered for p in region.problems], opts)
    _validate(rendered)
    if opts.plan_only:
        return 0
    kubectl = wait = None
    if opts.apply:
        kubectl = kubectl_steps.find_kubectl(opts.kubectl, opts.process_env)
        wait = _seconds(opts.wait_timeout)
    if artifact.pushed_to is not None:
        pushed = _push(manifest, artifact.pushed_to, opts.report)
        artifact = Artifact(pushed, artifact.components, artifact.sources)
        rendered = _render(manifest, deploy, names, pushed, opts.env)
        _validate(rendered)
        new = _kubernetes_record(artifact, rendered)
    if kubectl is not None and wait is not None:
        kubectl_steps.apply_regions(rendered, kubectl, opts.report)
    else:
        for region in rendered:
            _write_region(out_dir / region.region, region, opts.report)
    merged = dict(old.get("regions", {})) if old else {}
    merged.update(new["regions"])
    save_record(path, {**new, "regions": merged})  # what the clusters now have, or will
    if kubectl is not None and wait is not None:
        kubectl_steps.wait_regions(rendered, kubectl, wait, opts.report)
        opts.report(f"applied to {len(rendered)} region(s); each SpinApp is available")
    return 0


def _seconds(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise EdgeError(f"--wait-timeout {text!r}: {exc}") from None


def _restricted(
    old: dict[str, Any] | None, names: set[str], known: set[str]
) -> dict[str, Any] | None:
    """The old record as far as this deploy goes: its selected regions, and those
    no longer in the deploy file."""
    if old is None:
        return None
    regions = {k: v for k, v in old.get("regions", {}).items() if k in names or k not in known}
    return {**old, "regions": regions}


def _kubernetes_record(artifact: Artifact, rendered: list[RegionDeploy]) -> dict[str, Any]:
    return {
        "target": "kubernetes",
        "artifact": {
            "image": artifact.image or artifact.pushed_to,
            "components": artifact.components,
        },
        "regions": {
            region.region: {
                "context": region.context,
                "namespace": region.namespace,
                "objects": list(region.redacted),
            }
            for region in rendered
        },
    }


def _push(manifest: Manifest, reference: str, report: Printer) -> str:
    try:
        from .oci import push  # the OCI side of edge deploy (edge push)
    except ImportError:
        raise EdgeError(
            "--registry needs edge's OCI push, which this installation lacks: push the app "
            "(e.g. `spin registry push REF`) and give --image REF@sha256:<digest>"
        ) from None
    report(f"pushing the app to {reference} ...")
    pushed = str(push(manifest, reference))
    report(f"pushed {pushed}")
    return check_image(pushed)


def _git_tracks(path: Path) -> bool:
    """Whether git would take `path` into the repository that holds it (False outside one)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(path.parent), "check-ignore", "-q", path.name],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    if done.returncode == 1:  # inside a work tree, and not ignored
        inside = subprocess.run(
            ["git", "-C", str(path.parent), "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return inside.returncode == 0 and inside.stdout.strip() == "true"
    return False


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(text)


def _write_region(folder: Path, region: RegionDeploy, report: Printer) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgeError(f"cannot create {folder}: {exc.strerror or exc}") from None
    secrets_file = folder / "secrets.yaml"
    spinapp_file = folder / "spinapp.yaml"
    if region.secrets() and _git_tracks(secrets_file):
        raise EdgeError(
            f"refusing to write {secrets_file}: it would hold the region's secrets (database "
            "tokens, secret variables) in a folder that git does not ignore; add it to "
            ".gitignore or give --out a folder outside the repository"
        )
    spinapp_file.write_text(to_yaml(region.others()), encoding="utf-8")
    if region.secrets():
        _write_private(secrets_file, to_yaml(region.secrets()))
    else:
        secrets_file.unlink(missing_ok=True)
    report(f"{region.region}: wrote {spinapp_file}")
    if region.secrets():
        report(
            f"{region.region}: wrote {secrets_file} (mode 600; the Secrets with their values: "
            "keep it out of git and delete it once applied)"
        )
    report(
        f"{region.region}: apply with: kubectl --context {region.context} --namespace "
        f"{region.namespace} apply -f {folder}/"
    )


def _plugin(
    opts: DeployOptions,
    manifest: Manifest,
    deploy: DeployFile,
    target: Target,
    artifact: Artifact,
    head: list[str],
) -> int:
    plugin = target.plugin or ""
    if opts.apply or opts.registry or opts.image:
        raise EdgeError(
            "--apply, --image and --registry are for --to kubernetes: the plugin packages and "
            "uploads the app itself"
        )
    values = region_values(manifest, deploy, None, opts.env)
    for line in head + plugin_lines(manifest, plugin, deploy, values):
        opts.out(line)
    path = record_path(opts.state_dir, target.key)
    new = {
        "target": target.key,
        "artifact": {"components": artifact.components, "plugin": plugin},
        "variables": {
            **values.plain,
            **{name: secret.placeholder() for name, secret in values.secrets.items()},
        },
    }
    _print_changes(opts, load_record(path), new, path)
    _problems(list(values.problems), opts)
    if opts.plan_only:
        return 0
    spin = find_spin(opts.process_env, plugin)
    step = handoff(spin, plugin, manifest.path, values, list(opts.plugin_args))
    run_handoff(step, opts.process_env, opts.report)
    save_record(path, new)
    opts.report(f"deployed with `spin {plugin} deploy`")
    return 0
