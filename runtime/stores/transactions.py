"""Which statements begin, end or mark a transaction, as SQLite itself reads them.

A remote connection has to act on BEGIN, COMMIT, ROLLBACK and savepoints itself
(see runtime.stores.remote). Rather than parse SQL here, the statement is compiled
with EXPLAIN on a private in-memory database: SQLite reports transaction and
savepoint actions to the authorizer while it compiles, with savepoint names
already unquoted, and EXPLAIN runs nothing. Anything that does not compile as
one such statement is left for the server to run (and to report errors on).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

from framework.sql import statement_kind

from ._sqlite import driver

Verb = Literal["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "ROLLBACK TO"]

_FIRST_WORDS = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})
_SAVEPOINT_VERBS: dict[str | None, Verb] = {
    "BEGIN": "SAVEPOINT",
    "RELEASE": "RELEASE",
    "ROLLBACK": "ROLLBACK TO",
}


@dataclass(frozen=True)
class Control:
    """A transaction statement: BEGIN (any mode), COMMIT/END, ROLLBACK, or a savepoint one."""

    verb: Verb
    savepoint: str | None = None


class _Compiler:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # A cached statement is not compiled again, and so would not reach the
        # authorizer a second time; the driver caches even with
        # cached_statements=0, so each text is made unique (see control).
        self._db = driver.connect(
            ":memory:", isolation_level=None, check_same_thread=False, cached_statements=0
        )
        self._compiled = 0
        self._seen: list[Control] = []
        self._db.set_authorizer(self._authorize)

    def _authorize(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, src: str | None
    ) -> int:
        if action == driver.SQLITE_TRANSACTION and arg1 in ("BEGIN", "COMMIT", "ROLLBACK"):
            self._seen.append(Control(arg1))  # type: ignore[arg-type]
        elif action == driver.SQLITE_SAVEPOINT and arg1 in _SAVEPOINT_VERBS:
            self._seen.append(Control(_SAVEPOINT_VERBS[arg1], arg2))
        return driver.SQLITE_OK

    def control(self, sql: str) -> Control | None:
        with self._lock:
            self._seen.clear()
            try:
                self._compiled += 1
                self._db.execute(f"/* {self._compiled} */ EXPLAIN {sql}").close()
            except (driver.Error, driver.Warning):
                return None  # not one well-formed statement: the server says what is wrong
            return self._seen[0] if len(self._seen) == 1 else None


_compiler = _Compiler()


def control_statement(sql: str) -> Control | None:
    """The transaction statement `sql` is, or None for every other statement."""
    if statement_kind(sql) not in _FIRST_WORDS:
        return None
    return _compiler.control(sql)
