"""Which WIT world a component is built against: the base one, plus what the app uses.

componentize-py keeps every import of the world in the component, used or
not, and a host must provide each import to instantiate it. So a component
imports Spin's outbound Redis only when the app imports `framework.redis`
(`world app-redis` in framework/wit/edge.wit); any other app is built
against `world app` and deploys to hosts that have no outbound Redis.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .importcheck import app_files

BASE_WORLD = "edge:runtime/app@0.1.0"
REDIS_WORLD = "edge:runtime/app-redis@0.1.0"


def world_for(entry: Path, app_dir: Path) -> str:
    return (
        REDIS_WORLD if any(_uses_redis(path) for path in app_files(entry, app_dir)) else BASE_WORLD
    )


def _uses_redis(path: Path) -> bool:
    """Whether the module imports framework.redis or reaches it as `framework.redis`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
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
