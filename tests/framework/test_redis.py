"""framework.redis on the host: argument checks and error mapping (no wasm needed).

The operations themselves run in real components: tests/e2e/test_redis.py.
"""

from __future__ import annotations

import pytest

from framework import RedisError, RedisInvalidAddress, RedisOtherError, redis
from framework.redis import Connection, _argument, _items, _payload, redis_error


def test_open_outside_a_component_says_why() -> None:
    with pytest.raises(RedisError, match="built without Spin's Redis interface"):
        redis.open("redis://127.0.0.1")


def test_open_takes_a_str() -> None:
    with pytest.raises(TypeError):
        redis.open(b"redis://x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"), [("é", "é".encode()), (b"x", b"x"), (bytearray(b"y"), b"y")]
)
def test_payloads(value: object, expected: bytes) -> None:
    assert _payload(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [1, None, 1.5, ["a"]])
def test_bad_payloads(value: object) -> None:
    with pytest.raises(TypeError):
        _payload(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [True, 1.5, None, 2**63])
def test_bad_arguments(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        _argument(value, object())  # type: ignore[arg-type]


def test_a_lone_string_is_not_a_list_of_values() -> None:
    with pytest.raises(TypeError, match="are a list"):
        _items("abc", "values")


def test_errors_map_to_typed_exceptions_without_the_password() -> None:
    err = type("Error_InvalidAddress", (), {})()
    mapped = redis_error(err, "redis://user:hunter2@cache:6379")
    assert isinstance(mapped, RedisInvalidAddress)
    assert "hunter2" not in str(mapped) and "cache:6379" in str(mapped)
    other = type("Error_Other", (), {"value": "WRONGTYPE nope"})()
    assert isinstance(redis_error(other, "x"), RedisOtherError)
    assert str(redis_error(other, "x")) == "WRONGTYPE nope"


def test_a_closed_connection_refuses_calls() -> None:
    class Handle:
        def __exit__(self, *exc: object) -> None:
            pass

    conn = Connection(Handle(), "redis://x")
    conn.close()
    conn.close()
    with pytest.raises(ValueError, match="closed"):
        conn.get("k")
