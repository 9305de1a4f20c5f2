"""Checking manifest values: errors that name file, key and line, and type checks."""

from __future__ import annotations

import difflib
import json
import os
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, NoReturn

from ..errors import ManifestError
from .syntax import KeyPath, format_key, key_lines


def type_name(value: Any) -> str:
    """How an error message names the TOML type of `value`."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | time):
        return "a date/time"
    return type(value).__name__


class Checker:
    """Error reporting and type checks shared by the parsers of each manifest section."""

    error: type[ManifestError] = ManifestError  # what fail() raises

    def __init__(self, file: Path, text: str) -> None:
        self.file = file
        self.text = text
        self.path = Path(os.path.abspath(file))
        self.root = self.path.parent
        self._lines: dict[KeyPath, int] | None = None

    # -- errors and types --

    def fail(self, path: KeyPath, message: str) -> NoReturn:
        raise self.error(self.file, format_key(path), message, self.line_of(path))

    def line_of(self, path: KeyPath) -> int | None:
        if self._lines is None:
            self._lines = key_lines(self.text)
        for end in range(len(path), 0, -1):
            line = self._lines.get(path[:end])
            if line is not None:
                return line
        return None

    def expect(self, value: Any, kind: type | tuple[type, ...], path: KeyPath, what: str) -> Any:
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            self.fail(path, f"expected {what}, found {type_name(value)}")
        return value

    def table(self, value: Any, path: KeyPath) -> dict[str, Any]:
        return self.expect(value, dict, path, "a table")

    def string(self, value: Any, path: KeyPath) -> str:
        return self.expect(value, str, path, "a string")

    def boolean(self, value: Any, path: KeyPath) -> bool:
        return self.expect(value, bool, path, "a boolean (true or false)")

    def strings(self, value: Any, path: KeyPath) -> tuple[str, ...]:
        if isinstance(value, str):
            hint = f"write [{json.dumps(value)}]"
            self.fail(path, f"expected an array of strings, found a string ({hint})")
        items = self.expect(value, list, path, "an array of strings")
        return tuple(self.string(item, path + (i,)) for i, item in enumerate(items))

    def string_table(self, value: Any, path: KeyPath) -> dict[str, str]:
        return {k: self.string(v, path + (k,)) for k, v in self.table(value, path).items()}

    def check_keys(
        self, table: dict[str, Any], path: KeyPath, allowed: set[str], where: str
    ) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                self.fail(
                    path + (key,),
                    f"unknown key in {where}{hint} (known keys: {', '.join(sorted(allowed))})",
                )

    def named(self, value: str, path: KeyPath, problem: str | None, what: str) -> str:
        if problem is not None:
            self.fail(path, f"invalid {what} {value!r}: {problem}")
        return value
