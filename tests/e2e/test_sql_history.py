"""The recorded SQL history of the real sqlprobe component, and its checkers.

The Emulator records every statement a guest runs with the primary state its
region's copy held afterwards. The checkers pass on what the Turso model does,
and catch each guarantee broken on purpose: a writer that does not read its
write, a replica that goes back, a replica that is no state of the primary,
and copies that differ.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from runtime.errors import EdgeError
from runtime.stores._sqlite import driver
from runtime.testing import Emulator
from runtime.testing.sql_history import sql_monotonic_reads, sql_read_your_writes

from .test_regions_sql import REGIONS, insert, open_emulator, rows, sql

pytestmark = pytest.mark.e2e


@pytest.fixture
def edge(built: dict[str, Path], tmp_path: Path) -> Iterator[Emulator]:
    with open_emulator(built["sqlprobe"], tmp_path) as emulator:
        yield emulator


def replica_file(edge: Emulator, region: str) -> Path:
    return edge.host.replica_sync.layout.sql_path(region, "default")


def copy_database(source: Path, target: Path) -> None:
    with closing(driver.connect(source)) as src, closing(driver.connect(target)) as dst:
        src.backup(dst)


def test_each_statement_is_recorded_with_the_state_it_saw(edge: Emulator) -> None:
    us, eu, ap = (edge.client(r) for r in REGIONS)
    schema = edge.sql_history.ops()[-1]
    assert schema.region == "us-east" and schema.made is not None

    insert(eu, 1)
    assert rows(eu) == [[1, "eu-west", 1]]
    assert rows(ap) == []
    write, eu_read, ap_read = edge.sql_history.ops()[-3:]
    assert write.region == "eu-west" and write.made == write.state == schema.made + 1
    assert (eu_read.state, eu_read.made) == (write.made, None)  # the writer reads its write
    assert ap_read.state == schema.made  # ap-south still holds the state before it

    result = sql(
        us,
        "INSERT INTO log (region, n) VALUES ('us-east', 2)",
        "INSERT INTO log (region, n) VALUES ('us-east', 3)",
        mode="batch",
    )
    assert "error" not in result, result
    batch = [op for op in edge.sql_history.ops("us-east") if op.index > ap_read.index]
    inside = [op for op in batch if op.state is None]
    assert len(inside) >= 2  # the inserts ran in the transaction: no state of their own
    assert [op.made for op in batch if op.made is not None] == [write.made + 1]  # one commit

    failed = sql(eu, "INSERT INTO log (region, n) VALUES ('eu-west', 1)")
    assert "UNIQUE" in failed["error"]
    last = edge.sql_history.ops()[-1]
    assert last.error is not None and "UNIQUE" in last.error and last.made is None

    edge.partition("ap-south")
    edge.advance("5s")
    assert rows(ap) == []  # cut off: still the old state
    edge.heal()
    edge.check_read_your_writes()
    edge.check_monotonic_reads()
    edge.check_convergence()
    assert rows(ap) == rows(us)
    assert "saw state" in str(edge.sql_history.ops()[-1])


def test_a_writer_that_does_not_read_its_write_is_caught(
    edge: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    eu = edge.client("eu-west")
    monkeypatch.setattr(edge.host.sql, "caught_up", lambda label, region: None)
    insert(eu, 1)
    assert rows(eu) == []  # the bug: eu-west's replica was not synced after its write
    [own, later] = sql_read_your_writes(edge.sql_history)
    assert own.ops[0] is own.ops[1]  # the acknowledged write itself left eu-west behind
    assert later.ops[1].sql.startswith("SELECT")
    with pytest.raises(AssertionError, match="read-your-writes violation") as err:
        edge.check_read_your_writes()
    assert "in eu-west" in str(err.value) and "older than its own write" in str(err.value)


def test_a_replica_that_goes_back_is_caught(edge: Emulator, tmp_path: Path) -> None:
    us, ap = edge.client("us-east"), edge.client("ap-south")
    insert(us, 1)
    edge.settle()
    assert len(rows(ap)) == 1
    older = tmp_path / "older.sqlite"
    copy_database(replica_file(edge, "ap-south"), older)
    insert(us, 2)
    edge.settle()
    assert len(rows(ap)) == 2
    edge.check_monotonic_reads()

    copy_database(older, replica_file(edge, "ap-south"))  # put ap-south back by one state
    assert len(rows(ap)) == 1
    with pytest.raises(AssertionError, match="monotonic reads violation") as err:
        edge.check_monotonic_reads()
    assert "in ap-south" in str(err.value) and "went back from the earlier" in str(err.value)
    with pytest.raises(AssertionError, match="copies differ"):
        edge.check_convergence(settle=False)


def test_a_replica_that_is_no_state_of_the_primary_is_caught(edge: Emulator) -> None:
    ap = edge.client("ap-south")
    with closing(driver.connect(replica_file(edge, "ap-south"))) as replica:
        replica.execute("INSERT INTO log (region, n) VALUES ('nowhere', 99)")
        replica.commit()
    assert rows(ap) == [[1, "nowhere", 99]]
    [violation] = sql_monotonic_reads(edge.sql_history)
    assert violation.check == "exact-state"
    assert "saw a state the primary never had" in violation.message


def test_copies_that_differ_fail_convergence(edge: Emulator) -> None:
    us = edge.client("us-east")
    edge.partition("ap-south")
    insert(us, 1)
    with pytest.raises(EdgeError, match="cannot settle"):
        edge.check_convergence()
    with pytest.raises(AssertionError, match=r"ap-south -> state \d+; eu-west, us-east"):
        edge.check_convergence(settle=False)
    edge.heal()
    edge.check_convergence()
