"""What each region gets: variable values, and the secrets that come from the environment.

Plain variables come from the deploy file (a region's own over the file's
`[variables]`), then from `SPIN_VARIABLE_<NAME>` for a required variable that
the file leaves out. Secrets never come from a file in the repository: a
variable the manifest declares `secret = true` from `SPIN_VARIABLE_<NAME>`, a
libSQL token from `EDGE_SQL_TOKEN_<LABEL>` (or the database's `token_env`), a
Redis password from `EDGE_KV_PASSWORD_<LABEL>`; each in the environment or
`./.env`. A `SecretValue` never shows its value in repr or str.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..app.model import Manifest
from ..app.variables import env_key
from .config import DeployFile


@dataclass(frozen=True, repr=False)
class SecretValue:
    """A secret and the environment variable it comes from; `value` None: not set."""

    source: str
    value: str | None

    @property
    def is_set(self) -> bool:
        return bool(self.value)

    def __repr__(self) -> str:
        state = "set" if self.is_set else "NOT SET"
        return f"SecretValue(source={self.source!r}, {state})"

    __str__ = __repr__

    def placeholder(self) -> str:
        """What a record or a plan shows instead of the value."""
        return f"<secret from {self.source}>"


@dataclass(frozen=True)
class RegionValues:
    """One region's variables: plain values (and where each came from) and secrets."""

    plain: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, SecretValue] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def region_values(
    manifest: Manifest, deploy: DeployFile, region: str | None, env: Mapping[str, str]
) -> RegionValues:
    """`region` None: the values of a target without regions (the file's [variables])."""
    file_values = deploy.variables if region is None else deploy.region_variables(region)
    where = "[variables]" if region is None else f"[regions.{region}.variables]"
    plain: dict[str, str] = {}
    sources: dict[str, str] = {}
    secrets: dict[str, SecretValue] = {}
    problems: list[str] = []
    for name, decl in manifest.variables.items():
        key = env_key(name)
        if decl.secret:
            value = env.get(key) or None
            if value is not None:
                secrets[name] = SecretValue(key, value)
            elif decl.required:
                secrets[name] = SecretValue(key, None)
                problems.append(f"secret variable {name!r} is required: set {key}")
            continue
        if name in file_values:
            plain[name] = file_values[name]
            own = region is not None and name in deploy.regions[region].variables
            sources[name] = f"{deploy.path.name} {where if own else '[variables]'}"
        elif decl.required:
            if env.get(key) is not None:
                plain[name] = env[key]
                sources[name] = f"environment {key}"
            else:
                problems.append(
                    f"required variable {name!r} has no value"
                    + (f" in region {region!r}" if region else "")
                    + f": give it in {deploy.path.name} or set {key}"
                )
    return RegionValues(plain, sources, secrets, tuple(problems))


def database_tokens(deploy: DeployFile, env: Mapping[str, str]) -> dict[str, SecretValue]:
    """Label -> token of each libSQL database."""
    return {
        label: SecretValue(db.token_env, env.get(db.token_env) or None)
        for label, db in deploy.databases.items()
        if db.type == "libsql"
    }


def kv_passwords(deploy: DeployFile, env: Mapping[str, str]) -> dict[str, SecretValue]:
    """Label -> password of each Redis key-value store (unset is fine: no AUTH)."""
    return {
        label: SecretValue(store.password_env, env.get(store.password_env) or None)
        for label, store in deploy.key_value.items()
        if store.type == "redis"
    }


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every secret value in it replaced by ***."""
    for value in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(value, "***")
    return text
