"""The Redis server edge up starts: when, where its data lives, and that it stops."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import redis

from runtime.app.model import Manifest, VariableDecl
from runtime.outbound import EmbeddedRedis, RedisServerError, wants_embedded
from runtime.outbound.redis_server import find_server

from .conftest import needs_redis_server


def _manifest(**variables: VariableDecl) -> Manifest:
    return Manifest(path=Path("spin.toml"), root=Path("."), name="app", variables=variables)


WANTS = [
    ({}, None, False),  # the app uses no redis_address
    ({"redis_address": VariableDecl("redis_address", required=True)}, None, True),
    ({"redis_address": VariableDecl("redis_address", required=True)}, "redis://r:6379", False),
    ({"redis_address": VariableDecl("redis_address", default="redis://r")}, None, False),
]


@pytest.mark.parametrize(("variables", "provided", "wanted"), WANTS)
def test_started_only_for_an_unset_redis_address(
    variables: dict[str, VariableDecl], provided: str | None, wanted: bool
) -> None:
    assert wants_embedded(_manifest(**variables), lambda name: provided) is wanted


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_loopback_data_under_its_dir_and_kept_across_restarts(tmp_path: Path) -> None:
    needs_redis_server()
    data = tmp_path / "state" / "redis"
    server = EmbeddedRedis(data)
    address = server.start()
    assert address.startswith("redis://127.0.0.1:")
    port = server.port
    assert port is not None
    client = redis.Redis.from_url(address, protocol=2)
    client.set("kept", b"yes")
    assert client.config_get("bind")["bind"] == "127.0.0.1"
    client.close()
    server.stop()
    assert not _listening(port)
    assert (data / "dump.rdb").is_file()  # saved on the way down
    with EmbeddedRedis(data) as again:
        client = redis.Redis.from_url(again.address, protocol=2)
        assert client.get("kept") == b"yes"
        client.close()


def test_a_fixed_port(tmp_path: Path) -> None:
    needs_redis_server()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with EmbeddedRedis(tmp_path, port=port) as server:
        assert server.address == f"redis://127.0.0.1:{port}"


def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    needs_redis_server()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        server = EmbeddedRedis(tmp_path, port=sock.getsockname()[1])
        with pytest.raises(RedisServerError, match="exited|did not start"):
            server.start()


def test_no_server_binary_says_what_to_do() -> None:
    with pytest.raises(RedisServerError, match="tools/install-redis.sh"):
        find_server("no-such-redis-server-binary")
