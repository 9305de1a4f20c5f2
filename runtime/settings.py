"""Settings of the local runtime (`edge up`).

Each comes, in this order of precedence, from a CLI flag (`load_settings`
overrides), an `EDGE_<NAME>` environment variable, the same key in `./.env`, or
the default. Nothing of this goes into `spin.toml`: real Spin must accept it.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from dotenv import dotenv_values
from pydantic import (
    Field,
    SecretStr,
    SerializationInfo,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .app.runtime_config import TOKEN_ENV_PREFIX
from .durations import parse_duration
from .ranges import parse_count_range, parse_duration_range

log = logging.getLogger("edge.settings")

# EDGE_* variables that are not settings: how the supervisor hands settings to workers.
# Not settings of edge up, yet edge's: the workers' handoff, registry credentials,
# and edge deploy's kubectl.
_NOT_SETTINGS = {
    "EDGE_WORKER_SETTINGS",
    "EDGE_WORKER_LIFELINE",
    "EDGE_WORKER_INDEX",
    # Credentials of `edge push` / `edge up -f REF` (runtime.deploy.oci_registry).
    "EDGE_REGISTRY_USERNAME",
    "EDGE_REGISTRY_PASSWORD",
    "EDGE_KUBECTL",
}
# Prefixes of secrets that edge deploy reads: a Redis password per key-value label.
_SECRET_PREFIXES = ("EDGE_KV_PASSWORD_",)

DEFAULT_REGIONS = ("us-east", "eu-west", "ap-south")
DEFAULT_ENV_FILE = Path(".env")

# `spin up` itself sets no limit on request bodies (Spin's HTTP trigger has none);
# Fermyon's hosted Spin does: "HTTP body size limit 10 MB" on Fermyon Cloud and
# "Request/response size 10 MiB" on Fermyon Wasm Functions (their quota FAQs).
# The emulator enforces the hosted figure so that apps meet it before deploying.
MAX_BODY_BYTES = 10 * 1024 * 1024

# The context of `model_dump_json` that keeps the tokens (the supervisor's handoff).
WITH_SECRETS = {"secrets": True}

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


def default_cache_dir() -> Path:
    # The XDG spec says to ignore a relative XDG_CACHE_HOME.
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "edge"


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:3000`) -> (host, port); ValueError if malformed."""
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected HOST:PORT, e.g. 127.0.0.1:3000, got {value!r}")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"port must be a number from 0 to 65535, got {port_text!r} in {value!r}")
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f"{host} is not an IPv6 address") from None
    elif ":" in host:
        raise ValueError(f"write an IPv6 address in brackets, e.g. [::1]:3000, not {value!r}")
    elif not _HOST_NAME.fullmatch(host):
        raise ValueError(f"{host!r} is not a host name or IP address")
    return host, int(port_text)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EDGE_",
        env_file=DEFAULT_ENV_FILE,
        env_file_encoding="utf-8",
        # .env also holds other tools' keys (e.g. Spin's SPIN_VARIABLE_*); unknown
        # EDGE_* keys get a warning from load_settings instead.
        extra="ignore",
    )

    manifest: Path = Path("spin.toml")
    listen: str = "127.0.0.1:3000"
    state_dir: Path = Path(".edge")
    # NoDecode: the env value is "a,b,c" (as the --regions flag), not JSON.
    regions: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_REGIONS))
    default_region: str | None = None
    primary_region: str | None = Field(
        None, description="region of the SQL primary (Turso model); default: default_region"
    )
    hrana_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="first port of the Hrana endpoints (one per region and database); "
        "0: any free ports; default: the listen port + 1",
    )
    hrana_token: SecretStr | None = Field(
        None, description="when set, Hrana clients must send it (Authorization: Bearer)"
    )
    admin_token: SecretStr | None = Field(
        None,
        description="when set, the admin API (/_edge/) requires it (Authorization: Bearer); "
        "default: the Hrana token",
    )
    # NoDecode: the env value is "a,b" (as --allowed-host given twice), not JSON.
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="host names the admin API and Hrana answer besides loopback ones",
    )
    sql_write_timeout: str = Field(
        "2s", description="how long a write waits for an unreachable primary before failing"
    )
    deadline_ms: int = Field(
        5000, gt=0, description="time limit per request: wall clock, host calls included"
    )
    memory_limit_mb: int = Field(256, gt=0, description="memory limit per instance")
    max_body_bytes: int = Field(MAX_BODY_BYTES, gt=0, description="request body limit")
    body_timeout: str = Field(
        "10s", description="time a request's whole body may take to arrive, from its headers"
    )
    max_connections: int = Field(
        512, gt=0, description="open HTTP connections per worker; more wait to be accepted"
    )
    workers: int = Field(default_factory=default_workers, ge=1)
    worker_timeout: str = Field(
        "30s",
        description="a worker that sends no heartbeat, or whose wasm thread is on one job, "
        "this long is killed and replaced; must exceed the request deadline",
    )
    pool_size: int = Field(1, ge=0, description="instances made ahead, per worker and component")
    pooling: bool = Field(
        True,
        description="instances in slots of wasmtime's pooling allocator (off: mapped each time)",
    )
    keep_resident_mb: int = Field(
        16,
        ge=0,
        description="MiB of each pooled instance memory kept mapped between instances: "
        "copied back instead of faulted in again (more resident memory per slot)",
    )
    max_instance_reuse_count: str = Field(
        "1",
        description="requests one instance serves (Spin 4's flag): N, or A..B drawn per "
        "instance; 1 (the default, as Spin for WASI P2): a fresh instance per request",
    )
    idle_instance_timeout: str = Field(
        "1s", description="how long a reused instance waits for its next request (or A..B)"
    )
    log_level: str = "info"
    watch: bool = Field(
        False, description="rebuild a component when its watched files change, and swap it in"
    )
    watch_debounce_ms: int = Field(
        100, ge=0, description="watch mode: quiet time after a change before building (ms)"
    )
    cache_dir: Path | None = Field(None, description="compiled components; default ~/.cache/edge")
    replication_lag: str = Field("1s", description="time for a write to reach other regions")
    jitter: str = Field("200ms", description="random extra lag per change, up to this much")
    seed: int = Field(0, description="seed of the jitter: same seed, same delivery times")
    runtime_config_file: Path | None = Field(
        None, description="Spin runtime config: [sqlite_database.<label>] on remote libSQL"
    )
    redis_timeout: str = Field(
        "5s", description="how long outbound Redis waits to connect, and for each reply"
    )
    redis_port: int | None = Field(
        None, ge=1, le=65535, description="port of the Redis server edge up starts (default: free)"
    )
    redis_server: str | None = Field(
        None, description="the Redis server binary (default: redis-server or valkey-server)"
    )
    # NoDecode: the env value is "api.example.com=us-east,db.example.com=eu-west".
    origins: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="outbound HTTP to these host names pays the latency matrix's round trip "
        "from the caller's region to theirs (NAME=REGION); off by default",
    )
    # NoDecode: the env value is "redis:audit=us-east,eu-west;cron:jobs=us-east".
    trigger_regions: Annotated[dict[str, list[str]], NoDecode] = Field(
        default_factory=dict,
        description="regions that run a trigger (redis:<channel> or cron:<component>=R1,R2); "
        "default: every region",
    )
    # Not a setting people give: how the supervisor tells its workers the address
    # of the Redis server it started (the app's `redis_address`).
    redis_embedded_address: str | None = None

    @field_validator("replication_lag", "jitter", "sql_write_timeout", "worker_timeout")
    @classmethod
    def _check_duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("max_instance_reuse_count")
    @classmethod
    def _check_reuse_count(cls, value: str) -> str:
        parse_count_range(value)
        return value.strip()

    @field_validator("idle_instance_timeout")
    @classmethod
    def _check_idle_timeout(cls, value: str) -> str:
        parse_duration_range(value)
        return value.strip()

    @field_validator("body_timeout", "redis_timeout")
    @classmethod
    def _check_positive_duration(cls, value: str) -> str:
        if parse_duration(value) <= 0:
            raise ValueError(f"must be longer than 0, got {value!r}")
        return value

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        host, port = parse_listen(value)
        return f"{host}:{port}"

    @property
    def listen_address(self) -> tuple[str, int]:
        """`listen` as (host, port), an IPv6 host without its brackets."""
        host, port = parse_listen(self.listen)
        return host.strip("[]"), port

    @field_validator("origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [item for item in value.split(",") if item.strip()]
        if isinstance(value, list | tuple):
            pairs: dict[str, str] = {}
            for item in value:
                name, sep, region = str(item).partition("=")
                if not sep or not name.strip() or not region.strip():
                    raise ValueError(f"{item!r} is not NAME=REGION (e.g. api.example.com=us-east)")
                pairs[name.strip().lower().rstrip(".")] = region.strip()
            return pairs
        return value

    @field_validator("trigger_regions", mode="before")
    @classmethod
    def _parse_trigger_regions(cls, value: object) -> object:
        if isinstance(value, str):
            value = [item for item in value.split(";") if item.strip()]
        if isinstance(value, list | tuple):
            out: dict[str, list[str]] = {}
            for item in value:
                key, sep, names = str(item).partition("=")
                key = key.strip()
                regions = [r.strip() for r in names.split(",") if r.strip()]
                if not sep or not regions or not key.startswith(("redis:", "cron:")):
                    raise ValueError(
                        f"{item!r} is not redis:<channel>=R1,R2 or cron:<component>=R1,R2"
                    )
                out[key] = regions
            return out
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _check_hosts(cls, value: list[str]) -> list[str]:
        names = [name.strip().lower().rstrip(".") for name in value]
        for name in names:
            if not _HOST_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a host name")
        return names

    @field_serializer("hrana_token", "admin_token", when_used="json")
    def _dump_secret(self, value: SecretStr | None, info: SerializationInfo) -> str | None:
        # Masked in any dump, except the one that hands the settings to a worker.
        if value is None:
            return None
        return value.get_secret_value() if info.context == WITH_SECRETS else str(value)

    @property
    def admin_secret(self) -> str | None:
        """The token the admin API asks for: the admin token, else the Hrana token."""
        token = self.admin_token or self.hrana_token
        return token.get_secret_value() if token else None

    @field_validator("regions", "allowed_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",")] if text else []
        if isinstance(value, tuple):
            return list(value)
        return value

    @field_validator("regions")
    @classmethod
    def _check_regions(cls, value: list[str]) -> list[str]:
        names = [name.strip().lower() for name in value]
        if not names:
            raise ValueError("at least one region is needed")
        for name in names:
            if not name:
                raise ValueError("a region name is empty (check for a stray comma)")
            if not _DNS_LABEL.fullmatch(name):
                raise ValueError(
                    f"region {name!r} is not a DNS label: 1-63 letters, digits and hyphens, "
                    "not starting or ending with a hyphen (it becomes a host name)"
                )
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"region listed more than once: {', '.join(duplicates)}")
        return names

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.strip().lower()
        level = "warning" if level == "warn" else level
        if level not in LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
        return level

    @field_validator("manifest", "state_dir", "cache_dir", "runtime_config_file")
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @model_validator(mode="after")
    def _check_worker_timeout(self) -> Settings:
        if parse_duration(self.worker_timeout) * 1000 <= self.deadline_ms:
            raise ValueError(
                f"worker_timeout ({self.worker_timeout}) must be longer than the request "
                f"deadline ({self.deadline_ms} ms), or busy workers count as stuck"
            )
        return self

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        self.default_region = self._region("default_region", self.regions[0])
        self.primary_region = self._region("primary_region", self.default_region)
        if self.cache_dir is None:
            self.cache_dir = default_cache_dir()
        return self

    def _region(self, field: str, fallback: str) -> str:
        """The region a setting names (case-insensitively), or `fallback` if unset."""
        value: str | None = getattr(self, field)
        if value is None:
            return fallback
        name = value.strip().lower()
        if name not in self.regions:
            raise ValueError(
                f"{field} {value!r} is not one of the regions ({', '.join(self.regions)})"
            )
        return name


def load_settings(*, env_file: str | Path | None = DEFAULT_ENV_FILE, **overrides: Any) -> Settings:
    """Settings from CLI flags (`overrides`), then EDGE_* variables, then `env_file`.

    An override of None means "flag not given" and is skipped; an unknown name is
    a TypeError (a programming error, not a user's).
    """
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(unknown)}")
    for key in unknown_edge_keys(os.environ, env_file):
        log.warning("%s is not an edge setting (ignored); known: %s", key, _known_keys())
    # Passed as a dict: init keywords outrank every other source in pydantic-settings.
    kwargs: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    kwargs["_env_file"] = env_file
    return Settings(**kwargs)


def unknown_edge_keys(env: Mapping[str, str], env_file: str | Path | None) -> list[str]:
    """EDGE_* keys in `env` or `env_file` that name no setting (likely typos)."""
    keys = set(env)
    if env_file is not None and Path(env_file).is_file():
        keys |= set(dotenv_values(env_file, encoding="utf-8"))
    known = {f"EDGE_{name.upper()}" for name in Settings.model_fields} | _NOT_SETTINGS
    # EDGE_SQL_TOKEN_<LABEL> carries a database token (runtime.app.runtime_config).
    return sorted(
        k
        for k in keys
        if k.upper().startswith("EDGE_")
        and k.upper() not in known
        and not k.upper().startswith(TOKEN_ENV_PREFIX)
        and not k.upper().startswith(_SECRET_PREFIXES)
    )


def _known_keys() -> str:
    return ", ".join(f"EDGE_{name.upper()}" for name in Settings.model_fields)
