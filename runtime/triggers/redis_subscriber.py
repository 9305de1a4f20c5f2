"""Subscribed to a Redis server's channels, and staying subscribed.

One connection per server, on a thread of its own, as Spin's Redis trigger
holds one per server. Every message goes to `on_message(channel, payload)` in
the order the server sent it; the callback should be quick (`serve` queues
the work), and an exception in it is logged, never the subscriber's end.

When the connection breaks (the server restarted, was killed, the network
went), the subscriber says so in the log, waits (backoff doubling from
`first_delay` to `max_delay`), connects again and subscribes to every
channel again. A server that stops answering counts as broken too: after
`ping_every` seconds without traffic the subscriber sends a PING, and a
connection that has not answered it within `ping_timeout` is dropped. What is
published while no subscription stands is lost, as for any subscriber of
Redis pub/sub.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import redis
from redis.exceptions import RedisError

from ..outbound.redis_address import redacted
from .connect import BadAddress, open_connection

log = logging.getLogger("edge.triggers")

POLL_SECONDS = 0.2  # how often the thread looks at its stop flag while idle


@dataclass(frozen=True)
class SubscriberState:
    """Where a subscriber stands: `reconnects` counts subscriptions after the first."""

    connected: bool = False
    since: float | None = None  # Unix time the current state began
    reconnects: int = 0
    last_error: str | None = None


class RedisSubscriber:
    def __init__(
        self,
        address: str,
        channels: Sequence[str],
        on_message: Callable[[str, bytes], None],
        *,
        on_state: Callable[[SubscriberState], None] | None = None,
        timeout: float = 5.0,
        first_delay: float = 0.1,
        max_delay: float = 5.0,
        ping_every: float = 10.0,
        ping_timeout: float = 5.0,
    ) -> None:
        if not channels:
            raise ValueError("a subscriber needs at least one channel")
        self.address = address
        self.channels = list(dict.fromkeys(channels))
        self._on_message = on_message
        self._on_state = on_state
        self._timeout = timeout
        self._first_delay, self._max_delay = first_delay, max_delay
        self._ping_every, self._ping_timeout = ping_every, ping_timeout
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._state = SubscriberState()
        self._ever_subscribed = False
        self._thread = threading.Thread(
            target=self._run, name=f"edge-redis-{redacted(address)}", daemon=True
        )

    @property
    def state(self) -> SubscriberState:
        return self._state

    @property
    def where(self) -> str:
        return redacted(self.address)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wait_subscribed(self, timeout: float) -> bool:
        """Whether a subscription stands now or does within `timeout` seconds."""
        return self._subscribed.wait(timeout)

    def _run(self) -> None:
        delay = self._first_delay
        while not self._stop.is_set():
            try:
                conn = self._subscribe()
            except BadAddress as exc:
                log.error("%s; not subscribing", exc)
                self._set(connected=False, last_error=str(exc))
                return
            except (RedisError, OSError) as exc:
                self._set(connected=False, last_error=_describe(exc))
                log.warning(
                    "cannot subscribe at Redis %s: %s; trying again in %g s",
                    self.where,
                    _describe(exc),
                    delay,
                )
                self._stop.wait(delay)
                delay = min(delay * 2, self._max_delay)
                continue
            delay = self._first_delay
            try:
                self._listen(conn)
            except (RedisError, OSError) as exc:
                self._subscribed.clear()
                self._set(connected=False, last_error=_describe(exc))
                log.warning(
                    "lost the subscription at Redis %s (%s): reconnecting",
                    self.where,
                    _describe(exc),
                )
            finally:
                conn.disconnect()
        self._subscribed.clear()

    def _subscribe(self) -> redis.Connection:
        conn = open_connection(self.address, self._timeout)
        early: list[tuple[str, bytes]] = []  # on a channel confirmed before the others
        try:
            conn.send_command("SUBSCRIBE", *self.channels, check_health=False)
            confirmed: set[str] = set()
            while len(confirmed) < len(self.channels):
                reply = conn.read_response()
                if _kind(reply) == "subscribe":
                    confirmed.add(_text(reply[1]))
                elif _kind(reply) == "message":
                    early.append((_text(reply[1]), bytes(reply[2])))
        except BaseException:
            conn.disconnect()
            raise
        again = self._ever_subscribed
        self._ever_subscribed = True
        reconnects = self._state.reconnects + (1 if again else 0)
        self._set(connected=True, reconnects=reconnects)
        self._subscribed.set()
        log.info(
            "%s to %s at Redis %s",
            "subscribed again" if again else "subscribed",
            ", ".join(self.channels),
            self.where,
        )
        for channel, payload in early:
            self._deliver(channel, payload)
        return conn

    def _listen(self, conn: redis.Connection) -> None:
        last_heard = time.monotonic()
        ping_sent: float | None = None
        while not self._stop.is_set():
            if conn.can_read(timeout=POLL_SECONDS):
                reply = conn.read_response()
                last_heard, ping_sent = time.monotonic(), None
                if _kind(reply) == "message":
                    self._deliver(_text(reply[1]), bytes(reply[2]))
                continue
            now = time.monotonic()
            if ping_sent is not None and now - ping_sent > self._ping_timeout:
                raise redis.TimeoutError(f"no answer to PING within {self._ping_timeout:g} s")
            if ping_sent is None and now - last_heard > self._ping_every:
                conn.send_command("PING", check_health=False)
                ping_sent = now

    def _deliver(self, channel: str, payload: bytes) -> None:
        try:
            self._on_message(channel, payload)
        except Exception:
            log.exception("the handler of a message on %r failed", channel)

    def _set(self, **changes: object) -> None:
        old = self._state
        new = replace(old, **changes)  # type: ignore[arg-type]
        if new.connected != old.connected:
            new = replace(new, since=time.time())
        self._state = new
        if self._on_state is not None and new != old:
            try:
                self._on_state(new)
            except Exception:
                log.exception("recording the state of the subscriber at %s failed", self.where)


def _kind(reply: object) -> str | None:
    if isinstance(reply, list) and reply and isinstance(reply[0], bytes | str):
        return _text(reply[0])
    return None


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
