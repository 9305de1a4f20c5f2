"""Spin application manifests (`spin.toml`, version 2) as frozen dataclasses.

`load` checks a manifest the way Spin does, so that what `edge up` accepts real
Spin accepts too: unknown keys are errors (Spin's v2 schema denies unknown
fields), ids follow Spin's naming rules, application variables have a default or
are required, and component variable templates name declared variables. What
the local runtime cannot run (inline components, remote sources, Wagi, component
dependencies) is rejected with a message that says so. Every error names the
file, the dotted key and, where it can be found, the line.

This module is the public entry point: `load`, `loads` and the data model of
`manifest_model`. The checks live in `manifest_parser` (version, [application],
[variables]), `manifest_components`, `manifest_triggers` and `manifest_checker`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from .errors import ManifestError
from .manifest_model import (
    BuildSpec,
    ComponentSpec,
    FileMount,
    HttpTrigger,
    Manifest,
    PrivateEndpoint,
    VariableDecl,
)
from .manifest_parser import ManifestParser
from .manifest_syntax import toml_error

__all__ = [
    "BuildSpec",
    "ComponentSpec",
    "FileMount",
    "HttpTrigger",
    "Manifest",
    "PrivateEndpoint",
    "VariableDecl",
    "load",
    "loads",
]


def load(path: str | Path) -> Manifest:
    """Read and check a Spin manifest; a directory means its `spin.toml`."""
    file = Path(path)
    if file.is_dir():
        file = file / "spin.toml"
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(
            file, "", "no such file: give the path of a Spin manifest (`-f path/to/spin.toml`)"
        ) from None
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise ManifestError(file, "", message) from None
    except OSError as exc:
        raise ManifestError(file, "", f"cannot read the file: {exc.strerror or exc}") from None
    return loads(text, file)


def loads(text: str, path: str | Path = "spin.toml") -> Manifest:
    """Check manifest text as if it were the file at `path` (relative paths start there)."""
    file = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message, line = toml_error(str(exc), text)
        raise ManifestError(file, "", f"invalid TOML: {message}", line) from None
    return ManifestParser(file, text).manifest(data)
