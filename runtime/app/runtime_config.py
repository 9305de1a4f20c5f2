"""Spin's runtime config file (`spin up --runtime-config-file`), the parts edge uses.

`[sqlite_database.<label>]` with `type = "libsql"`, a `url` and a `token` sends
that database to a remote libSQL server (Turso, sqld) instead of the emulated
regions. As in Spin (crates/sqlite, `LibSqlDatabase`): both keys are required,
no others are allowed, and the URL must start with `https://` or `http://`;
Spin does not rewrite `libsql://` URLs, it refuses them. Spin reads the file as
plain TOML, with no `{{ env.X }}` templating, so edge takes an override of the
token from the environment instead: `EDGE_SQL_TOKEN_<LABEL>` (upper case, `-`
as `_`), also from `./.env`.

`[outbound_redis] max_connections` bounds the app's open Redis connections.
`type = "spin"` databases and key-value stores stay local; their `path` is
ignored (each region keeps its own copy under the state directory). Other
top-level tables that Spin knows are accepted and ignored; unknown keys are
errors, as they are for Spin. Every error names the file, the key and the line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import ManifestError
from .checker import Checker
from .syntax import KeyPath, format_key, parse_toml, read_toml
from .variables import read_dotenv

TOKEN_ENV_PREFIX = "EDGE_SQL_TOKEN_"

_SECTIONS = {"sqlite_database", "key_value_store", "outbound_redis"}
# Top-level keys Spin's runtime config knows that mean nothing to `edge up`.
_SPIN_ONLY_KEYS = {
    "state_dir",
    "log_dir",
    "max_instance_memory",
    "variables_provider",
    "config_provider",
    "llm_compute",
    "outbound_networking",
    "client_tls",
    "outbound_http",
    "outbound_pg",
    "outbound_mysql",
    "outbound_mqtt",
}


class RuntimeConfigError(ManifestError):
    """Something is wrong in a runtime config file; file, dotted key and line as ManifestError."""


@dataclass(frozen=True, repr=False)
class LibsqlDatabase:
    """A `type = "libsql"` database. The token never appears in repr or str."""

    label: str
    url: str
    token: str

    def __repr__(self) -> str:
        return (
            f"LibsqlDatabase(label={self.label!r}, url={display_url(self.url)!r}, token=<hidden>)"
        )


@dataclass(frozen=True)
class RuntimeConfig:
    path: Path
    libsql: Mapping[str, LibsqlDatabase]  # label -> remote database
    local_sqlite: tuple[str, ...]  # labels of `type = "spin"` databases
    notes: tuple[str, ...]  # what was accepted but is ignored or differs from Spin
    # [outbound_redis] max_connections: open Redis connections of the app at once
    redis_max_connections: int | None = None

    def summary(self) -> list[str]:
        """What `edge up` prints: which database goes where (never a token)."""
        lines = [f"runtime config {self.path}:"]
        for label, db in sorted(self.libsql.items()):
            lines.append(f"  SQL database {label!r} -> {display_url(db.url)} (libSQL, all regions)")
        lines += [f"  SQL database {label!r} -> local, per region" for label in self.local_sqlite]
        if self.redis_max_connections is not None:
            lines.append(f"  outbound Redis: at most {self.redis_max_connections} connections")
        lines += [f"  note: {note}" for note in self.notes]
        return lines


def display_url(url: str) -> str:
    """`url` without user info, query or fragment, which may carry credentials."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<malformed URL>"
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=host, query="", fragment="").geturl()


def token_env_name(label: str) -> str:
    return TOKEN_ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", label).upper()


def load_runtime_config(path: str | Path, env: Mapping[str, str] | None = None) -> RuntimeConfig:
    """Read and check a runtime config file. `env` defaults to os.environ over `./.env`."""
    file = Path(path)
    text = read_toml(file, RuntimeConfigError, "a Spin runtime config (runtime-config.toml)")
    return parse_runtime_config(text, file, env)


def parse_runtime_config(
    text: str, path: str | Path = "runtime-config.toml", env: Mapping[str, str] | None = None
) -> RuntimeConfig:
    file = Path(path)
    data = parse_toml(text, file, RuntimeConfigError)
    return _Parser(file, text).config(data, _default_env() if env is None else env)


def _default_env() -> dict[str, str]:
    return {**read_dotenv(Path(".env")), **os.environ}


