"""Spin variables as `spin up` resolves them.

Application variables are declared in the manifest's `[variables]` (a default, or
`required = true`). A component sees only the names in its own
`[component.<id>.variables]`, each mapped to a template such as
`"https://{{ api_host }}/v1"` whose `{{ name }}` expressions name application
variables. A value for an application variable comes from a provider first (here
Spin's default one: the environment variable `SPIN_VARIABLE_<NAME>`, else the same
key in a `.env` file), and only then from its default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dotenv import dotenv_values

from ..errors import EdgeError

if TYPE_CHECKING:
    from .model import Manifest

ENV_PREFIX = "SPIN_VARIABLE"
DEFAULT_DOTENV = Path(".env")


class VariableError(EdgeError):
    """Base of the errors a guest's `variables.get` can get."""


class InvalidVariableName(VariableError):
    """The guest asked for a name that no variable can have."""

    def __init__(self, name: str, reason: str | None = None) -> None:
        self.name = name
        self.reason = reason or name_problem(name) or "not a valid variable name"
        super().__init__(f'"{name}": {self.reason}')


class UndefinedVariable(VariableError):
    """The component declares no variable of that name."""

    def __init__(self, name: str, component_id: str | None = None) -> None:
        self.name = name
        self.component_id = component_id
        where = f' for component "{component_id}"' if component_id is not None else ""
        super().__init__(f'no variable "{name}"{where}')


class VariableProviderError(VariableError):
    """No value could be had for a variable (e.g. a required one that nobody set)."""


