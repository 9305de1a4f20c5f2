"""Which WIT world a component is built against: the base one, plus what the app uses.

componentize-py keeps every import of the world in the component, used or
not, and a host must provide each import to instantiate it; every export of
the world must be implemented. So the world follows the app's code:

- `framework.redis` imported: Spin's outbound Redis is imported
  (`world app-redis` in framework/wit/edge.wit);
- a `@redis_component` handler: Spin's Redis trigger interface is exported;
- a `@cron_component` handler: the cron plugin's `handle-cron-event` is exported.

An app with neither trigger is built against a world of edge.wit; one with
triggers against a world written for it (`world_source`), beside edge.wit in
a copy of the WIT directory.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from .importcheck import app_files

BASE_WORLD = "edge:runtime/app@0.1.0"
REDIS_WORLD = "edge:runtime/app-redis@0.1.0"
GENERATED_WORLD = "edge:runtime/app-triggers@0.1.0"
GENERATED_FILE = "app-triggers.wit"

INBOUND_REDIS = "fermyon:spin/inbound-redis"
CRON_EXPORT = "handle-cron-event"


@dataclass(frozen=True)
class Features:
    redis_client: bool = False  # imports framework.redis
    redis_trigger: bool = False  # has a @redis_component
    cron_trigger: bool = False  # has a @cron_component

    @property
    def triggers(self) -> bool:
        return self.redis_trigger or self.cron_trigger


def features_of(entry: Path, app_dir: Path) -> Features:
    trees = [
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for path in app_files(entry, app_dir)
    ]
    return Features(
        redis_client=any(_uses_redis(tree) for tree in trees),
        redis_trigger=any(_names(tree, "redis_component") for tree in trees),
        cron_trigger=any(_names(tree, "cron_component") for tree in trees),
    )


def world_for(entry: Path, app_dir: Path) -> str:
    return world_name(features_of(entry, app_dir))


def world_name(features: Features) -> str:
    if features.triggers:
        return GENERATED_WORLD
    return REDIS_WORLD if features.redis_client else BASE_WORLD


def world_source(features: Features) -> str:
    """The WIT of the generated world (a file of package edge:runtime)."""
    lines = [
        "world app-triggers {",
        "  include app-redis;" if features.redis_client else "  include app;",
    ]
    if features.redis_trigger:
        lines.append(f"  export {INBOUND_REDIS};")
    if features.cron_trigger:
        lines.append("  use fermyon:spin-cron/cron-types@2.0.0.{metadata, error};")
        lines.append(f"  export {CRON_EXPORT}: func(metadata: metadata) -> result<_, error>;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def entry_imports(features: Features) -> list[str]:
    """What the generated entry module imports from framework.trigger_exports."""
    names = []
    if features.redis_trigger:
        names.append("InboundRedis")
    if features.cron_trigger:
        names.append("WitWorld")
    return names


def _names(tree: ast.AST, name: str) -> bool:
    """Whether the module mentions `name` (a decorator of framework's, used or imported)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == name:
            return True
        if isinstance(node, ast.Attribute) and node.attr == name:
            return True
    return False


def _uses_redis(tree: ast.AST) -> bool:
    """Whether the module imports framework.redis or reaches it as `framework.redis`."""
    aliases = {"framework"}  # names bound to the framework package
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "framework.redis" or alias.name.startswith("framework.redis."):
                    return True
                if alias.name == "framework" and alias.asname:
                    aliases.add(alias.asname)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            if node.module == "framework.redis" or node.module.startswith("framework.redis."):
                return True
            if node.module == "framework" and any(a.name in ("redis", "*") for a in node.names):
                return True
    return any(
        isinstance(node, ast.Attribute)
        and node.attr == "redis"
        and isinstance(node.value, ast.Name)
        and node.value.id in aliases
        for node in ast.walk(tree)
    )
