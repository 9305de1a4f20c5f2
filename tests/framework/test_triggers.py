"""The trigger handlers' registry: one handler of each kind, failures reported, not raised."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from framework import CronEvent, cron_component, redis_component, triggers


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    triggers.reset()
    yield
    triggers.reset()


def test_handlers_run_with_their_arguments() -> None:
    seen: list[object] = []
    redis_component(seen.append)
    cron_component(seen.append)
    assert triggers.run_message(bytearray(b"hi")) is None
    assert triggers.run_cron(1767225600) is None
    assert seen == [b"hi", CronEvent(1767225600)]


def test_a_raising_handler_is_an_error_with_its_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @redis_component
    def broken(payload: bytes) -> None:
        raise ValueError("bad payload")

    assert triggers.run_message(b"x") == "ValueError: bad payload"
    err = capsys.readouterr().err
    assert "the redis handler broken raised" in err and "Traceback" in err


def test_one_handler_of_each_kind() -> None:
    cron_component(lambda event: None)
    with pytest.raises(ValueError, match="one cron handler"):
        cron_component(lambda event: None)


def test_no_handler_is_an_error() -> None:
    assert "no @redis_component" in (triggers.run_message(b"x") or "")


def test_the_decorator_is_not_called() -> None:
    with pytest.raises(TypeError, match="write @redis_component"):
        redis_component("events")  # type: ignore[type-var]
