"""Redis messages and cron events in the Emulator, on the caller's thread.

`Inbox` is the Emulator's subscription to the app's channels on one Redis
server, as each region's Spin deployment subscribes: what anyone publishes
there (the test, redis-cli, a handler) waits in it until the Emulator reads it.
Reading is bounded by a barrier: a PING sent on the subscribed connection is
answered after every message the server had already pushed to it, so "what is
waiting" means exactly what was published before the read began, whatever the
socket happened to have received yet.

`CronClock` keeps, per cron job, the next time its schedule fires after the
last firing the Emulator ran, so `advance()` can merge firings with the
replication deliveries it steps through.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from ..errors import EdgeError
from ..triggers.plan import CronJob


@dataclass(frozen=True)
class TriggerRecord:
    """One trigger run the Emulator made: a Redis message or a cron event in one region.

    `name` is the channel, or the cron job's name (its component, `#<n>` for a
    component's second job and on); `time` is the virtual time the run began;
    `timestamp` the cron event's (None for a message); `size` the message's
    payload length (None for cron). `seconds` is the run's wall-clock time.
    """

    kind: str  # "redis" or "cron"
    name: str
    component: str
    region: str
    time: float
    ok: bool
    error: str | None
    seconds: float
    timestamp: int | None = None
    size: int | None = None
    index: int = -1

    @property
    def source(self) -> str:
        """How the history's records name the run: "redis:<channel>", "cron:<job>"."""
        return f"{self.kind}:{self.name}"

    def __str__(self) -> str:
        what = f"size {self.size}" if self.kind == "redis" else f"timestamp {self.timestamp}"
        outcome = "ok" if self.ok else f"failed: {self.error}"
        return (
            f"#{self.index} t={self.time:.3f}s {self.region} {self.source} -> "
            f"{self.component} ({what}) {outcome}"
        )


@dataclass(frozen=True)
class Message:
    address: str
    channel: str
    payload: bytes


class Inbox:
    """A pub/sub subscription to `channels` on the server at `address` (redis-py)."""

    _tokens = itertools.count(1)

    def __init__(self, address: str, channels: Sequence[str], timeout: float) -> None:
        self.address = address
        self.timeout = timeout
        self.client = redis.Redis.from_url(
            address, protocol=2, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self.pubsub = self.client.pubsub()
        try:
            self.pubsub.subscribe(*channels)
            self._confirmed(set(channels))
        except (redis.RedisError, OSError) as exc:
            self.close()
            raise EdgeError(
                f"cannot subscribe to {', '.join(channels)} at {address}: {exc}"
            ) from None

    def _confirmed(self, channels: set[str]) -> None:
        deadline = time.monotonic() + self.timeout
        while channels:
            message = self.pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            if message is None and time.monotonic() >= deadline:
                raise EdgeError(f"no confirmation of the subscription to {', '.join(channels)}")
            if message is not None and message["type"] == "subscribe":
                channels.discard(_text(message["channel"]))

    def publish(self, channel: str, payload: bytes) -> int:
        """PUBLISH on the server; how many subscribers it reached (this one included)."""
        return int(self.client.publish(channel, payload))

    def waiting(self) -> list[Message]:
        """Every message the server had pushed to the subscription, oldest first."""
        token = f"edge-emulator-{next(self._tokens)}".encode()
        self.pubsub.ping(token)
        deadline = time.monotonic() + self.timeout
        out: list[Message] = []
        while True:
            remaining = deadline - time.monotonic()
            message = self.pubsub.get_message(timeout=max(0.0, remaining))
            if message is None:
                if remaining <= 0:
                    raise EdgeError(
                        f"the subscription at {self.address} did not answer within "
                        f"{self.timeout:g} s (redis_timeout)"
                    )
                continue
            if message["type"] == "pong" and message["data"] == token:
                return out
            if message["type"] == "message":
                out.append(Message(self.address, _text(message["channel"]), message["data"]))

    def close(self) -> None:
        try:
            self.pubsub.close()
        finally:
            self.client.close()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class CronClock:
    """When each job fires next: the first time of its schedule after the last one run."""

    def __init__(self, jobs: Sequence[CronJob], start: float) -> None:
        self.jobs = [job for job in jobs if job.regions]
        self._next = [job.schedule.next_after(start) for job in self.jobs]

    def next_due(self) -> float | None:
        return min(self._next, default=None)

    def take(self, until: float) -> list[tuple[float, CronJob]]:
        """The firings due first, if that is at or before `until`: every job due at
        that time, in the manifest's order; each job moves on to its next time."""
        due = self.next_due()
        if due is None or due > until:
            return []
        out = []
        for i, job in enumerate(self.jobs):
            if self._next[i] == due:
                out.append((due, job))
                self._next[i] = job.schedule.next_after(due)
        return out
