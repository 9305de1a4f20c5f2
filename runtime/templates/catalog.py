"""The templates `edge new` knows: each a folder of files/ with a template.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import EdgeError

FILES_DIR = Path(__file__).resolve().parent / "files"
DESCRIPTION_FILE = "template.toml"  # the template's own: not copied into the app


class TemplateError(EdgeError):
    """`edge new` cannot make the app; the message says why."""


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    root: Path

    def files(self) -> list[Path]:
        """The template's files (relative to its root), in a stable order."""
        found = [
            path.relative_to(self.root)
            for path in self.root.rglob("*")
            if path.is_file() and path.name != DESCRIPTION_FILE and "__pycache__" not in path.parts
        ]
        return sorted(found)


def _load(root: Path) -> Template:
    described = root / DESCRIPTION_FILE
    try:
        data = tomllib.loads(described.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TemplateError(f"template {root.name!r} is broken: {described}: {exc}") from None
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise TemplateError(f"template {root.name!r} is broken: {described} has no description")
    return Template(root.name, description.strip(), root)


def templates(files_dir: Path = FILES_DIR) -> list[Template]:
    """Every template, by name."""
    if not files_dir.is_dir():
        raise TemplateError(f"no templates at {files_dir}: is the installation complete?")
    return [_load(p) for p in sorted(files_dir.iterdir()) if (p / DESCRIPTION_FILE).is_file()]


def find_template(name: str, files_dir: Path = FILES_DIR) -> Template:
    known = templates(files_dir)
    for template in known:
        if template.name == name:
            return template
    names = ", ".join(t.name for t in known)
    raise TemplateError(
        f"no template {name!r}: the templates are {names} (`edge new --list` describes them)"
    )
