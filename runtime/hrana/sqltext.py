"""Reading SQL text without running it: statement boundaries and parameters.

The scanner knows SQLite's lexical rules that matter here: '' strings, ""/``/[]
quoted names, -- and /* */ comments, and the parameter forms ?, ?NNN, :name,
@name, $name (with Tcl-style `::` and `(...)` suffixes). A `;` outside of
those ends a statement only where SQLite itself says the text is complete
(`sqlite3.complete_statement`), so a trigger body `BEGIN ...; ...; END` stays
one statement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from .errors import args_error

MAX_PARAMETER_INDEX = 32766  # SQLITE_MAX_VARIABLE_NUMBER's default

_QUOTES = {"'": "'", '"': '"', "`": "`", "[": "]"}
_BLANKS = " \t\n\f\r"  # SQLite's; any other character >= 0x80 may be part of a name
_DIGITS = "0123456789"


def _id_char(char: str) -> bool:
    return (char.isascii() and char.isalnum()) or char in "_$" or ord(char) >= 0x80


def _tokens(sql: str) -> Iterator[tuple[str, int, int]]:
    """(kind, start, end) with kind "semi", "param" or "word"; blanks and comments skipped."""
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        if char in _BLANKS:
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif char in _QUOTES:
            end = _quote_end(sql, i, _QUOTES[char])
            yield "word", i, end
            i = end
        elif char == ";":
            yield "semi", i, i + 1
            i += 1
        elif char == "?":
            end = i + 1
            while end < n and sql[end] in _DIGITS:
                end += 1
            yield "param", i, end
            i = end
        elif char in ":@$#" and i + 1 < n and _id_char(sql[i + 1]):
            end = _named_end(sql, i + 1)
            yield "param", i, end
            i = end
        elif _id_char(char):
            end = i + 1
            while end < n and _id_char(sql[end]):
                end += 1
            yield "word", i, end
            i = end
        else:
            yield "word", i, i + 1
            i += 1


def _quote_end(sql: str, start: int, close: str) -> int:
    i = start + 1
    while True:
        end = sql.find(close, i)
        if end < 0:
            return len(sql)
        # A doubled quote is an escaped quote; ] has no escape.
        if close != "]" and sql.startswith(close * 2, end):
            i = end + 2
            continue
        return end + 1


def _named_end(sql: str, i: int) -> int:
    n = len(sql)
    while i < n:
        if _id_char(sql[i]):
            i += 1
        elif sql.startswith("::", i):
            i += 2
        elif sql[i] == "(":
            close = sql.find(")", i)
            return n if close < 0 else close + 1
        else:
            break
    return i


def split_statements(sql: str) -> list[str]:
    """The statements of a `;`-separated script, each as SQLite would see it alone.

    Empty statements (`;;`, a trailing comment) are left out.
    """
    pieces: list[str] = []
    start = 0
    content = False
    for kind, _, end in _tokens(sql):
        if kind != "semi":
            content = True
            continue
        if content and sqlite3.complete_statement(sql[start:end]):
            pieces.append(sql[start:end])
            start, content = end, False
        elif not content:
            start = end  # an empty statement
    if content:
        pieces.append(sql[start:])
    return pieces


def parameter_names(sql: str) -> list[str | None]:
    """Parameter names by index (from 1, so entry 0 is parameter 1), numbered as SQLite does.

    `?` takes the next index; `?NNN` is index NNN; a name takes the next index the
    first time it appears and the same index after. Nameless slots are None.
    """
    names: dict[int, str | None] = {}
    index_of: dict[str, int] = {}
    highest = 0
    for kind, begin, end in _tokens(sql):
        if kind != "param":
            continue
        token = sql[begin:end]
        if token == "?":
            highest += 1
            names[highest] = None
        elif token[0] == "?":
            number = int(token[1:]) if len(token) <= 6 else 0
            if not 1 <= number <= MAX_PARAMETER_INDEX:
                raise args_error(f"parameter {token} is out of range 1..{MAX_PARAMETER_INDEX}")
            if names.get(number) is None:
                names[number] = token
            index_of.setdefault(token, number)
            highest = max(highest, number)
        elif token not in index_of:
            highest += 1
            if highest > MAX_PARAMETER_INDEX:
                raise args_error(f"more than {MAX_PARAMETER_INDEX} parameters")
            index_of[token] = highest
            names[highest] = token
    return [names.get(i) for i in range(1, highest + 1)]


def has_content(sql: str) -> bool:
    """Whether the text holds anything but blanks, comments and semicolons."""
    return any(kind != "semi" for kind, _, _ in _tokens(sql))
