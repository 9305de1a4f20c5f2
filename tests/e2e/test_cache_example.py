"""examples/cache end to end: the built component in the Emulator, a real Redis, a real upstream.

Redis is the server the Emulator starts for the app's unset `redis_address`;
the upstream is a small HTTP server of the test's own on 127.0.0.1 that
counts the requests it gets, named by SPIN_VARIABLE_UPSTREAM_URL.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis

from runtime.testing import Emulator

from ..runtime.outbound.conftest import needs_redis_server

pytestmark = pytest.mark.e2e

Admin = Callable[[Emulator], redis.Redis]

PRODUCT_TTL = 60  # examples/cache/app.py
RATES_TTL = 300


class Upstream:
    """An HTTP API on loopback: GET /rates/<BASE> answers as `mode` says, and is counted."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        # ok | error (503) | garbage (200, not JSON) | missing (404) | slow (no answer for 5 s)
        self.mode = "ok"
        self.lock = threading.Lock()
        self.released = threading.Event()  # ends a slow answer early
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 5  # a client that stalls cannot hold a thread for long

            def do_GET(self) -> None:
                with upstream.lock:
                    upstream.paths.append(self.path)
                    mode, n = upstream.mode, len(upstream.paths)
                if mode == "slow":
                    upstream.released.wait(5)
                    self._answer(200, b"{}")
                elif mode == "error":
                    self._answer(503, b'{"error": "maintenance"}')
                elif mode == "garbage":
                    self._answer(200, b"<html>not json</html>", "text/html")
                elif mode == "missing":
                    self._answer(404, b'{"error": "unknown currency"}')
                else:
                    base = self.path.rsplit("/", 1)[-1]
                    rates = {"base": base, "rates": {"USD": 1.08, "JPY": 162.5}, "version": n}
                    self._answer(200, json.dumps(rates).encode())

            def _answer(self, status: int, body: bytes, ctype: str = "application/json") -> None:
                try:
                    self.send_response(status)
                    self.send_header("content-type", ctype)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up (a slow answer): nobody to tell
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def hits(self) -> int:
        with self.lock:
            return len(self.paths)

    def stop(self) -> None:
        """Stop listening (idempotent): from now on a connection is refused."""
        self.released.set()
        if not self.thread.is_alive():
            return
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.stop()


@pytest.fixture
def cache(emulate: Callable[..., Emulator]) -> Callable[..., Emulator]:
    """`cache(upstream_url=None, regions=["us-east"])`: the example in an Emulator."""
    needs_redis_server()

    def make(upstream_url: str | None = None, **options: Any) -> Emulator:
        options.setdefault("regions", ["us-east"])
        env = {"SPIN_VARIABLE_UPSTREAM_URL": upstream_url} if upstream_url is not None else {}
        return emulate("cache", env=env, **options)

    return make


@pytest.fixture
def admin() -> Iterator[Admin]:
    """A redis-py client of an Emulator's Redis, to see what the component left there."""
    clients: list[redis.Redis] = []

    def connect(edge: Emulator) -> redis.Redis:
        assert edge.redis is not None  # redis_address is unset: the Emulator started one
        client = redis.Redis.from_url(edge.redis.address, protocol=2, socket_timeout=5)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- products: Redis in front of Turso ------------------------------------------------


def test_a_miss_fills_redis_with_a_ttl_then_reads_hit(
    cache: Callable[..., Emulator], admin: Admin
) -> None:
    edge = cache()
    client, r = edge.client(), admin(edge)

    first = edge.client().get("/products/1")  # the first use also creates and seeds the table
    assert first.status_code == 200, first.text
    assert first.headers["x-cache"] == "miss"
    product = first.json()
    assert (product["id"], product["name"], product["price_cents"]) == (1, "Espresso cup", 1200)

    # The component stored exactly what it answered, with SET ... EX.
    assert r.get("product:1") == first.content
    assert 0 < r.ttl("product:1") <= PRODUCT_TTL

    second = client.get("/products/1")
    assert second.headers["x-cache"] == "hit"
    assert second.content == first.content

    # A hit really is Redis answering, not the database.
    r.set("product:1", b'{"id":1,"name":"from redis"}', keepttl=True)
    assert client.get("/products/1").json() == {"id": 1, "name": "from redis"}

    # Once the key is gone (as when its TTL runs out) the next read is a miss again.
    r.delete("product:1")
    again = client.get("/products/1")
    assert again.headers["x-cache"] == "miss"
    assert again.json() == product
    assert 0 < r.ttl("product:1") <= PRODUCT_TTL


