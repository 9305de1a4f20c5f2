"""Spin's naming rules, reading TOML files, and where a key sits (for error line numbers)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from ..errors import ManifestError

KeyPath = tuple[str | int, ...]


# --- naming rules ------------------------------------------------------------------


def id_problem(value: str, delim: str, lower: bool) -> str | None:
    """Why `value` is not a Spin id with words joined by `delim`, or None.

    Spin's ids (component ids are kebab-case, variable names lower snake_case):
    non-empty words of ASCII letters and digits, each starting with a letter and
    either all lowercase or all uppercase (lowercase only when `lower`).
    """
    if not value:
        return "must not be empty"
    wrong = {"-": "_", "_": "-"}.get(delim)
    if wrong is not None and wrong in value:
        return f"words must be separated with {delim!r}, not {wrong!r}"
    for word in value.split(delim):
        if not word:
            return f"{delim!r}-separated words must not be empty"
        if not (word[0].isascii() and word[0].isalpha()):
            return f"{delim!r}-separated words must start with an ASCII letter; got {word[0]!r}"
        bad = next((c for c in word if not (c.isascii() and c.isalnum())), None)
        if bad is not None:
            return (
                f"{delim!r}-separated words may contain only ASCII letters and digits; got {bad!r}"
            )
        letters = [c for c in word if c.isalpha()]
        if any(c.isupper() for c in letters) and any(c.islower() for c in letters):
            return f"{delim!r}-separated words must be all lowercase or all UPPERCASE; got {word!r}"
        if lower and word[0].isupper():
            return f"must be all lowercase; got {value!r}"
    return None


def kebab_problem(value: str) -> str | None:
    return id_problem(value, "-", lower=False)


def lower_snake_problem(value: str) -> str | None:
    return id_problem(value, "_", lower=True)


def label_problem(value: str) -> str | None:
    """Store and database labels: kebab-case or snake_case, as Spin accepts."""
    if kebab_problem(value) is None or id_problem(value, "_", lower=False) is None:
        return None
    return "expected a kebab-case or snake_case name (letters and digits, words joined by - or _)"


# --- error locations -------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_KEY_SEGMENT = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_KEY = rf"{_KEY_SEGMENT}(?:\s*\.\s*{_KEY_SEGMENT})*"
_HEADER_LINE = re.compile(rf"\s*(\[\[?)\s*({_KEY})\s*\]\]?\s*(?:#.*)?$")
_KEY_LINE = re.compile(rf"\s*({_KEY})\s*=")


def format_key(path: KeyPath) -> str:
    """`("trigger", "http", 1, "route")` -> `trigger.http[1].route`."""
    out = ""
    for seg in path:
        if isinstance(seg, int):
            out += f"[{seg}]"
        else:
            text = seg if _BARE_KEY.fullmatch(seg) else json.dumps(seg)
            out += f".{text}" if out else text
    return out


def _key_segments(key: str) -> list[str]:
    segs = []
    for m in re.finditer(_KEY_SEGMENT, key):
        seg = m.group(0)
        if seg.startswith('"'):
            try:
                seg = json.loads(seg)
            except ValueError:
                seg = seg[1:-1]
        elif seg.startswith("'"):
            seg = seg[1:-1]
        segs.append(seg)
    return segs


def key_lines(text: str) -> dict[KeyPath, int]:
    """Line of each table header and key in `text`, by key path (best effort).

    Only for error messages: it follows headers, arrays of tables and dotted
    keys, skips multi-line strings, and does not look inside inline tables.
    """
    lines: dict[KeyPath, int] = {}
    arrays: dict[KeyPath, int] = {}
    table: KeyPath = ()
    in_string: str | None = None

    def note(path: KeyPath, lineno: int) -> None:
        for i in range(1, len(path) + 1):
            lines.setdefault(path[:i], lineno)

    def resolve(segs: list[str]) -> KeyPath:
        out: list[str | int] = []
        for seg in segs:
            out.append(seg)
            count = arrays.get(tuple(out))
            if count:
                out.append(count - 1)
        return tuple(out)

    for lineno, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        header = _HEADER_LINE.match(line)
        if header:
            segs = _key_segments(header.group(2))
            if header.group(1) == "[[":
                parent = resolve(segs[:-1]) + (segs[-1],)
                arrays[parent] = arrays.get(parent, 0) + 1
                table = parent + (arrays[parent] - 1,)
            else:
                table = resolve(segs)
            note(table, lineno)
            continue
        key = _KEY_LINE.match(line)
        if key:
            note(table + tuple(_key_segments(key.group(1))), lineno)
        for quote in ('"""', "'''"):
            if line.count(quote) % 2 == 1:
                in_string = quote
                break
    return lines


def toml_error(message: str, text: str) -> tuple[str, int | None]:
    m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if m:
        return f"{message[: m.start()]} (column {m.group(2)})", int(m.group(1))
    m = re.search(r"\s*\(at end of document\)$", message)
    if m:
        return f"{message[: m.start()]} (at the end of the file)", max(1, len(text.splitlines()))
    return message, None


def read_toml(file: Path, error: type[ManifestError], what: str) -> str:
    """The text of a TOML file, or `error` saying why not (`what` names the file's kind)."""
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(file, "", f"no such file: give the path of {what}") from None
    except UnicodeDecodeError as exc:
        raise error(file, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise error(file, "", f"cannot read the file: {exc.strerror or exc}") from None


def parse_toml(text: str, file: Path, error: type[ManifestError]) -> dict[str, Any]:
    """TOML text as a table, or `error` with the line of the problem."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message, line = toml_error(str(exc), text)
        raise error(file, "", f"invalid TOML: {message}", line) from None