def url_problem(url: str) -> str | None:
    """Why Spin would refuse `url` for a libSQL database, or None."""
    scheme, sep, rest = url.partition("://")
    if not url.startswith(("https://", "http://")):  # Spin's own check, case and all
        if sep and scheme.lower() in ("libsql", "wss", "ws"):
            host = display_url("https://" + rest)
            return (
                f"Spin talks to libSQL only over HTTP(S) and refuses {scheme}:// URLs: "
                f"write {host!r}"
            )
        return "must start with https:// or http:// (Spin talks to libSQL only over HTTP(S))"
    parts = urlsplit(url)
    if not parts.hostname:
        return "has no host name"
    if parts.query or parts.fragment:
        return "must not have a query or fragment: give the token with `token = ...`"
    return None


class _Parser(Checker):
    error = RuntimeConfigError

    def config(self, data: dict[str, Any], env: Mapping[str, str]) -> RuntimeConfig:
        self.check_keys(data, (), _SECTIONS | _SPIN_ONLY_KEYS, "the runtime config")
        notes = [f"{key}: not used by edge up (ignored)" for key in data if key in _SPIN_ONLY_KEYS]
        libsql: dict[str, LibsqlDatabase] = {}
        local: list[str] = []
        databases = self.table(data.get("sqlite_database", {}), ("sqlite_database",))
        for label, value in databases.items():
            path: KeyPath = ("sqlite_database", label)
            entry = self.table(value, path)
            kind = self.kind(entry, path, '"spin" or "libsql"')
            if kind == "libsql":
                libsql[label] = self.libsql(label, entry, path, env, notes)
            elif kind == "spin":
                where = f'[sqlite_database.{label}] of type "spin"'
                self.check_keys(entry, path, {"type", "path", "allow_attach_file"}, where)
                if "allow_attach_file" in entry:
                    self.boolean(entry["allow_attach_file"], path + ("allow_attach_file",))
                self.ignored_path(entry, path, notes)
                local.append(label)
            else:
                self.fail(
                    path + ("type",),
                    f'unknown database type "{kind}": Spin knows "spin" (a local file) '
                    'and "libsql" (a remote libSQL or Turso database)',
                )
        stores = self.table(data.get("key_value_store", {}), ("key_value_store",))
        for label, value in stores.items():
            path = ("key_value_store", label)
            entry = self.table(value, path)
            kind = self.kind(entry, path, '"spin"')
            if kind != "spin":
                self.fail(
                    path + ("type",),
                    f'key-value store type "{kind}" is not supported by edge up, which keeps '
                    'key-value stores in its emulated regions: use type = "spin" (or spin up)',
                )
            self.check_keys(
                entry, path, {"type", "path"}, f'[key_value_store.{label}] of type "spin"'
            )
            self.ignored_path(entry, path, notes)
        redis_max = self.outbound_redis(data.get("outbound_redis"))
        return RuntimeConfig(self.file, libsql, tuple(local), tuple(notes), redis_max)

    def outbound_redis(self, value: Any) -> int | None:
        if value is None:
            return None
        path: KeyPath = ("outbound_redis",)
        entry = self.table(value, path)
        self.check_keys(entry, path, {"max_connections"}, "[outbound_redis]")
        if "max_connections" not in entry:
            return None
        count = entry["max_connections"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            self.fail(path + ("max_connections",), f"must be a whole number >= 0, not {count!r}")
        return int(count)

    def kind(self, entry: dict[str, Any], path: KeyPath, choices: str) -> str:
        if "type" not in entry:
            self.fail(path + ("type",), f"missing: the type ({choices})")
        return self.string(entry["type"], path + ("type",))

    def ignored_path(self, entry: dict[str, Any], path: KeyPath, notes: list[str]) -> None:
        if "path" in entry:
            self.string(entry["path"], path + ("path",))
            notes.append(
                f"{format_key(path + ('path',))} is ignored: edge up keeps each region's copy "
                "under its state directory"
            )

    def libsql(
        self,
        label: str,
        entry: dict[str, Any],
        path: KeyPath,
        env: Mapping[str, str],
        notes: list[str],
    ) -> LibsqlDatabase:
        self.check_keys(
            entry, path, {"type", "url", "token"}, f'[sqlite_database.{label}] of type "libsql"'
        )
        if "url" not in entry:
            self.fail(path + ("url",), 'missing: the database URL (url = "https://my-db.turso.io")')
        url = self.string(entry["url"], path + ("url",))
        problem = url_problem(url)
        if problem is not None:
            self.fail(path + ("url",), problem)
        variable = token_env_name(label)
        token = self.string(entry["token"], path + ("token",)) if "token" in entry else None
        if env.get(variable) is not None:
            token = env[variable]
            notes.append(f"{format_key(path + ('token',))}: taken from {variable}")
            if "token" not in entry:
                notes.append(f"{format_key(path)}: Spin itself needs `token` in the file")
        if token is None:
            self.fail(
                path + ("token",), f'missing: the database token (token = "...", or set {variable})'
            )
        return LibsqlDatabase(label, url, token)
