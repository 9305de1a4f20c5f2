"""A value, or a range `A..B` to draw values from, as Spin 4's instance flags take them."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .durations import parse_duration


@dataclass(frozen=True)
class Span:
    """A value, or the half-open range [low, high) a value is drawn from."""

    low: float
    high: float | None = None  # None: exactly `low`

    def draw(self, rng: random.Random) -> float:
        return self.low if self.high is None else rng.uniform(self.low, self.high)


def _split(text: str, what: str) -> tuple[str, str | None]:
    low, sep, high = text.strip().partition("..")
    if not low or (sep and not high):
        raise ValueError(f"not a {what} or range: {text!r} (e.g. 8 or 1..128)")
    return low, high if sep else None


def parse_count_range(text: str) -> Span:
    """`8` or `1..128`: requests per instance, at least 1."""
    low, high = _split(text, "count")
    try:
        span = Span(int(low), None if high is None else int(high))
    except ValueError:
        raise ValueError(f"not a count or range: {text!r} (e.g. 8 or 1..128)") from None
    if span.low < 1:
        raise ValueError(f"an instance serves at least 1 request: {text!r}")
    return _not_empty(span, text)


def parse_duration_range(text: str) -> Span:
    """`1s`, `250ms` or `500ms..2s`: how long an idle instance is kept."""
    low, high = _split(text, "duration")
    return _not_empty(
        Span(parse_duration(low), None if high is None else parse_duration(high)), text
    )


def _not_empty(span: Span, text: str) -> Span:
    if span.high is not None and span.high <= span.low:
        raise ValueError(f"empty range {text!r}: A..B draws from A up to, not including, B")
    return span
