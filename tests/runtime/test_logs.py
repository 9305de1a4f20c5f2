"""The rate limit on repeated warnings and errors (runtime/logs.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from runtime.logs import RepeatFilter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def logged(clock: Clock) -> Iterator[tuple[logging.Logger, list[str]]]:
    logger = logging.getLogger("tests.logs")
    handler = Collect()
    handler.addFilter(RepeatFilter(burst=3, window=10.0, clock=clock))
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, handler.lines
    logger.removeHandler(handler)
    logger.propagate = True


def test_repeats_beyond_the_burst_are_dropped_and_counted_later(
    logged: tuple[logging.Logger, list[str]], clock: Clock
) -> None:
    logger, lines = logged
    for _ in range(1000):
        logger.error("socket.accept() out of system resource")
    assert lines == ["socket.accept() out of system resource"] * 3
    clock.now += 10.0
    logger.error("socket.accept() out of system resource")
    assert lines[3] == (
        "socket.accept() out of system resource (997 more like this in the last window "
        "were not logged)"
    )
    logger.error("socket.accept() out of system resource")
    assert len(lines) == 5 and lines[4] == "socket.accept() out of system resource"


def test_different_messages_and_info_lines_are_not_limited(
    logged: tuple[logging.Logger, list[str]],
) -> None:
    logger, lines = logged
    logger.setLevel(logging.INFO)
    for i in range(10):
        logger.warning("worker %d exited", i)  # same template, different messages
        logger.info("GET /todos 200")  # the access log repeats by design
    assert len(lines) == 20


def test_same_message_with_another_exception_is_another_key(
    logged: tuple[logging.Logger, list[str]],
) -> None:
    logger, lines = logged
    for error in [OSError(24, "Too many open files")] * 5 + [OSError(23, "table full")] * 5:
        try:
            raise error
        except OSError:
            logger.exception("accept failed")
    assert len(lines) == 6


def test_bad_arguments_do_not_make_the_filter_raise(
    logged: tuple[logging.Logger, list[str]],
) -> None:
    logger, _ = logged
    record = logger.makeRecord("tests.logs", logging.ERROR, __file__, 1, "%d", ("x",), None)
    assert RepeatFilter().filter(record)


def test_the_table_of_messages_stays_bounded(clock: Clock) -> None:
    limit = RepeatFilter(burst=1, window=10.0, clock=clock, max_keys=50)
    logger = logging.getLogger("tests.logs.bounded")
    for i in range(10_000):
        record = logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "m%d", (i,), None)
        assert limit.filter(record)
    assert len(limit._seen) <= 50
