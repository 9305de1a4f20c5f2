"""Under the Emulator a handler's `time.time()` is the virtual clock's time."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from runtime.testing import Emulator

from ..runtime.outbound.conftest import needs_redis_server

pytestmark = pytest.mark.e2e


def test_handlers_read_the_virtual_time(emulate: Callable[..., Emulator]) -> None:
    needs_redis_server()  # triggerprobe declares a Redis trigger
    edge = emulate("triggerprobe", regions=["us-east"])
    first = edge.client("us-east").get("/state").json()["now"]
    assert first == pytest.approx(edge.now(), abs=1e-3)
    second = edge.client("us-east").get("/state").json()["now"]
    assert first < second < first + 1e-3  # the clock stands still, reads still move on
    edge.advance("90m")
    assert edge.client("us-east").get("/state").json()["now"] == pytest.approx(edge.now(), abs=1e-3)
