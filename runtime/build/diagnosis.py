"""Where a failed build went wrong in the user's Python, from the build's output.

componentize-py imports the app to snapshot it, so a SyntaxError, an
ImportError or any exception at import time comes back as a Python traceback
whose paths are the guest's (`/0/app.py` for the first `-p` folder). The import
check of `edge componentize` reports `file:line: error: ...` lines. Either way
the person wants the file and line first, not the last lines of a log.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)')
_EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?(?P<name>[A-Z]\w*(?:Error|Exception))(?::|$)")
_CHECK = re.compile(r"^\s*(?P<file>[^\s:][^:]*\.py):(?P<line>\d+): error: (?P<message>.+)$")
_GUEST = re.compile(r"^/\d+/(?P<rest>.+)$")  # componentize-py's mount of a -p folder
_TRACEBACK_START = "Traceback (most recent call last):"
_RUST_BACKTRACE = "Stack backtrace:"


@dataclass(frozen=True)
class Location:
    file: Path
    line: int
    error: str  # the exception line, e.g. "SyntaxError: invalid syntax"

    def __str__(self) -> str:
        return f"{shown_path(self.file)}:{self.line}: {self.error}"


def shown_path(path: Path) -> str:
    """Relative to the current folder when it is inside it, else absolute."""
    try:
        relative = Path(os.path.relpath(path))
    except ValueError:  # another drive
        return str(path)
    return str(path) if relative.parts[:1] == ("..",) else str(relative)


def user_file(name: str, workdir: Path) -> Path | None:
    """The file of the app that a traceback's path names, or None (the framework,
    componentize-py's own code, `<string>`)."""
    root = workdir.resolve()
    candidates = [Path(name)]
    guest = _GUEST.match(name)
    if guest is not None:
        candidates.insert(0, root / guest.group("rest"))
    for candidate in candidates:
        path = candidate if candidate.is_absolute() else root / candidate
        try:
            resolved = path.resolve()
        except OSError:
            continue
        if resolved.is_file() and resolved.is_relative_to(root):
            parts = resolved.relative_to(root).parts
            if not any(part.startswith(".") or part in ("site-packages",) for part in parts):
                return resolved
    return None


def locate(output: str, workdir: Path) -> Location | None:
    """The first error of the output that points into the app's own files."""
    frame: tuple[Path, int] | None = None
    for raw in without_backtrace(output).splitlines():
        check = _CHECK.match(raw)
        if check is not None:
            path = user_file(check.group("file"), workdir)
            if path is not None:
                return Location(path, int(check.group("line")), check.group("message").strip())
        found = _FRAME.match(raw)
        if found is not None:
            path = user_file(found.group("file"), workdir)
            if path is not None:
                frame = (path, int(found.group("line")))
            continue
        line = raw.rstrip()
        # componentize-py re-raises the guest's traceback inside an AssertionError.
        if line.endswith(_TRACEBACK_START):
            continue
        if frame is not None and _EXCEPTION.match(line):
            return Location(frame[0], frame[1], line)
    return None


def without_backtrace(output: str) -> str:
    """The output without a Rust backtrace (componentize-py's, with RUST_BACKTRACE set)."""
    kept: list[str] = []
    skipping = False
    for line in output.splitlines():
        if line.strip() == _RUST_BACKTRACE:
            skipping = True
        elif skipping and line and not line[0].isspace():
            skipping = False  # the next message after the backtrace
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


def guest_paths_to_host(output: str, mounts: dict[str, Path]) -> str:
    """`File "/0/app.py"` as `File "/home/me/app/app.py"`, for each guest mount."""
    for guest, host in mounts.items():
        output = output.replace(f'"{guest.rstrip("/")}/', f'"{host}{os.sep}')
    return output
