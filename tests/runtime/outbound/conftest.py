"""A real Redis server for the outbound tests (tools/install-redis.sh installs it)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from runtime.outbound import EmbeddedRedis


def needs_redis_server() -> None:
    if not (shutil.which("redis-server") or shutil.which("valkey-server")):
        pytest.skip("no redis-server: run tools/install-redis.sh")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    needs_redis_server()
    with EmbeddedRedis(tmp_path / "redis") as srv:
        yield srv


@pytest.fixture
def admin(server: EmbeddedRedis) -> Iterator[redis.Redis]:
    """The test's own client of the server (to look at what the host did)."""
    client = redis.Redis.from_url(server.address, protocol=2)
    yield client
    client.close()
