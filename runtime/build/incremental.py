"""`edge build`: each component's build command, run only when its inputs changed.

The inputs are hashed (the watched files, the command, the framework and
componentize-py's version) and the hash is stamped beside the output; an
unchanged component is skipped in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from ..app.model import ComponentSpec, Manifest
from .componentize import FRAMEWORK_DIR, BuildError, Report, output_tail
from .contract import TRIGGER_EXPORTS
from .diagnosis import locate
from .progress import BuildProgress, PlainProgress

SKIP_DIRS = {".git", ".edge", ".venv", "venv", "__pycache__", "node_modules", ".spin", "target"}


@dataclass(frozen=True)
class BuildResult:
    component: str
    output: Path
    built: bool  # False: inputs unchanged, nothing was done
    seconds: float


def _tool_fingerprint() -> bytes:
    digest = hashlib.sha256(f"componentize-py {version('componentize-py')}".encode())
    for path in sorted(FRAMEWORK_DIR.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".wit"):
            digest.update(str(path.relative_to(FRAMEWORK_DIR)).encode())
            digest.update(path.read_bytes())
    return digest.digest()


def watched_files(workdir: Path, patterns: Iterable[str]) -> list[Path]:
    files: set[Path] = set()
    for pattern in patterns:
        # A trailing ** is every file below, as Spin's globs read it (Path.glob: folders only).
        for path in workdir.glob(pattern + "/*" if pattern.endswith("**") else pattern):
            relative = path.relative_to(workdir).parts
            if path.is_file() and not any(part in SKIP_DIRS for part in relative):
                files.add(path)
    return sorted(files)


def fingerprint(component: ComponentSpec, tools: bytes) -> str:
    """Hash of everything that goes into a component's build."""
    assert component.build is not None
    build = component.build
    digest = hashlib.sha256(tools)
    command = build.command if isinstance(build.command, str) else " && ".join(build.command)
    digest.update(command.encode())
    for path in watched_files(build.workdir, build.watch or ("**/*.py",)):
        digest.update(str(path.relative_to(build.workdir)).encode() + b"\0")
        digest.update(path.read_bytes())
    if component.source.is_file():
        digest.update(hashlib.sha256(component.source.read_bytes()).digest())
    return digest.hexdigest()


def stamp_path(component: ComponentSpec) -> Path:
    # Beside the output, so two manifests sharing a component share its stamp.
    return component.source.with_name(f".{component.source.name}.edge-build")


def _run_command(command: str | list[str] | tuple[str, ...], workdir: Path, cid: str) -> list[str]:
    """Runs the build command; the warnings it printed (the import check's)."""
    commands = [command] if isinstance(command, str) else list(command)
    env = dict(os.environ)
    # `edge` and `componentize-py` of this installation come first on PATH.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    warnings: list[str] = []
    for cmd in commands:
        done = subprocess.run(cmd, shell=True, cwd=workdir, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            location = locate((done.stderr or "") + "\n" + (done.stdout or ""), workdir)
            where = f": {location}" if location is not None else ""
            raise BuildError(
                f"build of component {cid!r} failed{where}\n`{cmd}` in {workdir} exited with "
                f"status {done.returncode}:\n{output_tail(done)}"
            )
        output = (done.stderr or "") + (done.stdout or "")
        warnings += [line.strip() for line in output.splitlines() if ": warning: " in line]
    return warnings


def is_stale(component: ComponentSpec, tools: bytes | None = None) -> bool:
    if component.build is None:
        return False
    stamp = stamp_path(component)
    if not component.source.is_file() or not stamp.is_file():
        return True
    try:
        recorded = json.loads(stamp.read_text()).get("fingerprint")
    except (OSError, ValueError):
        return True
    return bool(recorded != fingerprint(component, tools or _tool_fingerprint()))


def build_manifest(
    manifest: Manifest,
    *,
    force: bool = False,
    only: Iterable[str] | None = None,
    report: Report = print,
    progress: BuildProgress | None = None,
) -> list[BuildResult]:
    """Build each component whose inputs changed since its last build.

    What happens is told to `progress`, else as lines to `report`.
    """
    shown = progress if progress is not None else PlainProgress(report)
    tools = _tool_fingerprint()
    wanted = set(only) if only is not None else None
    results = []
    for cid, component in manifest.components.items():
        if wanted is not None and cid not in wanted:
            continue
        if component.build is None:
            if not component.source.is_file():
                raise BuildError(
                    f"component {cid!r}: source {component.source} does not exist and the "
                    "manifest gives no build command for it"
                )
            results.append(BuildResult(cid, component.source, False, 0.0))
            continue
        if not force and not is_stale(component, tools):
            shown.up_to_date(cid, component.source)
            results.append(BuildResult(cid, component.source, False, 0.0))
            continue
        started = time.perf_counter()
        with shown.building(cid, component.build.workdir):
            warnings = _run_command(component.build.command, component.build.workdir, cid)
        for warning in warnings:
            shown.note(cid, warning)
        if not component.source.is_file():
            raise BuildError(
                f"build of component {cid!r} finished but did not produce {component.source}"
            )
        seconds = time.perf_counter() - started
        stamp = stamp_path(component)  # beside the output, whose folder exists
        stamp.write_text(json.dumps({"fingerprint": fingerprint(component, tools)}))
        shown.built(cid, component.source, seconds)
        results.append(BuildResult(cid, component.source, True, seconds))
    check_trigger_exports(manifest, [r.component for r in results])
    return results


# What each trigger calls (the contract's names), and the handler that exports it.
_TRIGGER_EXPORT_NAMES = {
    "redis": (TRIGGER_EXPORTS["redis"].encode(), "@redis_component"),
    "cron": (TRIGGER_EXPORTS["cron"].encode(), "@cron_component"),
}


def check_trigger_exports(manifest: Manifest, component_ids: Iterable[str]) -> None:
    """BuildError for a component whose Redis or cron trigger it cannot answer.

    A look for the export's name in the binary, not a compile (seconds): the
    name is there only when the world exported it. `edge up` checks the
    compiled component's exports again when it loads it.
    """
    kinds: dict[str, set[str]] = {}
    for trigger in manifest.redis_triggers:
        kinds.setdefault(trigger.component, set()).add("redis")
    for cron in manifest.cron_triggers:
        kinds.setdefault(cron.component, set()).add("cron")
    for cid in component_ids:
        if cid not in kinds:
            continue
        binary = manifest.components[cid].source.read_bytes()
        for kind in sorted(kinds[cid]):
            name, decorator = _TRIGGER_EXPORT_NAMES[kind]
            if name not in binary:
                raise BuildError(
                    f"component {cid!r} is run by a [[trigger.{kind}]] but exports no "
                    f"{name.decode()}: give the app a {decorator} handler and rebuild"
                )
