"""The pure parts of `framework.turso`: values, rows, result sets, statement kinds.

Nothing here touches the bindings, so all of it runs (and is tested) on the host.
Values cross the WIT boundary as `spin:sqlite` `value` variants; here they are
`(kind, payload)` pairs that `framework.turso` turns into the generated
`Value_*` classes, and generated-binding-like objects are read back by their
class names (`Value_Integer`, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

SQLValue = int | float | str | bytes | None
Params = Iterable[object]

_S64_MIN, _S64_MAX = -(2**63), 2**63 - 1
WRITE_KINDS = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})
INSERT_KINDS = frozenset({"INSERT", "REPLACE"})
_MAIN_KINDS = frozenset({"SELECT", "VALUES"}) | WRITE_KINDS


# --- parameters ----------------------------------------------------------------


def encode_param(value: object, position: int = 1) -> tuple[str, Any]:
    """One parameter as (kind, payload); kind is a `spin:sqlite` value case."""
    if value is None:
        return "null", None
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "integer", int(value)
    if isinstance(value, int):
        if not _S64_MIN <= value <= _S64_MAX:
            raise OverflowError(
                f"SQL parameter {position}: {value} does not fit SQLite's 64-bit integers"
            )
        return "integer", int(value)
    if isinstance(value, float):
        return "real", float(value)
    if isinstance(value, str):
        return "text", str.__str__(value)  # a plain str, also for str-based enums
    if isinstance(value, bytes | bytearray | memoryview):
        return "blob", bytes(value)
    raise TypeError(
        f"SQL parameter {position} has unsupported type {type(value).__name__}: use int, "
        "float, str, bytes, bool or None (convert dates, decimals and the like to str)"
    )


def encode_params(params: Params) -> list[tuple[str, Any]]:
    """Positional parameters (Spin's sqlite interface has no named ones)."""
    if isinstance(params, Mapping):
        raise TypeError(
            "named SQL parameters are not supported (Spin's sqlite interface is "
            "positional): use ? or ?NNN placeholders and pass a list or tuple"
        )
    if isinstance(params, str | bytes | bytearray | memoryview):
        raise TypeError(
            f"SQL parameters must be a list or tuple of values, not {type(params).__name__} "
            "(for one parameter write [value])"
        )
    if not isinstance(params, Iterable):
        raise TypeError(
            f"SQL parameters must be a list or tuple of values, not {type(params).__name__}"
        )
    return [encode_param(v, i) for i, v in enumerate(params, 1)]


def decode_value(value: Any) -> SQLValue:
    """A `spin:sqlite` value (a generated `Value_*` object) as plain Python."""
    kind = type(value).__name__
    if kind in ("Value_Integer", "Value_Real", "Value_Text"):
        payload: SQLValue = value.value
        return payload
    if kind == "Value_Blob":
        return bytes(value.value)
    if kind == "Value_Null":
        return None
    raise TypeError(f"unexpected SQL value from the host: {value!r}")


# --- statements ----------------------------------------------------------------


def statement_kind(sql: str) -> str:
    """The statement's main keyword, upper-cased ("SELECT", "INSERT", "CREATE", ...).

    A leading WITH clause is looked through: `WITH t AS (...) DELETE ...` is a
    DELETE. Comments, string literals and quoted names are skipped. "" if none.
    """
    words = _top_level_words(sql)
    first = next(words, "")
    if first != "WITH":
        return first
    return next((w for w in words if w in _MAIN_KINDS), "")


def _top_level_words(sql: str) -> Iterator[str]:
    """Upper-cased keywords outside parentheses, literals and comments."""
    depth = 0
    for kind, start, end in sql_tokens(sql):
        if kind == "char":
            if sql[start] == "(":
                depth += 1
            elif sql[start] == ")":
                depth = max(depth - 1, 0)
        elif kind == "word" and depth == 0 and not sql[start].isdigit():
            yield sql[start:end].upper()


_QUOTES = {"'": "'", '"': '"', "`": "`", "[": "]"}
_BLANKS = " \t\n\f\r"  # SQLite's; any other character >= 0x80 may be part of a name
_DIGITS = "0123456789"


def _id_char(char: str) -> bool:
    return (char.isascii() and char.isalnum()) or char in "_$" or ord(char) >= 0x80


def sql_tokens(sql: str) -> Iterator[tuple[str, int, int]]:
    """SQLite's tokens as (kind, start, end); blanks and comments are skipped.

    Kinds: "word" (a keyword or bare name), "quoted" ('' strings, ""/``/[] names),
    "param" (?, ?NNN, :name, @name, $name, with Tcl-style `::` and `(...)`
    suffixes), "semi" (;) and "char" (any other single character).
    """
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
            yield "quoted", i, end
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
            yield "char", i, i + 1
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


# --- results -----------------------------------------------------------------


class Row(Sequence[SQLValue]):
    """A result row: a sequence of values that can also be indexed by column name.

    `row[0]`, `row["title"]`, `row.get("title")`, `row.as_dict()`. With duplicate
    column names (say, from a join), names refer to the first such column.
    """

    __slots__ = ("_columns", "_index", "_values")

    def __init__(
        self,
        columns: Sequence[str],
        values: Sequence[SQLValue],
        index: Mapping[str, int] | None = None,
    ) -> None:
        if len(columns) != len(values):
            raise ValueError(f"a row of {len(values)} values for {len(columns)} columns")
        self._columns = tuple(columns)
        self._values = tuple(values)
        self._index = column_index(self._columns) if index is None else index

    @overload
    def __getitem__(self, key: int) -> SQLValue: ...
    @overload
    def __getitem__(self, key: str) -> SQLValue: ...
    @overload
    def __getitem__(self, key: slice) -> tuple[SQLValue, ...]: ...

    def __getitem__(self, key: int | str | slice) -> SQLValue | tuple[SQLValue, ...]:
        if isinstance(key, str):
            try:
                return self._values[self._index[key]]
            except KeyError:
                raise KeyError(
                    f"no column {key!r}; the columns are {', '.join(self._columns) or 'none'}"
                ) from None
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[SQLValue]:
        return iter(self._values)

    def __contains__(self, value: object) -> bool:
        return value in self._values

    def get(self, name: str, default: Any = None) -> Any:
        """The value of column `name`, or `default` if there is no such column."""
        index = self._index.get(name)
        return default if index is None else self._values[index]

    def keys(self) -> list[str]:
        return list(self._columns)

    def values(self) -> list[SQLValue]:
        return list(self._values)

    def items(self) -> list[tuple[str, SQLValue]]:
        return list(zip(self._columns, self._values, strict=True))

    def as_dict(self) -> dict[str, Any]:
        """Column name -> value (a new dict, free to modify)."""
        return {name: self._values[i] for name, i in self._index.items()}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Row):
            return self._columns == other._columns and self._values == other._values
        if isinstance(other, tuple | list):
            return self._values == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._columns, self._values))

    def __repr__(self) -> str:
        inner = ", ".join(f"{c}={v!r}" for c, v in zip(self._columns, self._values, strict=True))
        return f"Row({inner})"


