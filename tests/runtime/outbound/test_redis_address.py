"""Redis URLs as Spin's client reads them: host, port, TLS, database, credentials."""

from __future__ import annotations

import pytest

from runtime.outbound.redis_address import AddressError, RedisTarget, parse_address, redacted

GOOD = [
    ("redis://127.0.0.1", RedisTarget("127.0.0.1", 6379)),
    ("redis://127.0.0.1:6380", RedisTarget("127.0.0.1", 6380)),
    ("redis://cache.local:6380/3", RedisTarget("cache.local", 6380, db=3)),
    ("redis://cache.local/", RedisTarget("cache.local", 6379)),
    ("redis://[::1]:7000", RedisTarget("::1", 7000)),
    ("redis://user:p%40ss@h", RedisTarget("h", 6379, username="user", password="p@ss")),
    ("redis://:secret@h", RedisTarget("h", 6379, password="secret")),
    ("rediss://h:6380", RedisTarget("h", 6380, tls=True)),
    ("rediss://h:6380/#insecure", RedisTarget("h", 6380, tls=True, verify_tls=False)),
    ("valkey://h", RedisTarget("h", 6379)),
    ("redis://h?protocol=resp3", RedisTarget("h", 6379, protocol=3)),
    ("redis://h?protocol=2", RedisTarget("h", 6379)),
]


@pytest.mark.parametrize(("address", "target"), GOOD)
def test_addresses(address: str, target: RedisTarget) -> None:
    assert parse_address(address) == target


BAD = [
    ("localhost:6379", "is not a Redis URL"),  # a scheme "localhost", as for Spin's client
    ("http://h", "is not a Redis URL"),
    ("unix:///tmp/redis.sock", "Unix socket"),
    ("redis://h/x", "not a database number"),
    ("rediss://h:6380/#other", "#insecure"),
    ("redis://h?protocol=4", "the protocol is 2"),
    ("redis://", "no host"),
    ("redis://h:99999", "not a URL"),
    ("", "not a URL"),
]


@pytest.mark.parametrize(("address", "fragment"), BAD)
def test_bad_addresses(address: str, fragment: str) -> None:
    with pytest.raises(AddressError) as info:
        parse_address(address)
    assert fragment in str(info.value)


def test_the_password_is_not_in_the_repr() -> None:
    assert "hunter2" not in repr(parse_address("redis://u:hunter2@h"))


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
        ("redis://:hunter2@host:6379/0", "redis://***@host:6379/0"),
        ("rediss://user:p@ss@host", "rediss://***@host"),
        ("default:hunter2@redis.example.com:6379", "***@redis.example.com:6379"),
        ("redis://u:p@h/0?client_name=a@b", "redis://***@h/0?client_name=a@b"),
        ("redis://h/0?x=a@b", "redis://h/0?x=a@b"),
    ],
)
def test_redacted_masks_only_the_authoritys_credentials(address: str, shown: str) -> None:
    assert redacted(address) == shown
