"""The files a component mounts (`files`, `exclude_files`), as Spin's loader collects them.

Each result is (guest path relative to `/`, with forward slashes; the file on
this machine). Spin copies them into one directory per component and then
pushes one layer per file; the guest path is the file's place in that
directory.
"""

from __future__ import annotations

import fnmatch
import glob
from pathlib import Path, PurePosixPath

from ..app.model import ComponentSpec, FileMount
from ..errors import EdgeError

_GLOB_CHARS = set("*?[")


def mounted_files(component: ComponentSpec, root: Path) -> list[tuple[str, Path]]:
    """Every file `component` mounts, sorted by guest path (EdgeError for a bad entry)."""
    found: dict[str, Path] = {}
    for entry in component.files:
        for guest, host in _entry_files(entry, root, component):
            found[_checked_guest(guest, component, entry)] = host
    return sorted(found.items())


def _entry_files(
    entry: str | FileMount, root: Path, component: ComponentSpec
) -> list[tuple[str, Path]]:
    root = root.resolve()
    excluded = component.exclude_files
    if isinstance(entry, FileMount):
        source = _inside(root / entry.source, root, component, entry.source)
        destination = entry.destination.lstrip("/")
        if source.is_dir():
            return [
                (_join(destination, path.relative_to(source)), path)
                for path in _walk(source)
                if not _is_excluded(path, root, excluded)
            ]
        if source.is_file():
            return [(destination, source)]
        raise _missing(component, entry.source)
    if entry in ("..", ".") or entry.endswith(("/..", "/.")):
        raise EdgeError(
            f"component {component.id!r}: files entry {entry!r} cannot end in '.' or '..': "
            "use a { source, destination } table or a pattern ending in **/*"
        )
    path = root / entry
    if path.exists():
        path = _inside(path, root, component, entry)
        if path.is_dir():
            return [
                (_join("", file.relative_to(root)), file)
                for file in _walk(path)
                if not _is_excluded(file, root, excluded)
            ]
        return [(_join("", path.relative_to(root)), path)]
    if not _GLOB_CHARS & set(entry):
        raise _missing(component, entry)
    matches = sorted(Path(p) for p in glob.glob(str(root / entry), recursive=True))
    out = []
    for match in matches:
        if not match.is_file():
            continue
        file = _inside(match, root, component, entry)
        if not _is_excluded(file, root, excluded):
            out.append((_join("", file.relative_to(root)), file))
    return out


def _walk(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


def _is_excluded(path: Path, root: Path, patterns: tuple[str, ...]) -> bool:
    # Spin's glob patterns: `*` also matches `/` (the glob crate's default), as fnmatch's.
    relative = path.relative_to(root).as_posix()
    return any(fnmatch.fnmatchcase(relative, pattern) for pattern in patterns)


def _inside(path: Path, root: Path, component: ComponentSpec, entry: str) -> Path:
    resolved = path.resolve()
    if resolved != root and root not in resolved.parents:
        raise EdgeError(
            f"component {component.id!r}: files entry {entry!r} is outside the application "
            f"directory {root}: files must be within it"
        )
    return resolved


def _join(base: str, relative: Path | str) -> str:
    return str(PurePosixPath(base, PurePosixPath(Path(relative).as_posix())))


def _checked_guest(guest: str, component: ComponentSpec, entry: str | FileMount) -> str:
    parts = PurePosixPath(guest).parts
    if not parts or any(part in ("..", ".", "/") for part in parts):
        raise EdgeError(f"component {component.id!r}: files entry {entry!r} mounts at {guest!r}")
    return "/".join(parts)


def _missing(component: ComponentSpec, entry: str) -> EdgeError:
    return EdgeError(
        f"component {component.id!r}: files entry {entry!r} does not exist and is not a "
        "glob pattern"
    )
