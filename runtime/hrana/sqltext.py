"""Reading SQL text without running it: statement boundaries and parameters.

The tokens come from `framework.sql.sql_tokens` (the scanner the statement
classifier uses too). A `;` outside of strings, names and comments ends a
statement only where SQLite itself says the text is complete
(the driver's `complete_statement`), so a trigger body `BEGIN ...; ...; END` stays
one statement.
"""

from __future__ import annotations

from framework.sql import sql_tokens

from ..stores._sqlite import driver
from .errors import args_error

MAX_PARAMETER_INDEX = 32766  # SQLITE_MAX_VARIABLE_NUMBER's default


def split_statements(sql: str) -> list[str]:
    """The statements of a `;`-separated script, each as SQLite would see it alone.

    Empty statements (`;;`, a trailing comment) are left out.
    """
    pieces: list[str] = []
    start = 0
    content = False
    for kind, _, end in sql_tokens(sql):
        if kind != "semi":
            content = True
            continue
        if content and driver.complete_statement(sql[start:end]):
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
    for kind, begin, end in sql_tokens(sql):
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
    return any(kind != "semi" for kind, _, _ in sql_tokens(sql))
