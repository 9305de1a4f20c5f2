"""The runtime's SQLite driver (runtime.stores._sqlite): one library, what it adds to its module."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.stores import SqlDatabase, SqlError
from runtime.stores._sqlite import (
    driver,
    driver_library,
    error_name,
    result_name,
    set_length_limit,
)


def test_the_driver_has_sqlite_dbpage_and_its_library_is_the_module_s() -> None:
    conn = driver.connect(":memory:")
    assert conn.execute("SELECT count(*) FROM sqlite_dbpage").fetchone() == (0,)
    lib = driver_library()
    assert lib is not None and lib.sqlite3_libversion().decode() == driver.sqlite_version
    assert tuple(int(x) for x in driver.sqlite_version.split(".")) >= (3, 47, 0)


def test_extended_error_names_come_from_the_failing_connection() -> None:
    conn = driver.connect(":memory:")
    conn.execute("CREATE TABLE t (a UNIQUE, b INTEGER PRIMARY KEY)")
    conn.execute("INSERT INTO t VALUES (1, 1)")
    with pytest.raises(driver.IntegrityError) as unique:
        conn.execute("INSERT INTO t VALUES (1, 2)")
    assert error_name(unique.value, conn) == "SQLITE_CONSTRAINT_UNIQUE"
    assert error_name(unique.value) == "SQLITE_CONSTRAINT"  # the module's own name
    with pytest.raises(driver.IntegrityError) as key:
        conn.execute("INSERT INTO t VALUES (2, 1)")
    assert error_name(key.value, conn) == "SQLITE_CONSTRAINT_PRIMARYKEY"
    assert (result_name(5 | 3 << 8), result_name(14), result_name(999)) == (
        "SQLITE_BUSY_TIMEOUT",
        "SQLITE_CANTOPEN",
        None,
    )


def test_the_length_limit_is_set_on_the_connection() -> None:
    conn = driver.connect(":memory:")
    set_length_limit(conn, 1000)
    conn.execute("SELECT zeroblob(1000)").fetchone()
    with pytest.raises(driver.DataError, match="too big"):
        conn.execute("SELECT zeroblob(1001)").fetchone()
    assert driver.connect(":memory:").execute("SELECT length(zeroblob(5000))").fetchone() == (5000,)


def test_sqlean_extensions_stay_off_whatever_the_environment_says(tmp_path: Path) -> None:
    probe = (
        "from runtime.stores import SqlDatabase\n"
        f"db = SqlDatabase({str(tmp_path / 'x.sqlite')!r})\n"
        'print(db.execute("SELECT count(*) FROM pragma_function_list'
        " WHERE name IN ('readfile', 'writefile', 'uuid4')\").rows[0][0])\n"
    )
    env = {**os.environ, "SQLEAN_ENABLE": "1", "SQLEAN_ENABLE_FILEIO": "1"}
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        cwd=Path(__file__).parents[3],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "0"


def test_a_database_reports_its_errors_by_their_extended_name(tmp_path: Path) -> None:
    with SqlDatabase(tmp_path / "d.sqlite") as db:
        db.execute("CREATE TABLE t (x NOT NULL)")
        with pytest.raises(SqlError) as failed:
            db.execute("INSERT INTO t VALUES (NULL)")
        assert failed.value.code == "SQLITE_CONSTRAINT_NOTNULL"
