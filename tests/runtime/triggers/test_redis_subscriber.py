"""The Redis subscriber against a real redis-server: order, restarts, hangs, bad callbacks."""

from __future__ import annotations

import logging
import os
import signal
import socket
from pathlib import Path

import pytest
import redis

from runtime.outbound import EmbeddedRedis
from runtime.triggers.redis_subscriber import RedisSubscriber, SubscriberState

from ..outbound.conftest import needs_redis_server
from .conftest import Collected, eventually


def numsub(client: redis.Redis, channel: str) -> int:
    return int(dict(client.pubsub_numsub(channel))[channel.encode()])


def test_messages_arrive_in_the_order_published(server: EmbeddedRedis, client: redis.Redis) -> None:
    got = Collected()
    sub = RedisSubscriber(server.address, ["a", "b", "a"], got.add)
    sub.start()
    try:
        assert sub.wait_subscribed(5)
        assert sub.channels == ["a", "b"]
        assert numsub(client, "a") == numsub(client, "b") == 1
        sent = [("b" if i % 3 == 0 else "a", f"m{i}".encode()) for i in range(300)]
        sent.append(("a", bytes(range(256)) * 4096))  # 1 MiB, every byte value
        sent.append(("b", b""))
        for channel, payload in sent:
            client.publish(channel, payload)
        assert got.wait_for(len(sent)) == sent
        client.publish("other", b"not subscribed")
        client.publish("a", b"last")
        assert got.wait_for(len(sent) + 1)[-1] == ("a", b"last")
        assert sub.state.connected and sub.state.reconnects == 0
    finally:
        sub.stop()
    assert numsub(client, "a") == 0  # stopping unsubscribed (closed the connection)


def test_a_restart_of_the_server_reconnects_and_later_messages_arrive(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    needs_redis_server()
    caplog.set_level(logging.INFO, "edge.triggers")
    first = EmbeddedRedis(tmp_path / "redis")
    address = first.start()
    port = first.port
    got, states = Collected(), Collected()
    sub = RedisSubscriber(
        address, ["events"], got.add, on_state=states.add, first_delay=0.05, max_delay=0.4
    )
    sub.start()
    second = None
    try:
        assert sub.wait_subscribed(5)
        publisher = redis.Redis.from_url(address, protocol=2)
        publisher.publish("events", b"before")
        got.wait_for(1)
        assert first.pid is not None
        os.kill(first.pid, signal.SIGKILL)  # no goodbye to the subscriber
        first.stop()  # reaps it
        eventually(lambda: not sub.state.connected, what="the subscriber saw the server go")
        assert not sub.wait_subscribed(0.3)  # nothing to subscribe at: retrying
        second = EmbeddedRedis(tmp_path / "redis", port=port)  # same port, same data
        second.start()
        eventually(lambda: sub.state.connected, what="subscribed again")
        publisher = redis.Redis.from_url(address, protocol=2)
        assert numsub(publisher, "events") == 1
        publisher.publish("events", b"after")
        assert got.wait_for(2) == [("events", b"before"), ("events", b"after")]
        assert sub.state.reconnects == 1
        assert sub.state.last_error  # why it was lost
        connected = [s.connected for s in states.items if isinstance(s, SubscriberState)]
        assert connected[0] and connected[-1] and not all(connected)  # up, down (retries), up
        text = caplog.text
        assert "lost the subscription at Redis redis://127.0.0.1:" in text
        assert "subscribed again to events" in text
    finally:
        sub.stop()
        first.stop()
        if second is not None:
            second.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_server_that_is_not_up_yet_is_waited_for(tmp_path: Path) -> None:
    needs_redis_server()
    port = _free_port()
    got = Collected()
    sub = RedisSubscriber(
        f"redis://127.0.0.1:{port}", ["events"], got.add, first_delay=0.05, max_delay=0.2
    )
    sub.start()
    try:
        assert not sub.wait_subscribed(0.5)
        assert sub.state.connected is False
        assert "refused" in (sub.state.last_error or "").lower()
        with EmbeddedRedis(tmp_path / "redis", port=port) as srv:
            assert sub.wait_subscribed(5)
            assert sub.state.reconnects == 0  # the first subscription
            redis.Redis.from_url(srv.address, protocol=2).publish("events", b"hi")
            assert got.wait_for(1) == [("events", b"hi")]
    finally:
        sub.stop()


def test_a_hung_server_is_dropped_after_the_ping_timeout(server: EmbeddedRedis) -> None:
    got = Collected()
    sub = RedisSubscriber(
        server.address,
        ["events"],
        got.add,
        timeout=0.5,
        first_delay=0.05,
        max_delay=0.2,
        ping_every=0.3,
        ping_timeout=0.5,
    )
    sub.start()
    assert server.pid is not None
    try:
        assert sub.wait_subscribed(5)
        os.kill(server.pid, signal.SIGSTOP)
        try:
            eventually(lambda: not sub.state.connected, 5, "the hung connection was dropped")
            assert "PING" in (sub.state.last_error or "")
        finally:
            os.kill(server.pid, signal.SIGCONT)
        eventually(lambda: sub.state.connected, 10, "subscribed again")
        publisher = redis.Redis.from_url(server.address, protocol=2)
        eventually(lambda: numsub(publisher, "events") == 1, 5, "one subscription")
        publisher.publish("events", b"later")
        assert got.wait_for(1) == [("events", b"later")]
    finally:
        sub.stop()


def test_an_idle_subscription_answers_its_pings_and_stays(
    server: EmbeddedRedis, client: redis.Redis
) -> None:
    sub = RedisSubscriber(
        server.address, ["events"], lambda c, p: None, ping_every=0.1, ping_timeout=0.5
    )
    sub.start()
    try:
        assert sub.wait_subscribed(5)
        eventually(
            lambda: int(client.info("stats")["total_commands_processed"]) > 10, 5, "pings sent"
        )
        assert sub.state.connected and sub.state.reconnects == 0
    finally:
        sub.stop()


def test_a_callback_that_raises_does_not_stop_the_subscriber(
    server: EmbeddedRedis, client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    got = Collected()

    def handle(channel: str, payload: bytes) -> None:
        if payload == b"bad":
            raise RuntimeError("callback failed")
        got.add(payload)

    sub = RedisSubscriber(server.address, ["events"], handle)
    sub.start()
    try:
        assert sub.wait_subscribed(5)
        for payload in (b"one", b"bad", b"two"):
            client.publish("events", payload)
        assert got.wait_for(2) == [b"one", b"two"]
        assert sub.state.reconnects == 0
        assert "the handler of a message on 'events' failed" in caplog.text
    finally:
        sub.stop()


def test_an_address_that_is_not_redis_stops_the_subscriber_with_the_reason() -> None:
    sub = RedisSubscriber("http://127.0.0.1:1", ["events"], lambda c, p: None)
    sub.start()
    eventually(lambda: sub.state.last_error is not None, 5, "an error")
    assert "is not a Redis URL" in (sub.state.last_error or "")
    sub.stop()
    assert not sub.wait_subscribed(0)
