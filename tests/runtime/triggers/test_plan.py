"""The plan of the app's triggers per region, from a manifest (no wasm)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.app.manifest import load
from runtime.app.model import Manifest
from runtime.errors import EdgeError
from runtime.triggers.plan import plan_triggers

MANIFEST = """
spin_manifest_version = 2

[application]
name = "app"

[application.trigger.redis]
address = "{{ redis_address }}"

[variables]
redis_address = { required = true }

[[trigger.redis]]
channel = "events"
component = "jobs"

[[trigger.redis]]
channel = "audit"
component = "jobs"

[[trigger.cron]]
component = "jobs"
cron_expression = "0 */10 * * * *"

[[trigger.cron]]
component = "jobs"
cron_expression = "*/5 * * * * *"

[component.jobs]
source = "jobs.wasm"
"""

REGIONS = ["us-east", "eu-west", "ap-south"]


def lookup(name: str) -> str:
    assert name == "redis_address"
    return "redis://127.0.0.1:7000"


def manifest(tmp_path: Path) -> Manifest:
    path = tmp_path / "spin.toml"
    path.write_text(MANIFEST, encoding="utf-8")
    return load(path)


def test_every_trigger_runs_in_every_region_by_default(tmp_path: Path) -> None:
    plan = plan_triggers(manifest(tmp_path), lookup, REGIONS)
    assert [(s.channel, s.regions) for s in plan.redis] == [
        ("events", tuple(REGIONS)),
        ("audit", tuple(REGIONS)),
    ]
    assert plan.addresses() == ["redis://127.0.0.1:7000"]
    assert [(j.name, j.regions) for j in plan.cron] == [
        ("jobs", tuple(REGIONS)),
        ("jobs#1", tuple(REGIONS)),  # a second job of the same component
    ]


def test_a_restriction_keeps_the_regions_order(tmp_path: Path) -> None:
    plan = plan_triggers(
        manifest(tmp_path),
        lookup,
        REGIONS,
        {"redis:audit": ["ap-south", "us-east"], "cron:jobs": ["eu-west"]},
    )
    assert [s.regions for s in plan.redis] == [tuple(REGIONS), ("us-east", "ap-south")]
    assert [j.regions for j in plan.cron] == [("eu-west",), ("eu-west",)]


@pytest.mark.parametrize(
    ("restrict", "fragment"),
    [
        ({"redis:audit": ["mars"]}, "mars is not a region"),
        ({"redis:nothing": ["us-east"]}, "name no trigger of the app: redis:nothing"),
        ({"cron:web": ["us-east"]}, "cron:web"),
    ],
)
def test_a_restriction_naming_nothing_is_an_error(
    tmp_path: Path, restrict: dict[str, list[str]], fragment: str
) -> None:
    with pytest.raises(EdgeError, match=fragment):
        plan_triggers(manifest(tmp_path), lookup, REGIONS, restrict)