def test_a_write_updates_the_database_and_deletes_the_key(
    cache: Callable[..., Emulator], admin: Admin
) -> None:
    edge = cache()
    client, r = edge.client(), admin(edge)
    assert client.get("/products/2").headers["x-cache"] == "miss"
    assert r.exists("product:2") == 1

    put = client.put("/products/2", json={"name": "Gooseneck kettle", "price_cents": 4900})
    assert put.status_code == 200, put.text
    assert put.headers["x-cache"] == "invalidated"
    assert put.json()["name"] == "Gooseneck kettle"
    assert r.exists("product:2") == 0

    read = client.get("/products/2")
    assert read.headers["x-cache"] == "miss"
    assert (read.json()["name"], read.json()["price_cents"]) == ("Gooseneck kettle", 4900)
    assert client.get("/products/2").headers["x-cache"] == "hit"

    # PUT also creates; DELETE invalidates too.
    created = client.put("/products/7", json={"name": "Scale", "price_cents": 3000})
    assert created.status_code == 200 and created.json()["id"] == 7
    assert client.get("/products/7").headers["x-cache"] == "miss"
    deleted = client.delete("/products/7")
    assert deleted.status_code == 204 and deleted.headers["x-cache"] == "invalidated"
    assert r.exists("product:7") == 0
    assert client.get("/products/7").status_code == 404


def test_misses_are_not_cached_and_bad_input_is_refused(
    cache: Callable[..., Emulator], admin: Admin
) -> None:
    edge = cache()
    client, r = edge.client(), admin(edge)
    missing = client.get("/products/99")
    assert missing.status_code == 404 and missing.headers["x-cache"] == "miss"
    assert r.exists("product:99") == 0
    for bad in ("abc", "0", "%C2%B2", "9" * 30):
        assert client.get(f"/products/{bad}").status_code == 400
    assert client.put("/products/1", json={"name": "", "price_cents": 1}).status_code == 400
    assert client.put("/products/1", json={"name": "x", "price_cents": -1}).status_code == 400
    assert [p["id"] for p in client.get("/products").json()] == [1, 2, 3]


def test_a_fill_outside_the_primary_region_reads_the_primary(
    cache: Callable[..., Emulator],
) -> None:
    edge = cache(regions=["us-east", "eu-west"], replication_lag="1s", jitter=0)
    us, eu = edge.client("us-east"), edge.client("eu-west")
    assert us.get("/products/1").status_code == 200  # creates the table on the primary
    edge.settle()
    put = us.put("/products/1", json={"name": "Renamed cup", "price_cents": 1300})
    assert put.headers["x-cache"] == "invalidated"

    # eu-west's replica has not caught up yet...
    assert eu.get("/products").json()[0]["name"] == "Espresso cup"
    # ...but the miss fills Redis (which every region shares) from the primary:
    # an old value from the replica would otherwise be served for the whole TTL.
    fill = eu.get("/products/1")
    assert fill.headers["x-cache"] == "miss"
    assert fill.json()["name"] == "Renamed cup"
    assert us.get("/products/1").json()["name"] == "Renamed cup"


def test_without_redis_the_database_answers(cache: Callable[..., Emulator]) -> None:
    edge = cache()
    client = edge.client()
    assert client.get("/products/1").headers["x-cache"] == "miss"
    assert edge.redis is not None
    edge.redis.stop()

    read = client.get("/products/1")
    assert read.status_code == 200
    assert read.headers["x-cache"] == "bypass"
    assert read.json()["name"] == "Espresso cup"
    put = client.put("/products/1", json={"name": "Cup", "price_cents": 1})
    assert put.status_code == 200  # the write stands; the old copy lives until its TTL
    assert put.headers["x-cache"] == "invalidation-failed"


# --- rates: an upstream API in front of the key-value store ---------------------------


def test_two_reads_call_the_upstream_once(
    cache: Callable[..., Emulator], upstream: Upstream
) -> None:
    edge = cache(upstream.url)
    client = edge.client()

    first = client.get("/rates/eur")
    assert first.status_code == 200, first.text
    assert first.headers["x-cache"] == "miss"
    assert first.json() == {"base": "EUR", "rates": {"USD": 1.08, "JPY": 162.5}, "version": 1}

    second = client.get("/rates/EUR")
    assert second.headers["x-cache"] == "hit"
    assert second.json() == first.json()
    assert 0 <= int(second.headers["age"]) <= 2
    assert upstream.paths == ["/rates/EUR"]

    # The copy is kept with its fetch time, in the key-value store.
    stored = edge.kv_replicas()["default"]["us-east"].get("rates:EUR")
    assert stored is not None
    entry = json.loads(stored)
    assert entry["data"] == first.json()
    assert entry["fetched_at"] == pytest.approx(edge.now())  # the guest reads the virtual clock


def test_a_copy_older_than_the_ttl_is_fetched_again(
    cache: Callable[..., Emulator], upstream: Upstream
) -> None:
    edge = cache(upstream.url)
    client = edge.client()
    assert client.get("/rates/EUR").json()["version"] == 1

    # The handler reads the virtual clock: five seconds short of the TTL the copy is fresh...
    edge.advance(RATES_TTL - 5)
    fresh = client.get("/rates/EUR")
    assert fresh.headers["x-cache"] == "hit"
    assert int(fresh.headers["age"]) >= RATES_TTL - 5
    assert upstream.hits == 1

    # ...and past it, stale: fetched again and stored anew.
    edge.advance(6)
    refreshed = client.get("/rates/EUR")
    assert refreshed.headers["x-cache"] == "miss"
    assert refreshed.json()["version"] == 2
    assert client.get("/rates/EUR").headers["x-cache"] == "hit"
    assert upstream.hits == 2


