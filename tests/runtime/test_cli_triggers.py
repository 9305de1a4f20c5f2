"""The CLI's trigger parts without a server: the --trigger-regions flag and the status tables."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from rich.console import Console

from runtime.cli import build_parser, triggers_view
from runtime.settings import load_settings


def test_trigger_regions_flags_become_the_setting(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        [
            "up",
            "--trigger-regions",
            "redis:audit=eu-west",
            "--trigger-regions",
            "cron:jobs=us-east, eu-west",
        ]
    )
    settings = load_settings(env_file=None, trigger_regions=args.trigger_regions)
    assert settings.trigger_regions == {
        "redis:audit": ["eu-west"],
        "cron:jobs": ["us-east", "eu-west"],
    }


def test_the_environment_form_and_a_malformed_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_TRIGGER_REGIONS", "redis:audit=eu-west;cron:jobs=us-east")
    assert load_settings(env_file=None).trigger_regions == {
        "redis:audit": ["eu-west"],
        "cron:jobs": ["us-east"],
    }
    with pytest.raises(ValidationError, match="is not redis:<channel>=R1,R2"):
        load_settings(env_file=None, trigger_regions=["audit=eu-west"])


def _row(**changes: Any) -> dict[str, Any]:
    row = {
        "runs": 0,
        "failures": 0,
        "skipped": 0,
        "dropped": 0,
        "last_run": None,
        "last_failure": None,
        "last_skipped_at": None,
        "next_run": None,
    }
    return {**row, **changes}


def test_the_status_tables_of_triggers() -> None:
    data = {
        "now": 1000.0,
        "redis": [
            {
                "address": "redis://user:secret@127.0.0.1:6379",
                "channels": ["events"],
                "connected": False,
                "since": 990.0,
                "reconnects": 3,
                "last_error": "Connection refused",
                "subscriber_pid": 7,
            }
        ],
        "triggers": [
            {
                "kind": "redis",
                "trigger": "redis:events",
                "channel": "events",
                "address": "redis://user:secret@127.0.0.1:6379",
                "component": "jobs",
                "regions": [
                    _row(
                        region="us-east",
                        runs=5,
                        failures=1,
                        last_run={"at": 998.0, "ok": True, "seconds": 0.004, "error": None},
                        last_failure={"at": 997.0, "error": "asked to fail"},
                    )
                ],
            },
            {
                "kind": "cron",
                "trigger": "cron:jobs",
                "job": "jobs",
                "component": "jobs",
                "schedule": "0 */10 * * * *",
                "regions": [_row(region="eu-west", runs=2, skipped=1, next_run=1200.0)],
            },
        ],
    }
    out = io.StringIO()
    console = Console(file=out, width=200)
    for table in triggers_view(data):
        console.print(table)
    text = out.getvalue()
    assert "secret" not in text and "redis://***@127.0.0.1:6379" in text
    assert "not subscribed" in text and "Connection refused" in text
    assert "redis events -> jobs" in text and "2.0 s ago, ok" in text
    assert "cron jobs -> jobs" in text and "2 (1 skipped)" in text and "in 200.0 s" in text
    assert "asked to fail" in text  # the table of last errors
    assert triggers_view({"redis": [], "triggers": []}) == []
