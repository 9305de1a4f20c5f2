"""The data model of a Spin manifest: frozen dataclasses, as `load` returns them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class VariableDecl:
    """An application variable of `[variables]`: a default, or `required = true`."""

    name: str
    default: str | None = None
    required: bool = False
    secret: bool = False
    description: str = ""


@dataclass(frozen=True)
class PrivateEndpoint:
    """`route = { private = true }`: reachable only by local service chaining."""


@dataclass(frozen=True)
class HttpTrigger:
    route: str | PrivateEndpoint
    component: str
    executor: str = "spin"
    id: str = ""

    @property
    def private(self) -> bool:
        return isinstance(self.route, PrivateEndpoint)


@dataclass(frozen=True)
class RedisTrigger:
    """`[[trigger.redis]]`: messages on `channel` run `component`.

    `channel` and `address` are templates of application variables, as Spin
    reads them; `address` None is the app's `[application.trigger.redis]` one.
    """

    channel: str
    component: str
    address: str | None = None


@dataclass(frozen=True)
class CronTrigger:
    """`[[trigger.cron]]` of Spin's cron plugin: `component` on a six-field schedule."""

    component: str
    cron_expression: str


@dataclass(frozen=True)
class FileMount:
    """`files = [{ source = "assets", destination = "/static" }]`."""

    source: str
    destination: str


@dataclass(frozen=True)
class BuildSpec:
    command: str | tuple[str, ...]
    workdir: Path
    watch: tuple[str, ...] = ()

    @property
    def commands(self) -> tuple[str, ...]:
        return (self.command,) if isinstance(self.command, str) else self.command


@dataclass(frozen=True)
class ComponentSpec:
    id: str
    source: Path
    description: str = ""
    key_value_stores: tuple[str, ...] = ()
    sqlite_databases: tuple[str, ...] = ()
    variables: dict[str, str] = field(default_factory=dict)
    allowed_outbound_hosts: tuple[str, ...] = ()
    allowed_http_hosts: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    files: tuple[str | FileMount, ...] = ()
    exclude_files: tuple[str, ...] = ()
    ai_models: tuple[str, ...] = ()
    build: BuildSpec | None = None


@dataclass(frozen=True)
class Manifest:
    path: Path
    root: Path
    name: str
    version: str = ""
    description: str = ""
    authors: tuple[str, ...] = ()
    variables: dict[str, VariableDecl] = field(default_factory=dict)
    http_triggers: list[HttpTrigger] = field(default_factory=list)
    components: dict[str, ComponentSpec] = field(default_factory=dict)
    base: str = "/"
    # `[application.trigger.redis] address`: the Redis trigger's default server.
    redis_address: str | None = None
    redis_triggers: list[RedisTrigger] = field(default_factory=list)
    cron_triggers: list[CronTrigger] = field(default_factory=list)
    # Triggers of other types (mqtt, sqs, ...) as written: edge does not run them.
    other_triggers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def routes(self) -> list[tuple[str, str]]:
        """(route, component id) of each routable HTTP trigger, in manifest order."""
        out = []
        for trigger in self.http_triggers:
            if isinstance(trigger.route, str):
                route = trigger.route
                if self.base not in ("", "/"):
                    route = self.base.rstrip("/") + route
                out.append((route, trigger.component))
        return out