def test_max_age_asks_for_a_fresher_copy(
    cache: Callable[..., Emulator], upstream: Upstream
) -> None:
    edge = cache(upstream.url)
    client = edge.client()
    client.get("/rates/EUR")
    assert client.get("/rates/EUR", params={"max_age": "60"}).headers["x-cache"] == "hit"
    # max_age may only shorten the TTL, never extend it.
    assert client.get("/rates/EUR", params={"max_age": "999999"}).headers["x-cache"] == "hit"
    assert upstream.hits == 1
    zero = client.get("/rates/EUR", params={"max_age": "0"})
    assert zero.headers["x-cache"] == "miss"
    assert zero.json()["version"] == 2
    assert upstream.hits == 2
    for bad in ("soon", "-1", "²", "9" * 5000):
        assert client.get("/rates/EUR", params={"max_age": bad}).status_code == 400
    assert client.get("/rates/EURO").status_code == 400
    assert upstream.hits == 2


@pytest.mark.parametrize("mode", ["error", "garbage", "down", "slow"])
def test_an_upstream_failure_serves_the_stale_copy(
    cache: Callable[..., Emulator], upstream: Upstream, mode: str
) -> None:
    edge = cache(upstream.url)
    client = edge.client()
    good = client.get("/rates/EUR")
    assert good.headers["x-cache"] == "miss"
    if mode == "down":
        upstream.stop()
    else:
        upstream.mode = mode

    stale = client.get("/rates/EUR", params={"max_age": "0"})
    assert stale.status_code == 200, stale.text
    assert stale.headers["x-cache"] == "stale"
    assert stale.json() == good.json()
    why = stale.headers["x-upstream-error"]
    assert f"GET {upstream.url}/rates/EUR" in why
    expected = {
        "error": "answered 503",
        "garbage": "not JSON",
        "down": "connection-refused",
        "slow": "timed out after 2.0 s",  # the app's own timeout, well inside the deadline
    }
    assert expected[mode] in why
    # A failure stores nothing: the copy keeps its first fetch time.
    assert upstream.hits == (1 if mode == "down" else 2)


def test_an_upstream_failure_without_a_copy_is_a_502(
    cache: Callable[..., Emulator], upstream: Upstream
) -> None:
    edge = cache(upstream.url)
    client = edge.client()
    upstream.mode = "error"
    failed = client.get("/rates/EUR")
    assert failed.status_code == 502
    assert failed.headers["content-type"] == "application/json"
    assert failed.headers["x-cache"] == "miss"
    message = failed.json()["error"]
    assert message.startswith("the upstream failed and no copy is cached")
    assert "answered 503" in message
    # Once the upstream is back, the next read fetches and caches.
    upstream.mode = "ok"
    assert client.get("/rates/EUR").headers["x-cache"] == "miss"
    assert client.get("/rates/EUR").headers["x-cache"] == "hit"

    # A 404 of the upstream is passed on, not cached.
    upstream.mode = "missing"
    assert client.get("/rates/XYZ").status_code == 404
    assert client.get("/rates/XYZ").status_code == 404
    assert upstream.hits == 4


def test_an_unreachable_upstream_is_a_502(cache: Callable[..., Emulator]) -> None:
    edge = cache(f"http://127.0.0.1:{closed_port()}")
    failed = edge.client().get("/rates/EUR")
    assert failed.status_code == 502
    assert "connection-refused" in failed.json()["error"]


def test_without_an_upstream_the_route_says_so(cache: Callable[..., Emulator]) -> None:
    # The manifest's default: upstream_url is empty, its allow-list entry is dropped.
    edge = cache()
    failed = edge.client().get("/rates/EUR")
    assert failed.status_code == 502
    assert "no upstream is configured" in failed.json()["error"]
    assert "upstream_url" in failed.json()["error"]


def test_an_upstream_url_with_a_path_breaks_the_whole_allow_list(
    cache: Callable[..., Emulator], upstream: Upstream
) -> None:
    # allowed_outbound_hosts takes origins only: the entry "{{ upstream_url }}"
    # cannot be parsed, so the component's list does not resolve, for Redis too.
    edge = cache(f"{upstream.url}/api")
    client = edge.client()
    failed = client.get("/rates/EUR")
    assert failed.status_code == 502
    assert "configuration-error" in failed.json()["error"]
    product = client.get("/products/1")
    assert product.status_code == 200
    assert product.headers["x-cache"] == "bypass"
    assert upstream.hits == 0
