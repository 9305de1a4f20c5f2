"""`with thing:` for everything here that holds files or connections and has close()."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closeable:
    """Closes on leaving a `with` block; subclasses define close()."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