def column_index(columns: Sequence[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, name in enumerate(columns):
        index.setdefault(name, i)
    return index


@dataclass
class ResultSet:
    """What a statement returned.

    `rows_affected` counts the rows an INSERT, UPDATE, DELETE or REPLACE
    changed (0 for any other statement); `last_insert_rowid` is the rowid of
    the row an INSERT/REPLACE inserted, None otherwise (or if it inserted none).
    """

    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    rows_affected: int = 0
    last_insert_rowid: int | None = None

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> Row:
        return self.rows[index]

    def first(self) -> Row | None:
        """The first row, or None if there are none."""
        return self.rows[0] if self.rows else None

    def scalar(self) -> SQLValue:
        """The first column of the first row, or None if there are no rows."""
        row = self.first()
        return None if row is None or not len(row) else row[0]

    def as_dicts(self) -> list[dict[str, Any]]:
        return [row.as_dict() for row in self.rows]


def build_result(
    query_result: Any,
    rows_affected: int = 0,
    last_insert_rowid: int | None = None,
) -> ResultSet:
    """A ResultSet from a `spin:sqlite` `query-result` (columns, rows of values)."""
    columns = list(query_result.columns)
    index = column_index(columns)
    rows = [Row(columns, [decode_value(v) for v in row.values], index) for row in query_result.rows]
    return ResultSet(columns, rows, rows_affected, last_insert_rowid)
