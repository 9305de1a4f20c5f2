"""What went wrong in a guest call, said in full: the cause first, then where.

wasmtime reports a trap as "error while executing at wasm backtrace:", the
frames, then "Caused by:" and the cause. The first line alone says nothing, so
a failure's message is the cause and its `details` keep the wasm backtrace;
the guest's own output (a Python traceback, prints) travels beside them.
"""

from __future__ import annotations

_CAUSED_BY = "Caused by:"


class GuestFailure(Exception):
    """The guest trapped or was stopped; its instance has been dropped."""

    def __init__(self, message: str, guest_output: str = "", details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.guest_output = guest_output
        self.details = details  # the wasm backtrace, for the log


class DeadlineExceeded(GuestFailure):
    """The request ran past its deadline; `where` says in what it was stopped."""

    def __init__(self, message: str, where: str, guest_output: str = "") -> None:
        super().__init__(message, guest_output)
        self.where = where


class ResponseTooLarge(GuestFailure):
    """The handler returned a body larger than the host takes."""


class Overloaded(GuestFailure):
    """Not started: too many earlier handlers are still blocked past their deadline,
    or every instance slot of the pooling allocator is taken. `public` is what
    the client is told."""

    public = "too many requests are still blocked past their deadline"


class OutOfSlots(Overloaded):
    public = "every instance slot is in use; try again"


def trap_cause(text: str) -> tuple[str, str]:
    """A wasmtime error's text as (its cause, the rest: the backtrace), cause on one line."""
    text = text.strip()
    if not text:
        return "unknown error", ""
    head, sep, cause = text.rpartition(_CAUSED_BY)
    if not sep:
        first, _, rest = text.partition("\n")
        return first.strip(), rest.strip()
    reason = " ".join(line.strip() for line in cause.strip().splitlines() if line.strip())
    return reason or "unknown error", head.strip()


def is_epoch_interrupt(cause: str) -> bool:
    # The epoch deadline's trap: "wasm trap: interrupt".
    return cause.endswith("interrupt")
