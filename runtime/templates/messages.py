"""What `edge new` prints: the list of templates, and what to do with a new app."""

from __future__ import annotations

import os
from pathlib import Path

from .catalog import Template
from .render import Created


def listing(known: list[Template]) -> list[str]:
    width = max((len(t.name) for t in known), default=0)
    return [f"{t.name.ljust(width)}  {t.description}" for t in known]


def _shown(directory: Path) -> str:
    # Relative when it is under the current folder, as the user typed it.
    try:
        return os.path.relpath(directory) if not directory.is_absolute() else str(directory)
    except ValueError:
        return str(directory)


def next_steps(created: Created) -> list[str]:
    where = _shown(created.directory)
    tests = [f for f in created.files if f.name.startswith("test_") and f.suffix == ".py"]
    lines = [f"created {created.template.name} app {created.name!r} in {where}:"]
    lines += [f"  {file}" for file in created.files]
    lines += ["", "next:", f"  cd {where}", "  edge build", "  edge up"]
    if tests:
        lines.append(f"  python -m pytest {' '.join(str(t) for t in tests)}")
    return lines
