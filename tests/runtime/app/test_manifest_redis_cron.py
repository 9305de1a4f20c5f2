"""`[[trigger.redis]]`, `[application.trigger.redis]` and `[[trigger.cron]]`, as Spin reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.app.manifest import load
from runtime.app.model import CronTrigger, RedisTrigger
from runtime.app.schedules import Schedule, ScheduleError

from .manifest_helpers import GOOD, assert_bad_manifest, write

VARS = '\n[variables]\nbus = { default = "redis://127.0.0.1:6379" }\ntopic = { default = "t" }\n'
APP_REDIS = '\n[application.trigger.redis]\naddress = "{{ bus }}"\n'


def manifest(extra: str, app: str = "") -> str:
    head, rest = GOOD.split("\n[[trigger.http]]", 1)
    return head + app + VARS + "\n[[trigger.http]]" + rest + extra


def test_redis_and_cron_triggers_are_read(tmp_path: Path) -> None:
    text = manifest(
        '\n[[trigger.redis]]\nchannel = "{{ topic }}"\ncomponent = "web"\n'
        '\n[[trigger.redis]]\nchannel = "other"\ncomponent = "web"\naddress = "redis://h:1"\n'
        '\n[[trigger.cron]]\ncomponent = "web"\ncron_expression = "*/5 * * * * *"\n',
        app=APP_REDIS,
    )
    m = load(write(tmp_path, text))
    assert m.redis_address == "{{ bus }}"
    assert m.redis_triggers == [
        RedisTrigger("{{ topic }}", "web"),
        RedisTrigger("other", "web", "redis://h:1"),
    ]
    assert m.cron_triggers == [CronTrigger("web", "*/5 * * * * *")]
    assert m.other_triggers == {}


@pytest.mark.parametrize(
    ("extra", "app", "key", "fragment"),
    [
        ('\n[[trigger.redis]]\ncomponent = "web"\n', "", "trigger.redis[0].channel", "missing"),
        (
            '\n[[trigger.redis]]\nchannel = "c"\ncomponent = "web"\nqueue = 1\n',
            "",
            "trigger.redis[0].queue",
            "",
        ),
        (
            '\n[[trigger.redis]]\nchannel = "{{ nope }}"\ncomponent = "web"\n',
            "",
            "trigger.redis[0].channel",
            "names no application variable",
        ),
        (
            '\n[[trigger.redis]]\nchannel = "c"\ncomponent = "x"\n',
            "",
            "trigger.redis[0].component",
            "no [component.x]",
        ),
        ("", '\n[application.trigger.redis]\nhost = "h"\n', "application.trigger.redis.host", ""),
        (
            '\n[[trigger.cron]]\ncomponent = "web"\n',
            "",
            "trigger.cron[0].cron_expression",
            "missing",
        ),
        (
            '\n[[trigger.cron]]\ncomponent = "web"\ncron_expression = "* * * * *"\n',
            "",
            "trigger.cron[0].cron_expression",
            "takes six",
        ),
        (
            '\n[[trigger.cron]]\ncomponent = "web"\ncron_expression = "0 0 0 * * 9"\n',
            "",
            "trigger.cron[0].cron_expression",
            "out of range",
        ),
    ],
)
def test_bad_triggers_name_file_key_and_line(
    tmp_path: Path, extra: str, app: str, key: str, fragment: str
) -> None:
    assert_bad_manifest(tmp_path, manifest(extra, app=app), key, fragment)


def test_schedules_fire_as_the_cron_plugin_reads_them() -> None:
    # 1 is Sunday in the cron crate: "2" is Monday.
    monday_9 = Schedule.parse("0 0 9 * * 2")
    jan_1_2026 = 1767225600.0  # a Thursday, 00:00 UTC
    assert monday_9.next_after(jan_1_2026) == jan_1_2026 + 4 * 86400 + 9 * 3600
    every_20s = Schedule.parse("*/20 * * * * *")
    assert every_20s.times_between(jan_1_2026, jan_1_2026 + 60) == [
        jan_1_2026 + 20,
        jan_1_2026 + 40,
        jan_1_2026 + 60,
    ]
    weekdays = Schedule.parse("0 30 12 * * Mon-Fri")
    saturday = jan_1_2026 + 2 * 86400
    assert weekdays.next_after(saturday) == saturday + 2 * 86400 + 12.5 * 3600
    assert Schedule.parse("0 0 0 1 1 * 2027").next_after(jan_1_2026) == 1798761600.0


@pytest.mark.parametrize("bad", ["", "* * * * *", "61 * * * * *", "0 0 0 * * 0", "x * * * * *"])
def test_bad_schedules(bad: str) -> None:
    with pytest.raises(ScheduleError):
        Schedule.parse(bad)
