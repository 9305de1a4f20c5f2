"""`--to spin-cloud | akamai | plugin NAME`: the built app handed to a Spin CLI plugin.

Spin runs a subcommand it does not know as the plugin of that name
(`spin cloud deploy` is the `cloud` plugin's `deploy`). When the plugin is not
installed, Spin itself prints "'NAME' is not a known Spin command" and exits
with status 2, or, on a terminal, offers to install it and waits for an answer.
So before the handoff edge asks `spin plugins list --installed --format json`
(a JSON list of {name, version, ...}) and stops with the install command when
the plugin is not there; the exit status 2 with Spin's message is recognised
too, for a Spin whose `plugins list` cannot answer in JSON.

Variables go as the Fermyon Cloud (`spin cloud deploy`) and Akamai Functions
(`spin aka deploy`) plugins take them, `--variable name=value`, one per
variable; the plugin reads the manifest in the app's folder (`spin cloud
deploy` is also given `--from spin.toml`). A secret's value is on the plugin's
command line, which other processes of the same user can read while it runs;
it is never printed (the command shown says `name=***`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import EdgeError
from .values import RegionValues, redact

# --to NAME -> the Spin plugin that deploys there.
PLUGINS = {"spin-cloud": "cloud", "akamai": "aka"}
SPIN_INSTALL = "https://spinframework.dev/install"
NOT_A_COMMAND = "is not a known Spin command"


class PluginError(EdgeError):
    """Spin or its plugin is missing, or the plugin's deploy failed."""


@dataclass(frozen=True)
class Handoff:
    """The plugin's command line (with secret values) and how it is shown (without)."""

    plugin: str
    argv: tuple[str, ...]
    shown: tuple[str, ...]
    cwd: Path
    secret_values: tuple[str, ...] = ()


def find_spin(env: Mapping[str, str], plugin: str) -> str:
    spin = shutil.which("spin", path=env.get("PATH", os.defpath))
    if spin is None:
        raise PluginError(
            f"the Spin CLI (`spin`) is not on PATH: install Spin ({SPIN_INSTALL}), then the "
            f"plugin with `spin plugins install {plugin}`, and run edge deploy again (the built "
            "components are ready)"
        )
    return spin


def _not_installed(plugin: str) -> PluginError:
    return PluginError(
        f"the Spin plugin {plugin!r} is not installed: run `spin plugins install {plugin}` "
        f"(then `spin {plugin} login` if it needs one), and run edge deploy again"
    )


def installed_plugins(spin: str, env: Mapping[str, str]) -> set[str] | None:
    """Names of the installed plugins, or None when this Spin cannot say in JSON."""
    try:
        done = subprocess.run(
            [spin, "plugins", "list", "--installed", "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(env),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    try:
        listed = json.loads(done.stdout)
    except ValueError:
        return None
    if not isinstance(listed, list):
        return None
    return {str(entry.get("name")) for entry in listed if isinstance(entry, dict)}


def handoff(
    spin: str,
    plugin: str,
    manifest_path: Path,
    values: RegionValues,
    extra: list[str],
) -> Handoff:
    """`spin <plugin> deploy` with the variables, run in the app's folder."""
    argv = [spin, plugin, "deploy"]
    if plugin == "cloud":
        argv += ["--from", manifest_path.name]
    elif manifest_path.name != "spin.toml" and not extra:
        raise PluginError(
            f"`spin {plugin} deploy` reads spin.toml in the app's folder, and the manifest is "
            f"{manifest_path.name}: name it spin.toml, or give the plugin its own option for "
            "it after -- (edge passes it as is)"
        )
    shown = list(argv)
    for name, value in sorted(values.plain.items()):
        argv += ["--variable", f"{name}={value}"]
        shown += ["--variable", f"{name}={value}"]
    secrets = []
    for name, secret in sorted(values.secrets.items()):
        if secret.value:
            argv += ["--variable", f"{name}={secret.value}"]
            shown += ["--variable", f"{name}=***"]
            secrets.append(secret.value)
    argv += extra
    shown += [redact(arg, secrets) for arg in extra]
    return Handoff(plugin, tuple(argv), tuple(shown), manifest_path.parent, tuple(secrets))


def run_handoff(step: Handoff, env: Mapping[str, str], report: Callable[[str], None]) -> None:
    """Run the plugin (its output goes to the terminal as it is); PluginError if it fails."""
    installed = installed_plugins(step.argv[0], env)
    if installed is not None and step.plugin not in installed:
        raise _not_installed(step.plugin)
    report(f"running: {' '.join(step.shown)}  (in {step.cwd})")
    # Known to be installed: the plugin gets the terminal (it may ask which
    # databases to link). Not known: its errors are read, to tell Spin's
    # "not a known Spin command" apart (Spin offers no prompt without a terminal).
    capture = installed is None
    try:
        done = subprocess.run(
            list(step.argv),
            cwd=step.cwd,
            env=dict(env),
            stderr=subprocess.PIPE if capture else None,
            text=True,
        )
    except OSError as exc:
        raise PluginError(f"cannot run {step.argv[0]}: {exc.strerror or exc}") from None
    errors = redact(done.stderr or "", list(step.secret_values)) if capture else ""
    if done.returncode == 2 and NOT_A_COMMAND in errors:
        raise _not_installed(step.plugin)
    if errors:
        report(errors.rstrip("\n"))
    if done.returncode != 0:
        raise PluginError(
            f"`{' '.join(step.shown[:3])}` failed (exit status {done.returncode}); "
            "see its output above"
        )
