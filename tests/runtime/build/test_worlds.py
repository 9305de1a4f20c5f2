"""The world a component is built against: Spin's Redis interface only for apps that use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.build.worlds import BASE_WORLD, REDIS_WORLD, world_for

USES = [
    "from framework import redis\n",
    "from framework import http_component, redis as r\n",
    "import framework.redis\n",
    "from framework.redis import open as redis_open\n",
    "import framework\n\ndef f():\n    return framework.redis.open('redis://x')\n",
    "import framework as fw\nx = fw.redis\n",
    "from framework import *\n",
]
DOES_NOT = [
    "from framework import http_component, kv\n",
    "import redis_helpers_not_framework\n",
    "import framework\nframework.kv.open()\n",
    "redis = 1\n",
]


@pytest.mark.parametrize("source", USES)
def test_apps_that_use_redis_get_the_redis_world(tmp_path: Path, source: str) -> None:
    (tmp_path / "app.py").write_text(source)
    assert world_for(tmp_path / "app.py", tmp_path) == REDIS_WORLD


@pytest.mark.parametrize("source", DOES_NOT)
def test_other_apps_get_the_base_world(tmp_path: Path, source: str) -> None:
    (tmp_path / "app.py").write_text(source)
    assert world_for(tmp_path / "app.py", tmp_path) == BASE_WORLD


def test_a_local_module_that_uses_redis_counts(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("import cache\n")
    (tmp_path / "cache.py").write_text("from framework import redis\n")
    assert world_for(tmp_path / "app.py", tmp_path) == REDIS_WORLD


def test_both_worlds_exist_in_the_framework_wit() -> None:
    from runtime.build.componentize import WIT_DIR

    text = (WIT_DIR / "edge.wit").read_text()
    assert "world app {" in text and "world app-redis {" in text
    assert "import fermyon:spin/redis@2.0.0;" in text


def test_trigger_handlers_add_their_exports(tmp_path: Path) -> None:
    from runtime.build.worlds import (
        GENERATED_WORLD,
        entry_imports,
        features_of,
        world_name,
        world_source,
    )

    (tmp_path / "app.py").write_text(
        "from framework import cron_component, redis\nimport framework\n\n"
        "@framework.redis_component\ndef on(p): ...\n\n@cron_component\ndef tick(e): ...\n"
    )
    features = features_of(tmp_path / "app.py", tmp_path)
    assert (features.redis_client, features.redis_trigger, features.cron_trigger) == (
        True,
        True,
        True,
    )
    assert world_name(features) == GENERATED_WORLD
    source = world_source(features)
    assert "include app-redis;" in source
    assert "export fermyon:spin/inbound-redis;" in source
    assert "export handle-cron-event: func(metadata: metadata) -> result<_, error>;" in source
    assert entry_imports(features) == ["InboundRedis", "WitWorld"]


def test_an_app_without_triggers_exports_none(tmp_path: Path) -> None:
    from runtime.build.worlds import entry_imports, features_of

    (tmp_path / "app.py").write_text("from framework import http_component\n")
    features = features_of(tmp_path / "app.py", tmp_path)
    assert not features.triggers and entry_imports(features) == []
