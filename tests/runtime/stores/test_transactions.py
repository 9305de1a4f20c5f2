"""Transaction statements as SQLite parses them (runtime.stores.transactions)."""

from __future__ import annotations

import pytest

from runtime.stores.transactions import Control, control_statement


@pytest.mark.parametrize(
    ("sql", "control"),
    [
        ("BEGIN", Control("BEGIN")),
        ("begin exclusive transaction;", Control("BEGIN")),
        ("-- why\n/* note */ BEGIN", Control("BEGIN")),
        ("COMMIT", Control("COMMIT")),
        ("END TRANSACTION", Control("COMMIT")),
        ("ROLLBACK", Control("ROLLBACK")),
        ("SAVEPOINT [a b]", Control("SAVEPOINT", "a b")),
        ('RELEASE SAVEPOINT "x""y"', Control("RELEASE", 'x"y')),
        ("ROLLBACK TRANSACTION TO SAVEPOINT `s`", Control("ROLLBACK TO", "s")),
    ],
)
def test_transaction_statements(sql: str, control: Control) -> None:
    assert control_statement(sql) == control
    assert control_statement(sql) == control  # again: nothing cached skips the parse


@pytest.mark.parametrize(
    "sql",
    ["SELECT 1", "INSERT INTO t VALUES (1)", "BEGIN; SELECT 1", "BEGIN nonsense", "COMMITTED", ""],
)
def test_everything_else(sql: str) -> None:
    assert control_statement(sql) is None
