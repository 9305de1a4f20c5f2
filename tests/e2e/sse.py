"""A Server-Sent Events reader for the tests, on httpx's streaming (not a test module).

A thread reads the stream line by line and queues each message (its `id`,
its `data` parsed as JSON, comments apart), so that a test waits for the next
one with a deadline and never blocks on a quiet stream.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Message:
    id: int | None
    data: dict[str, Any] | None
    comments: list[str] = field(default_factory=list)


class EventStream:
    """GET `url` as text/event-stream; `next()` gives the messages in order."""

    def __init__(
        self, url: str, *, headers: Mapping[str, str] | None = None, params: Any = None
    ) -> None:
        self._client = httpx.Client(timeout=httpx.Timeout(10.0, read=None))
        self._stream = self._client.stream("GET", url, headers=headers, params=params)
        self.response = self._stream.__enter__()
        self.status = self.response.status_code
        self._queue: queue.Queue[Message | None] = queue.Queue()
        self.ended = threading.Event()
        self.comments: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        if self.status == 200:
            self._thread.start()

    def _read(self) -> None:
        current = Message(None, None)
        try:
            for line in self.response.iter_lines():
                if line == "":
                    if current.id is not None or current.data is not None:
                        self._queue.put(current)
                    current = Message(None, None)
                elif line.startswith(":"):
                    self.comments.append(line[1:].strip())
                elif line.startswith("id:"):
                    current.id = int(line[3:].strip())
                elif line.startswith("data:"):
                    current.data = json.loads(line[5:].strip())
        except Exception:  # closed under it by close(), or by the server
            pass
        finally:
            self.ended.set()
            self._queue.put(None)

    def next(self, timeout: float = 10.0) -> Message:
        """The next message; AssertionError if none comes within `timeout` or the stream ended."""
        try:
            message = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s") from None
        if message is None:
            self._queue.put(None)
            raise AssertionError("the event stream ended")
        return message

    def until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Skip to the first event for which `predicate` holds: (it, the events before it)."""
        deadline = time.monotonic() + timeout
        seen: list[dict[str, Any]] = []
        while True:
            message = self.next(max(0.01, deadline - time.monotonic()))
            assert message.data is not None and message.id == message.data["id"]
            if predicate(message.data):
                return message.data, seen
            seen.append(message.data)

    def error(self) -> dict[str, Any]:
        """The JSON body of a refused stream."""
        self.response.read()
        return dict(self.response.json())

    def close(self) -> None:
        self.response.close()
        self._stream.__exit__(None, None, None)
        self._client.close()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
