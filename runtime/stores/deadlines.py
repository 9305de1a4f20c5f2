"""How long the store calls made on this thread may run.

Whoever runs statements for someone with a time budget (a request's deadline,
Hrana's limit per statement) sets a deadline around the calls. SQLite's
progress handler and the remote client read it, so a statement stops in time
without every layer between them passing a timeout along:

    with deadlines.until(time.monotonic() + 5, "the request deadline of 5000 ms"):
        conn.execute(sql)          # interrupted (StatementInterrupted) at the deadline

Deadlines nest: the earlier one holds. A store that cuts a call short notes it
in `Deadline.cut`, so the caller can say which limit was hit and where.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class Deadline:
    at: float  # time.monotonic() seconds
    what: str  # the limit, for messages: "the request deadline of 5000 ms"
    cut: str | None = None  # what a store interrupted at the deadline, if anything

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def passed(self) -> bool:
        return time.monotonic() >= self.at


_current: ContextVar[Deadline | None] = ContextVar("edge_store_deadline", default=None)


def current() -> Deadline | None:
    """The deadline of the calls made here, or None when they may run for ever."""
    return _current.get()


@contextmanager
def applied(deadline: Deadline) -> Iterator[Deadline]:
    """Store calls inside the block stop at `deadline`, or at an earlier one around it."""
    outer = _current.get()
    if outer is not None and outer.at <= deadline.at:
        deadline = outer
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)


def until(at: float, what: str) -> AbstractContextManager[Deadline]:
    """Store calls inside the block stop at `at` (monotonic time), or earlier if nested."""
    return applied(Deadline(at, what))


def within(seconds: float, what: str) -> AbstractContextManager[Deadline]:
    """`until` the given number of seconds from now."""
    return until(time.monotonic() + seconds, what)


@contextmanager
def lifted() -> Iterator[None]:
    """No deadline inside the block: for clean-up that must finish (a ROLLBACK)."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)


def past_deadline() -> bool:
    """True once the current deadline has passed (SQLite's progress handler asks this)."""
    deadline = _current.get()
    return deadline is not None and time.monotonic() >= deadline.at
