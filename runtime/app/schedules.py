"""Cron schedules as Spin's cron plugin reads them, and when each fires next.

The plugin (spin-trigger-cron) schedules with tokio-cron-scheduler and the
Rust `cron` crate: six fields, seconds first (`sec min hour day-of-month
month day-of-week`), an optional seventh for the year, times in UTC, and
days of the week numbered 1 to 7 from Sunday (names SUN..SAT work too).
croniter does the parsing and the arithmetic; the one thing translated here
is that numbering, since croniter counts the days of the week from 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from croniter import CroniterBadCronError, croniter

_DOW_NUMBER = re.compile(r"\d+")


class ScheduleError(ValueError):
    """A cron expression the plugin would refuse."""


@dataclass(frozen=True)
class Schedule:
    expression: str  # as written in the manifest
    _croniter_form: str

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        fields = expression.split()
        if len(fields) not in (6, 7):
            raise ScheduleError(
                f"{expression!r} has {len(fields)} fields; the cron trigger takes six "
                "(sec min hour day-of-month month day-of-week) or seven (then the year)"
            )
        fields[5] = _days_from_zero(fields[5], expression)
        form = " ".join(fields)
        try:
            croniter(form, datetime(2000, 1, 1, tzinfo=UTC), second_at_beginning=True)
        except (CroniterBadCronError, ValueError, KeyError) as exc:
            raise ScheduleError(f"{expression!r} is not a valid cron expression: {exc}") from None
        return cls(expression, form)

    def next_after(self, when: float) -> float:
        """The first time (Unix seconds) strictly after `when` that the schedule fires."""
        start = datetime.fromtimestamp(when, UTC)
        it = croniter(self._croniter_form, start, second_at_beginning=True)
        return float(it.get_next(float))

    def times_between(self, start: float, end: float, limit: int = 100_000) -> list[float]:
        """Every firing time in (start, end], in order (at most `limit`)."""
        out: list[float] = []
        at = start
        while len(out) < limit:
            at = self.next_after(at)
            if at > end:
                break
            out.append(at)
        return out


def _days_from_zero(field: str, expression: str) -> str:
    """The day-of-week field with the cron crate's 1..7 (Sunday first) as croniter's 0..6."""
    parts = []
    for part in field.split(","):
        base, slash, step = part.partition("/")

        def shift(match: re.Match[str]) -> str:
            day = int(match[0])
            if not 1 <= day <= 7:
                raise ScheduleError(
                    f"{expression!r}: day of week {day} is out of range (1-7, 1 is Sunday)"
                )
            return str(day - 1)

        parts.append(_DOW_NUMBER.sub(shift, base) + slash + step)
    return ",".join(parts)
