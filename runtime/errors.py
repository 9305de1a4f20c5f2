"""Errors of the local runtime that are meant for the person running it."""

from __future__ import annotations

from pathlib import Path


class EdgeError(Exception):
    """A user-facing error: the CLI prints its message, without a traceback."""


class ManifestError(EdgeError):
    """Something is wrong in a Spin manifest (`spin.toml`).

    `key` is the dotted path of the offending entry, e.g. `component.todo.source`
    or `trigger.http[1].route` (array indexes count from 0); it is empty when the
    problem is the file as a whole. `line` is where the entry is, when known.
    """

    def __init__(self, file: Path, key: str, message: str, line: int | None = None) -> None:
        self.file = Path(file)
        self.key = key
        self.message = message
        self.line = line
        super().__init__(str(self))

    def __reduce__(self) -> tuple[type[ManifestError], tuple[Path, str, str, int | None]]:
        # Keeps the error intact across processes (the default pickles `args` only).
        return (type(self), (self.file, self.key, self.message, self.line))

    def __str__(self) -> str:
        where = str(self.file) if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
