"""How much one statement may return.

A SELECT can produce far more than a worker can hold, so rows are fetched in
batches and counted as they come: past `MAX_RESULT_BYTES` the statement stops
with `ResultTooLarge` and nothing of its result is kept. The limit is that of
Turso's server (sqld's `--max-response-size`, 10MB by default), and a value
counts roughly as sqld counts it: a fixed cost per value (about its JSON
envelope, `{"type":"integer","value":"1"}`) plus the length of a text or blob.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ._sqlite import driver

MAX_RESULT_BYTES = 10 * 1024 * 1024
"""The largest result of one statement, counted by `result_size` (sqld: 10MB)."""

VALUE_COST = 32
"""What each value counts besides its text or blob (sqld counts ~30 bytes of JSON)."""


class ResultTooLarge(Exception):
    """A statement's result is over its limit. The stores raise it as a SqlError."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"result too large: the statement returns more than {limit} bytes "
            f"(each value counts {VALUE_COST} bytes plus the length of its text or blob); "
            "select fewer rows or columns (LIMIT, OFFSET, substr)"
        )
        self.limit = limit


def value_size(value: object) -> int:
    if isinstance(value, str | bytes):
        return VALUE_COST + len(value)
    return VALUE_COST


def row_size(row: Sequence[object]) -> int:
    return sum(VALUE_COST + len(v) if isinstance(v, str | bytes) else VALUE_COST for v in row)


def result_size(rows: Iterable[Sequence[object]]) -> int:
    return sum(row_size(row) for row in rows)


def check_rows(rows: Iterable[Sequence[object]], limit: int = MAX_RESULT_BYTES) -> None:
    """Raise ResultTooLarge if `rows` (already fetched) are over `limit`."""
    total = 0
    for row in rows:
        total += row_size(row)
        if total > limit:
            raise ResultTooLarge(limit)


def fetch_rows(cursor: driver.Cursor, limit: int = MAX_RESULT_BYTES) -> list[tuple[object, ...]]:
    """Every row of `cursor`, or ResultTooLarge as soon as they pass `limit`.

    One row at a time, so that the count stops a large result at its first
    row over the limit (SQLite's length limit bounds the size of one value).
    """
    rows: list[tuple[object, ...]] = []
    total = 0
    for row in cursor:
        total += row_size(row)
        if total > limit:
            raise ResultTooLarge(limit)
        rows.append(row)
    return rows
