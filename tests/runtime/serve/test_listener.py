"""runtime/serve/listener.py: the bound on open connections, on real sockets and hypercorn."""

from __future__ import annotations

import asyncio
import logging
import resource
import socket

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from runtime.serve.listener import (
    RESERVED_DESCRIPTORS,
    connection_limit,
    no_delay,
    serve_connections,
)
from runtime.serve.server import hypercorn_config


def test_connection_limit_is_what_was_asked_when_the_open_files_limit_allows() -> None:
    assert connection_limit(5) == 5


def test_connection_limit_leaves_room_under_a_low_open_files_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        with caplog.at_level(logging.WARNING, logger="edge.http"):
            limit = connection_limit(512)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert 1 <= limit <= 256 - RESERVED_DESCRIPTORS
    assert "max_connections 512 is more than the open-files limit (256)" in caplog.text


def test_accepted_connections_send_without_waiting_for_acks() -> None:
    # An accepted socket has proto 0, so asyncio would leave Nagle's algorithm on:
    # each response's body then waited 40 ms for the client's delayed ACK.
    with (
        socket.create_server(("127.0.0.1", 0)) as listener,
        socket.create_connection(listener.getsockname()),
    ):
        conn, _ = listener.accept()
        with conn:
            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
            no_delay(conn)
            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_no_more_than_max_connections_are_served_at_once_and_shutdown_ends_them() -> None:
    asyncio.run(_bounded_server(bound=2, clients=5))


async def _bounded_server(bound: int, clients: int) -> None:
    in_flight = 0
    most = 0
    release = asyncio.Event()

    async def hold(request: Request) -> PlainTextResponse:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await release.wait()
        in_flight -= 1
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", hold)])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    stop = asyncio.Event()
    server = asyncio.create_task(
        serve_connections(app, hypercorn_config(), listener, bound, stop.wait)
    )
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=clients)) as http:
        requests = [asyncio.create_task(http.get(url)) for _ in range(clients)]
        for _ in range(200):  # until the server holds its bound (or 10 s)
            if in_flight == bound:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the others wait in the listen queue, not in the app
        assert in_flight == most == bound
        release.set()
        answers = await asyncio.gather(*requests)
    assert [a.text for a in answers] == ["ok"] * clients
    assert most == bound
    stop.set()
    await asyncio.wait_for(server, 30)
    assert listener.fileno() == -1  # closed
