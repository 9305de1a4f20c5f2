"""Helpers of the trigger tests: a real redis-server, and collecting what callbacks got."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from runtime.outbound import EmbeddedRedis

from ..outbound.conftest import needs_redis_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    needs_redis_server()
    with EmbeddedRedis(tmp_path / "redis") as srv:
        yield srv


@pytest.fixture
def client(server: EmbeddedRedis) -> Iterator[redis.Redis]:
    """The test's own client of the server (to publish, and to look)."""
    conn = redis.Redis.from_url(server.address, protocol=2)
    yield conn
    conn.close()


class Collected:
    """What a callback was called with, in order; waits for more with a bound."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = threading.Condition()

    def add(self, *item: Any) -> None:
        with self._changed:
            self.items.append(item if len(item) != 1 else item[0])
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Any]:
        with self._changed:
            ok = self._changed.wait_for(lambda: len(self.items) >= count, timeout)
        assert ok, f"only {len(self.items)} of {count} within {timeout} s: {self.items[-5:]}"
        return list(self.items)


def eventually(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s: {what}")
