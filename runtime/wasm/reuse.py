"""Instance reuse, opt-in: how many requests one instance serves, how long it waits.

Spin gives every request to a WASI P2 component a fresh instance (Spin 4 reuses
only P3 components), and so does edge by default. Reuse is for people who want
to see whether their handlers survive it (state left in globals, handles kept
across requests) or to load-test without paying for instantiation. The flags
are Spin 4's: `--max-instance-reuse-count` takes a count or a range `A..B`,
`--idle-instance-timeout` a duration or a range; with a range each new instance
draws its own value from A up to, not including, B (as Spin does), so that
instances do not all retire at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..ranges import Span, parse_count_range, parse_duration_range


@dataclass(frozen=True)
class ReusePolicy:
    """How long instances live: one request each unless reuse is asked for."""

    max_requests: Span = Span(1)
    idle_timeout: Span = Span(1.0)  # seconds; Spin's default
    seed: int | None = None  # the draws of ranges, for tests

    @classmethod
    def parse(cls, count: str | int, idle: str | float, seed: int | None = None) -> ReusePolicy:
        """From the flags' text: `--max-instance-reuse-count`, `--idle-instance-timeout`."""
        return cls(parse_count_range(str(count)), parse_duration_range(str(idle)), seed)

    @property
    def reuses(self) -> bool:
        return self.max_requests.low > 1 or self.max_requests.high is not None

    def lifetime(self, rng: random.Random) -> tuple[int, float]:
        """A new instance's request count and idle timeout."""
        return int(self.max_requests.draw(rng)), self.idle_timeout.draw(rng)


FRESH = ReusePolicy()
