"""Spin application manifests (`spin.toml`, version 2) as frozen dataclasses.

`load` checks a manifest the way Spin does, so that what `edge up` accepts real
Spin accepts too: unknown keys are errors (Spin's v2 schema denies unknown
fields), ids follow Spin's naming rules, application variables have a default or
are required, and component variable templates name declared variables. What
the local runtime cannot run (inline components, remote sources, Wagi, component
dependencies) is rejected with a message that says so. Every error names the
file, the dotted key and, where it can be found, the line.

This module is the entry point: `load` and `loads`; the data model is in
`model`. The checks live in `parser` (version, [application], [variables]),
`components`, `triggers` and `checker`; TOML and key paths in `syntax`.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ManifestError
from .model import (
    BuildSpec,
    ComponentSpec,
    FileMount,
    HttpTrigger,
    Manifest,
    PrivateEndpoint,
    VariableDecl,
)
from .parser import ManifestParser
from .syntax import parse_toml, read_toml

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
    text = read_toml(file, ManifestError, "a Spin manifest (`-f path/to/spin.toml`)")
    return loads(text, file)


def loads(text: str, path: str | Path = "spin.toml") -> Manifest:
    """Check manifest text as if it were the file at `path` (relative paths start there)."""
    file = Path(path)
    return ManifestParser(file, text).manifest(parse_toml(text, file, ManifestError))
