"""What the guest's wrappers of host resources (stores, connections) share."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self


class HostHandle:
    """Owns one resource handle the host gave out: closed once, a context manager."""

    _handle: Any

    def close(self) -> None:
        """Release the handle (idempotent)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.__exit__(None, None, None)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