def read_dotenv(path: Path) -> dict[str, str]:
    """What a `.env` file sets (nothing without the file); keys without a value are left out."""
    if not path.is_file():
        return {}
    try:
        raw = dotenv_values(path, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise VariableProviderError(f"cannot read {path}: {exc}") from exc
    return {k: v for k, v in raw.items() if v is not None}


class TemplateError(VariableError):
    """A variable template that cannot be parsed."""


class MissingRequiredVariables(EdgeError):
    """Startup check: required application variables that nothing provides."""

    def __init__(self, missing: Mapping[str, Iterable[str]], prefix: str = ENV_PREFIX) -> None:
        self.names = sorted(missing)
        lines = []
        for name in self.names:
            users = ", ".join(f"'{cid}'" for cid in sorted(set(missing[name])))
            lines.append(
                f"required variable '{name}' has no value (used by component {users}): "
                f"set {env_key(name, prefix)} in the environment or in .env"
            )
        super().__init__("\n".join(lines))


def name_problem(name: str) -> str | None:
    """Why `name` is not a valid variable name by Spin's runtime rule, or None.

    Spin checks every name a guest asks for: lowercase ASCII letters, digits and
    single underscores, starting with a letter and not ending with an underscore
    (so that it maps cleanly onto an environment variable name).
    """
    if not name:
        return "must not be empty"
    allowed = "abcdefghijklmnopqrstuvwxyz0123456789_"
    bad = next((c for c in name if c not in allowed), None)
    if bad is not None:
        return (
            f"invalid character {bad!r}: variable names may contain only lowercase letters, "
            "digits and underscores"
        )
    if not name[0].islower():
        return "must start with a lowercase ASCII letter"
    if name.endswith("_"):
        return "must end with a lowercase ASCII letter or a digit"
    if "__" in name:
        return "must not contain two underscores in a row"
    return None


def check_name(name: str) -> None:
    reason = name_problem(name)
    if reason is not None:
        raise InvalidVariableName(name, reason)


def env_key(name: str, prefix: str = ENV_PREFIX) -> str:
    """The environment variable that Spin's env provider reads for `name`."""
    return f"{prefix}_{name.upper()}" if prefix else name.upper()


@dataclass(frozen=True)
class Expr:
    """A `{{ name }}` in a template; `name` is stripped of surrounding whitespace."""

    name: str


@dataclass(frozen=True)
class Template:
    """Spin's variable template: literal text and `{{ expr }}` parts.

    As in Spin there is no escaping: every `{{` opens an expression that ends at
    the next `}}`, and a `{{` without its `}}` is an error. A lone `}}` is text.
    """

    source: str
    parts: tuple[str | Expr, ...]

    @classmethod
    def parse(cls, text: str) -> Template:
        parts: list[str | Expr] = []
        rest = text
        while rest:
            if rest.startswith("{{"):
                end = rest.find("}}", 2)
                if end < 0:
                    raise TemplateError("unmatched '{{' in template")
                parts.append(Expr(rest[2:end].strip()))
                rest = rest[end + 2 :]
            else:
                start = rest.find("{{")
                if start < 0:
                    start = len(rest)
                parts.append(rest[:start])
                rest = rest[start:]
        return cls(text, tuple(parts))

    @property
    def references(self) -> tuple[str, ...]:
        """The variable names used, each once, in order of first use."""
        names = (p.name for p in self.parts if isinstance(p, Expr))
        return tuple(dict.fromkeys(names))

    @property
    def is_literal(self) -> bool:
        return not any(isinstance(p, Expr) for p in self.parts)

    def render(self, lookup: Callable[[str], str]) -> str:
        return "".join(p if isinstance(p, str) else lookup(p.name) for p in self.parts)


class VariableResolver:
    """Answers a component's `variables.get(name)` the way Spin does.

    `env` is the process environment (or a stand-in for tests). `dotenv_path` is
    read only for keys missing from `env`, as Spin's default env provider does
    with `./.env`; a relative path is taken from the current directory, and a
    missing file counts as empty. Pass `dotenv_path=None` to read no file.
    """

    def __init__(
        self,
        manifest: Manifest,
        env: Mapping[str, str],
        *,
        dotenv_path: str | Path | None = DEFAULT_DOTENV,
        prefix: str = ENV_PREFIX,
        fallbacks: Mapping[str, str] | None = None,
    ) -> None:
        self.manifest = manifest
        self.env = env
        self.prefix = prefix
        # Values the local runtime supplies when neither a provider nor a default
        # does (the address of the Redis server it started).
        self.fallbacks = dict(fallbacks or {})
        # Fixed now, so that a later chdir does not change which file is read.
        self.dotenv_path = Path(dotenv_path).absolute() if dotenv_path is not None else None
        self._dotenv: dict[str, str] | None = None
        self._templates: dict[str, dict[str, Template]] = {}
        for cid, spec in manifest.components.items():
            templates: dict[str, Template] = {}
            for key, text in spec.variables.items():
                try:
                    templates[key] = Template.parse(text)
                except TemplateError as exc:
                    # load() rejects these; only a hand-made Manifest gets here.
                    raise EdgeError(f"component '{cid}': variable '{key}': {exc}") from None
            self._templates[cid] = templates

    def provided(self, name: str) -> str | None:
        """The provider's value for application variable `name`, if any."""
        key = env_key(name, self.prefix)
        value = self.env.get(key)
        if value is not None:
            return value
        return self._dotenv_values().get(key)

    def app_value(self, name: str) -> str:
        """The value of application variable `name`: provider first, then default."""
        decl = self.manifest.variables.get(name)
        if decl is None:
            raise UndefinedVariable(name)
        value = self.provided(name)
        if value is not None:
            return value
        if decl.default is not None:
            return decl.default
        if name in self.fallbacks:
            return self.fallbacks[name]
        raise VariableProviderError(
            f'no provider resolved required variable "{name}": set {env_key(name, self.prefix)}'
        )

    def resolve(self, component_id: str, name: str) -> str:
        """The value of the component's variable `name` (what `variables.get` returns)."""
        check_name(name)
        template = self._templates.get(component_id, {}).get(name)
        if template is None:
            raise UndefinedVariable(name, component_id)
        return template.render(self.app_value)

    def resolve_all(self, component_id: str) -> dict[str, str]:
        names = self._templates.get(component_id, {})
        return {name: self.resolve(component_id, name) for name in names}

    def check_required(self, component_ids: Iterable[str]) -> None:
        """Fail early when a required variable that these components use has no value.

        Spin checks this before serving. It checks every required application
        variable; this checks those that the given components reference.
        """
        missing: dict[str, list[str]] = {}
        for cid in component_ids:
            if cid not in self._templates:
                raise EdgeError(f"no component '{cid}' in {self.manifest.path}")
            for template in self._templates[cid].values():
                for name in template.references:
                    decl = self.manifest.variables.get(name)
                    if decl is None:
                        raise EdgeError(
                            f"component '{cid}' uses variable '{name}', which [variables] "
                            "does not declare"
                        )
                    unset = decl.default is None and name not in self.fallbacks
                    if unset and self.provided(name) is None:
                        missing.setdefault(name, []).append(cid)
        if missing:
            raise MissingRequiredVariables(missing, self.prefix)

    def _dotenv_values(self) -> dict[str, str]:
        # Read once, like Spin's provider: later edits of the file need a restart.
        if self._dotenv is None:
            self._dotenv = {} if self.dotenv_path is None else read_dotenv(self.dotenv_path)
        return self._dotenv
