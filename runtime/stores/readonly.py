"""Telling reads from writes, so that a replica only ever serves reads.

SQLite asks a connection's authorizer about every action while it compiles a
statement, before anything runs. A replica's connections carry an authorizer
that allows what only reads (tables, functions, pragmas that report) and denies
the rest; a denied statement fails at compile time, having changed nothing, and
the router sends it to the primary instead. Asking SQLite is exact where a
guess from the first keyword is not (`WITH ... INSERT`, `INSERT ... RETURNING`,
triggers, `CREATE TABLE IF NOT EXISTS`).
"""

from __future__ import annotations

from ._sqlite import driver

_READS = {
    driver.SQLITE_SELECT,
    driver.SQLITE_READ,
    driver.SQLITE_FUNCTION,
    driver.SQLITE_RECURSIVE,
}

# Pragmas that take an argument and still only report (`PRAGMA table_info(t)`).
# Any other pragma with an argument sets something, and goes to the primary.
_REPORTING_PRAGMAS = {
    "collation_list",
    "compile_options",
    "database_list",
    "foreign_key_check",
    "foreign_key_list",
    "function_list",
    "index_info",
    "index_list",
    "index_xinfo",
    "integrity_check",
    "module_list",
    "pragma_list",
    "quick_check",
    "table_info",
    "table_list",
    "table_xinfo",
}

# Verbs of statements that write (or start a transaction), as
# `framework.sql.statement_kind` names them. The router sends these to the
# primary without trying the replica, whose schema may be older.
WRITE_VERBS = frozenset(
    [
        "ALTER",
        "ANALYZE",
        "ATTACH",
        "BEGIN",
        "CREATE",
        "DELETE",
        "DETACH",
        "DROP",
        "INSERT",
        "REINDEX",
        "REPLACE",
        "SAVEPOINT",
        "UPDATE",
        "VACUUM",
    ]
)


class ReadOnlyGuard:
    """The authorizer of one replica connection; remembers what it denied."""

    def __init__(self) -> None:
        self.denied: str | None = None
        self.own = False  # the store's own statement (a busy timeout), not the guest's

    def __call__(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None
    ) -> int:
        if self.own or self._allows(action, arg1, arg2):
            return driver.SQLITE_OK
        self.denied = _describe(action, arg1)
        return driver.SQLITE_DENY

    @staticmethod
    def _allows(action: int, arg1: str | None, arg2: str | None) -> bool:
        if action in _READS:
            return True
        if action == driver.SQLITE_PRAGMA:
            return arg2 is None or (arg1 or "").lower() in _REPORTING_PRAGMAS
        if action in (driver.SQLITE_TRANSACTION, driver.SQLITE_SAVEPOINT):
            # Starting a transaction goes to the primary. COMMIT, ROLLBACK and
            # RELEASE only get here outside one, where SQLite's own error
            # ("no transaction is active") is the right answer.
            return arg1 != "BEGIN"
        return False


# The authorizer's action codes share values with result codes in the driver
# module, so the names are listed rather than looked up.
_ACTION_NAMES = {
    getattr(driver, "SQLITE_" + name): name.lower().replace("_", " ")
    for name in [
        "ALTER_TABLE",
        "ANALYZE",
        "ATTACH",
        "CREATE_INDEX",
        "CREATE_TABLE",
        "CREATE_TEMP_INDEX",
        "CREATE_TEMP_TABLE",
        "CREATE_TEMP_TRIGGER",
        "CREATE_TEMP_VIEW",
        "CREATE_TRIGGER",
        "CREATE_VIEW",
        "CREATE_VTABLE",
        "DELETE",
        "DETACH",
        "DROP_INDEX",
        "DROP_TABLE",
        "DROP_TEMP_INDEX",
        "DROP_TEMP_TABLE",
        "DROP_TEMP_TRIGGER",
        "DROP_TEMP_VIEW",
        "DROP_TRIGGER",
        "DROP_VIEW",
        "DROP_VTABLE",
        "INSERT",
        "PRAGMA",
        "REINDEX",
        "SAVEPOINT",
        "TRANSACTION",
        "UPDATE",
    ]
}


def _describe(action: int, arg1: str | None) -> str:
    name = _ACTION_NAMES.get(action, f"action {action}")
    return f"{name} {arg1}" if arg1 else name


# Pragmas that take over the write-ahead log, which replication reads and
# checkpoints itself (runtime.stores.sqlsync): a checkpoint it does not know of
# could restart the log under a replica.
_WAL_PRAGMAS = {"wal_checkpoint", "wal_autocheckpoint"}


class PrimaryGuard:
    """The authorizer of a writable database's connection: all but a few things.

    A guest may not write raw pages (`sqlite_dbpage`, which the driver's SQLite
    has) nor checkpoint the log (`PRAGMA wal_checkpoint`, setting
    `wal_autocheckpoint`). `denied` says what the last statement was refused.
    """

    def __init__(self) -> None:
        self.denied: str | None = None

    def __call__(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None
    ) -> int:
        pragma = (arg1 or "").lower()
        if action == driver.SQLITE_PRAGMA and pragma in _WAL_PRAGMAS:
            if arg2 is None and pragma == "wal_autocheckpoint":
                return driver.SQLITE_OK  # only reports the setting
            self.denied = f"PRAGMA {pragma}"
        elif action in _PAGE_WRITES and (arg1 or "").lower() == "sqlite_dbpage":
            self.denied = "writing sqlite_dbpage"
        else:
            return driver.SQLITE_OK
        return driver.SQLITE_DENY


_PAGE_WRITES = {driver.SQLITE_INSERT, driver.SQLITE_UPDATE, driver.SQLITE_DELETE}
