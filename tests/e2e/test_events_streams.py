"""How many event streams a worker holds, and that none of them holds up a stop."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from .edgeup import EdgeUp, wait_for
from .sse import EventStream

pytestmark = pytest.mark.e2e

MAX_STREAMS = 16  # runtime.serve.event_stream.MAX_STREAMS


def test_the_seventeenth_stream_is_refused_and_a_closed_one_frees_its_place(
    built: dict[str, Path], tmp_path: Path, launched: list[EdgeUp]
) -> None:
    up = EdgeUp(built["kvprobe"], tmp_path / "state", "--workers", "1")
    launched.append(up)
    url = f"{up.url}/_edge/events"
    streams = [EventStream(url) for _ in range(MAX_STREAMS)]
    try:
        assert [s.status for s in streams] == [200] * MAX_STREAMS
        wait_for(lambda: all(s.comments for s in streams), what="every stream open")
        refused = EventStream(url)
        assert refused.status == 503
        assert "too many event streams" in refused.error()["error"]
        refused.close()
        # A request still gets through while the streams are open.
        assert httpx.get(f"{up.url}/kv/x", timeout=10).status_code == 404
        streams.pop().close()  # the client goes away: its place is free again

        def opens() -> bool:
            again = EventStream(url)
            if again.status == 200:
                streams.append(again)
                return True
            again.close()
            return False

        wait_for(opens, timeout=10, poll=0.1, what="a new stream once one closed")
        httpx.get(f"{up.url}/kv/y", timeout=10)
        for stream in streams:  # every one of them carries every event
            data, _ = stream.until(lambda e: e["kind"] == "request" and e["path"] == "/kv/y")
            assert data["status"] == 404
        started = time.monotonic()
        assert up.stop() == 0, up.output()
        took = time.monotonic() - started
        print(f"stopped in {took:.2f} s with {len(streams)} streams open")
        assert took < 4.0, f"stopping with {len(streams)} streams open took {took:.1f} s"
        wait_for(lambda: all(s.ended.is_set() for s in streams), what="every stream ended")
        assert "Traceback" not in up.output(), up.output()
    finally:
        for stream in streams:
            stream.close()
