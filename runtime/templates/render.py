"""Rendering a template for an app name into a new folder.

Placeholders are `{{edge:KEY}}`, in file contents and paths, so that Spin's
own `{{ variable }}` templates in a spin.toml pass through untouched. Files
end in `.tmpl` in the template (no tool mistakes them for the project's own
code or tests); the suffix is dropped. Everything is rendered before the
first file is written, so a broken template leaves nothing behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..app.syntax import kebab_problem
from .catalog import Template, TemplateError

SUFFIX = ".tmpl"
PLACEHOLDER = re.compile(r"\{\{edge:([a-z_]+)\}\}")
# Anything that looks like one of ours: an unknown key or a typo is a template bug.
LOOKS_LIKE_OURS = re.compile(r"\{\{\s*edge\b")


@dataclass(frozen=True)
class Created:
    template: Template
    name: str
    directory: Path
    files: list[Path]  # relative to directory


def placeholders(name: str) -> dict[str, str]:
    """The values a template may use, from a valid app name."""
    return {
        "name": name,  # the application name and the component id
        "snake": name.lower().replace("-", "_"),  # for Python names (test_<snake>.py)
    }


def check_name(name: str) -> None:
    # The name is the app's component id too: Spin's rule for those is the stricter.
    problem = kebab_problem(name)
    if problem is not None:
        raise TemplateError(
            f"invalid application name {name!r}: {problem}. It names the application and its "
            "component in spin.toml, so it follows Spin's rule for component ids: words of "
            "ASCII letters and digits joined by '-', such as my-app"
        )


def render_text(text: str, values: dict[str, str], where: str) -> str:
    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            known = ", ".join(sorted(values))
            raise TemplateError(f"{where}: unknown placeholder {match.group(0)} (known: {known})")
        return values[key]

    rendered = PLACEHOLDER.sub(value, text)
    stray = LOOKS_LIKE_OURS.search(rendered)
    if stray is not None:
        line = rendered.count("\n", 0, stray.start()) + 1
        raise TemplateError(f"{where}, line {line}: malformed placeholder (use {{{{edge:KEY}}}})")
    return rendered


def _check_target(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise TemplateError(f"{directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()):
        raise TemplateError(
            f"{directory} exists and is not empty: choose another NAME or --dir, "
            "or empty it first (nothing was written)"
        )


def create_app(template: Template, name: str, directory: Path | None = None) -> Created:
    """Write `template` rendered for `name` into `directory` (default ./NAME)."""
    check_name(name)
    target = directory if directory is not None else Path(name)
    _check_target(target)
    values = placeholders(name)
    rendered: dict[Path, str] = {}
    for relative in template.files():
        where = f"template {template.name!r}: {relative}"
        out = Path(render_text(str(relative), values, where))
        out = out.with_name(out.name.removesuffix(SUFFIX))
        if out in rendered:
            raise TemplateError(f"{where}: renders to {out}, as another file does")
        text = (template.root / relative).read_text(encoding="utf-8")
        rendered[out] = render_text(text, values, where)
    for out, text in rendered.items():
        path = target / out
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return Created(template, name, target, sorted(rendered))
