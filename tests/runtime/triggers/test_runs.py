"""The record of trigger runs: counts, last run and failure, shared by processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from runtime.triggers.runs import FILE_NAME, MAX_ERROR_CHARS, RowKey, RunRecord, empty_stats

EVENTS_US = RowKey("redis:events", "jobs", "us-east", "redis://127.0.0.1:6379")
CRON_EU = RowKey("cron:jobs", "jobs", "eu-west")


def test_runs_and_failures_are_counted_and_the_last_failure_kept(tmp_path: Path) -> None:
    record = RunRecord.in_state_dir(tmp_path)
    assert record.path == tmp_path / FILE_NAME
    assert record.rows() == {}
    record.ran(EVENTS_US, at=100.0, ok=True, error=None, seconds=0.01)
    record.ran(EVENTS_US, at=101.0, ok=False, error="asked to fail", seconds=0.02)
    record.ran(EVENTS_US, at=102.0, ok=True, error=None, seconds=0.03)
    stats = record.rows()[EVENTS_US]
    assert stats["runs"] == 3 and stats["failures"] == 1
    assert stats["last_run"] == {"at": 102.0, "ok": True, "seconds": 0.03, "error": None}
    assert stats["last_failure"] == {"at": 101.0, "error": "asked to fail"}
    assert list(record.rows()) == [EVENTS_US]  # one row per trigger, component, region, server
    record.close()


def test_skips_drops_and_next_runs(tmp_path: Path) -> None:
    record = RunRecord.in_state_dir(tmp_path)
    record.next_due(CRON_EU, 600.0)
    record.skipped(CRON_EU, at=600.0)
    record.skipped(CRON_EU, at=1200.0)
    record.next_due(CRON_EU, 1800.0)
    record.dropped(EVENTS_US)
    rows = record.rows()
    assert rows[CRON_EU] == {
        **empty_stats(),
        "skipped": 2,
        "last_skipped_at": 1200.0,
        "next_run": 1800.0,
    }
    assert rows[EVENTS_US] == {**empty_stats(), "dropped": 1}
    record.close()


def test_long_errors_are_cut_and_subscriptions_kept(tmp_path: Path) -> None:
    record = RunRecord.in_state_dir(tmp_path)
    record.ran(CRON_EU, at=1.0, ok=False, error="x" * 10_000, seconds=1.5)
    assert len(record.rows()[CRON_EU]["last_failure"]["error"]) == MAX_ERROR_CHARS
    record.subscription(
        "redis://127.0.0.1:1",
        ["events", "audit"],
        connected=True,
        since=5.0,
        reconnects=2,
        last_error="Connection refused",
        pid=42,
    )
    assert record.subscriptions() == {
        "redis://127.0.0.1:1": {
            "channels": ["events", "audit"],
            "connected": True,
            "since": 5.0,
            "reconnects": 2,
            "last_error": "Connection refused",
            "pid": 42,
        }
    }
    record.reset()
    assert record.rows() == {} and record.subscriptions() == {}
    record.close()


def test_another_process_sees_the_same_record_and_writes_beside_this_one(tmp_path: Path) -> None:
    ours = RunRecord.in_state_dir(tmp_path)
    writer = textwrap.dedent(
        f"""
        from pathlib import Path
        from runtime.triggers.runs import RowKey, RunRecord
        record = RunRecord.in_state_dir(Path({str(tmp_path)!r}))
        key = RowKey("cron:jobs", "jobs", "eu-west")
        for i in range(200):
            record.ran(key, at=float(i), ok=i % 2 == 0, error=None if i % 2 == 0 else "odd",
                       seconds=0.001)
        record.close()
        """
    )
    other = subprocess.Popen([sys.executable, "-c", writer], cwd=Path(__file__).parents[3])
    for i in range(200):
        ours.ran(CRON_EU, at=1000.0 + i, ok=True, error=None, seconds=0.001)
    assert other.wait(timeout=60) == 0
    stats = RunRecord.in_state_dir(tmp_path).rows()[CRON_EU]  # a third handle, fresh
    assert stats["runs"] == 400
    assert stats["failures"] == 100
    assert stats["last_failure"]["error"] == "odd"
    ours.close()
