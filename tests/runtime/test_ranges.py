"""runtime/ranges.py: a value or A..B, as Spin 4's instance reuse flags take them."""

from __future__ import annotations

import random

import pytest

from runtime.ranges import Span, parse_count_range, parse_duration_range
from runtime.wasm.reuse import FRESH, ReusePolicy


def test_a_count_or_a_range_of_counts() -> None:
    assert parse_count_range("8") == Span(8)
    assert parse_count_range(" 1..128 ") == Span(1, 128)


def test_a_duration_or_a_range_of_durations() -> None:
    assert parse_duration_range("1s") == Span(1.0)
    assert parse_duration_range("250ms..2s") == Span(0.25, 2.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "at least 1 request"),
        ("5..5", "empty range"),
        ("9..2", "empty range"),
        ("1..", "not a count or range"),
        ("..4", "not a count or range"),
        ("x", "not a count or range"),
    ],
)
def test_bad_counts_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_count_range(text)


def test_bad_durations_are_refused() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_range("soon")
    with pytest.raises(ValueError, match="empty range"):
        parse_duration_range("2s..1s")


def test_a_range_draws_from_low_up_to_not_including_high() -> None:
    rng = random.Random(1)
    policy = ReusePolicy(parse_count_range("2..5"), parse_duration_range("1s..3s"))
    draws = [policy.lifetime(rng) for _ in range(500)]
    assert {count for count, _ in draws} == {2, 3, 4}
    assert all(1.0 <= idle < 3.0 for _, idle in draws)


def test_the_default_is_a_fresh_instance_per_request() -> None:
    assert not FRESH.reuses
    assert ReusePolicy(Span(2)).reuses
    assert ReusePolicy(Span(1, 3)).reuses
