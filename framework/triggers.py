"""Handlers of Spin's other triggers: Redis messages and cron schedules.

    from framework import cron_component, redis_component

    @redis_component
    def on_message(payload: bytes) -> None:
        ...

    @cron_component
    def every_minute(event: CronEvent) -> None:
        print("fired at", event.timestamp)

Which channel or schedule runs the component is the manifest's business, as on
Spin (`[[trigger.redis]] channel`, `[[trigger.cron]] cron_expression`): Spin
hands a Redis handler the payload only, not the channel, so a component has one
handler of each kind. A handler that raises fails the run; the host logs the
traceback, and Spin's trigger reports the error.

`edge componentize` exports the trigger interfaces of the handlers an app
registers here (`fermyon:spin/inbound-redis`, the cron plugin's
`handle-cron-event`), and only those.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar


@dataclass(frozen=True)
class CronEvent:
    """One firing of a schedule: `timestamp` is when, in seconds since the Unix epoch."""

    timestamp: int


MessageHandler = Callable[[bytes], Any]
CronHandler = Callable[[CronEvent], Any]
H = TypeVar("H", bound=Callable[..., Any])

_handlers: dict[str, Callable[..., Any]] = {}


def redis_component(func: H) -> H:
    """Register the component's handler of Redis messages (`payload: bytes`)."""
    return _register("redis", func)


def cron_component(func: H) -> H:
    """Register the component's handler of cron events (`event: CronEvent`)."""
    return _register("cron", func)


def _register(kind: str, func: H) -> H:
    if not callable(func):
        raise TypeError(
            f"@{kind}_component decorates a function (write @{kind}_component, no call)"
        )
    if kind in _handlers:
        raise ValueError(
            f"a component has one {kind} handler: {_handlers[kind].__name__} is already "
            f"registered, so {func.__name__} cannot be (the manifest says what runs it)"
        )
    _handlers[kind] = func
    return func


def handler(kind: str) -> Callable[..., Any] | None:
    return _handlers.get(kind)


def run_message(payload: bytes) -> str | None:
    """Run the Redis handler; None if it returned, else what went wrong (also logged)."""
    return _run("redis", bytes(payload))


def run_cron(timestamp: int) -> str | None:
    """Run the cron handler; None if it returned, else what went wrong (also logged)."""
    return _run("cron", CronEvent(int(timestamp)))


def _run(kind: str, argument: Any) -> str | None:
    func = _handlers.get(kind)
    if func is None:
        message = f"no @{kind}_component handler is registered in this component"
        sys.stderr.write(f"edge: {message}\n")
        return message
    try:
        func(argument)
    except Exception as exc:
        sys.stderr.write(f"edge: the {kind} handler {func.__name__} raised\n")
        sys.stderr.write(traceback.format_exc())
        sys.stderr.flush()
        return f"{type(exc).__name__}: {exc}"
    return None


def reset() -> None:
    """Forget the registered handlers (tests)."""
    _handlers.clear()
