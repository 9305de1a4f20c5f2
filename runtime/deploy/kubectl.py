"""`--apply`: each region's objects to its cluster with kubectl, then a wait for readiness.

The objects go to kubectl on standard input (`apply -f -`), so the Secrets
with their values are never written to a file on this machine. First every
region is applied with `--dry-run=server` (the cluster checks the objects
against its SpinApp CRD and admission webhooks, the context, the namespace and
the permissions), and only when all pass is any region applied for real; then
each SpinApp is waited for (`kubectl wait --for=condition=Available`, the
condition spin-operator copies from its Deployment) and its Deployment's
rollout. kubectl's output is shown with every secret value replaced by `***`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EdgeError
from .kubernetes import RegionDeploy, to_yaml
from .values import redact

KUBECTL_ENV = "EDGE_KUBECTL"
REQUEST_TIMEOUT = "30s"


class KubectlError(EdgeError):
    """kubectl is missing, or a step of --apply failed (the message says which)."""


@dataclass(frozen=True)
class Step:
    """One kubectl run: its command line, what it does, and whether the region's
    objects go to its standard input."""

    region: str
    argv: tuple[str, ...]
    what: str
    sends_objects: bool = False
    timeout_seconds: float = 60.0
    context: str = field(default="", compare=False)


def find_kubectl(explicit: str | None, env: Mapping[str, str]) -> str:
    """The kubectl to run: --kubectl, else EDGE_KUBECTL, else `kubectl` on PATH."""
    chosen = explicit or env.get(KUBECTL_ENV) or "kubectl"
    where = "--kubectl" if explicit else (KUBECTL_ENV if env.get(KUBECTL_ENV) else "PATH")
    if os.sep in chosen:
        if Path(chosen).is_file() and os.access(chosen, os.X_OK):
            return chosen
        raise KubectlError(f"kubectl not found at {chosen} (from {where})")
    found = shutil.which(chosen, path=env.get("PATH", os.defpath))
    if found is None:
        raise KubectlError(
            f"kubectl ({chosen!r}) is not on PATH: install kubectl "
            "(https://kubernetes.io/docs/tasks/tools/), or give its path with --kubectl or "
            f"{KUBECTL_ENV}; without --apply, edge deploy only writes the manifests"
        )
    return found


def steps(
    regions: list[RegionDeploy], kubectl: str, wait_seconds: float
) -> tuple[list[Step], list[Step], list[Step]]:
    """(preflight, apply, wait) steps for every region, in the order they run."""
    preflight, apply, wait = [], [], []
    for region in regions:
        base = (kubectl, "--context", region.context or "", "--namespace", region.namespace)
        ctx = region.context or ""
        preflight.append(
            Step(
                region.region,
                base
                + ("apply", "--dry-run=server", f"--request-timeout={REQUEST_TIMEOUT}", "-f", "-"),
                "check the objects against the cluster (dry run)",
                sends_objects=True,
                context=ctx,
            )
        )
        apply.append(
            Step(
                region.region,
                base + ("apply", f"--request-timeout={REQUEST_TIMEOUT}", "-f", "-"),
                "apply",
                sends_objects=True,
                context=ctx,
            )
        )
        seconds = f"{max(1, round(wait_seconds))}s"
        wait.append(
            Step(
                region.region,
                base
                + (
                    "wait",
                    "--for=condition=Available",
                    f"--timeout={seconds}",
                    f"spinapp/{region.app}",
                ),
                "wait for the SpinApp to be available",
                timeout_seconds=wait_seconds + 30,
                context=ctx,
            )
        )
        wait.append(
            Step(
                region.region,
                base + ("rollout", "status", f"deployment/{region.app}", f"--timeout={seconds}"),
                "wait for its Deployment's rollout",
                timeout_seconds=wait_seconds + 30,
                context=ctx,
            )
        )
    return preflight, apply, wait


def _run(step: Step, region: RegionDeploy, report: Callable[[str], None]) -> None:
    stdin = to_yaml(region.objects) if step.sends_objects else None
    secrets = list(region.secret_values)
    shown = " ".join(step.argv)
    report(f"{step.region}: {shown}")
    try:
        done = subprocess.run(
            list(step.argv),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=step.timeout_seconds,
        )
    except subprocess.TimeoutExpired:
        raise KubectlError(
            f"region {step.region!r}: `{shown}` did not finish in {step.timeout_seconds:.0f} s"
        ) from None
    except OSError as exc:
        raise KubectlError(f"cannot run {step.argv[0]}: {exc.strerror or exc}") from None
    for line in redact(done.stdout, secrets).splitlines():
        report(f"  {line}")
    if done.returncode != 0:
        message = redact((done.stderr or done.stdout).strip(), secrets)
        raise KubectlError(
            f"region {step.region!r} (context {step.context!r}, namespace "
            f"{region.namespace!r}): kubectl failed to {step.what} (exit status "
            f"{done.returncode}):\n  {message}"
        )


def apply_regions(regions: list[RegionDeploy], kubectl: str, report: Callable[[str], None]) -> None:
    """Dry-run every region, then apply each (KubectlError says which were applied)."""
    by_name = {region.region: region for region in regions}
    preflight, apply, _ = steps(regions, kubectl, 0)
    for step in preflight:
        try:
            _run(step, by_name[step.region], report)
        except KubectlError as exc:
            raise KubectlError(f"{exc}\nnothing was applied to any region") from None
    applied: list[str] = []
    for step in apply:
        try:
            _run(step, by_name[step.region], report)
        except KubectlError as exc:
            done = ", ".join(applied) or "none"
            raise KubectlError(f"{exc}\nregions applied before it: {done}") from None
        applied.append(step.region)


def wait_regions(
    regions: list[RegionDeploy],
    kubectl: str,
    wait_seconds: float,
    report: Callable[[str], None],
) -> None:
    """Wait for each region's SpinApp to be available and its Deployment rolled out."""
    by_name = {region.region: region for region in regions}
    for step in steps(regions, kubectl, wait_seconds)[2]:
        _run(step, by_name[step.region], report)
