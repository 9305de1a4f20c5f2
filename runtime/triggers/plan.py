"""What the app's triggers ask for, resolved: servers, channels, schedules and regions.

An app deployed to three regions is three Spin deployments: each subscribes to
the Redis channels and runs the cron schedules of the manifest, so by default
every region handles every message and every tick. `restrict` narrows one
trigger to some regions: keys `redis:<channel>` and `cron:<component>`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..app.model import Manifest
from ..app.schedules import Schedule
from ..app.variables import Template
from ..errors import EdgeError


@dataclass(frozen=True)
class RedisSubscription:
    address: str
    channel: str
    component: str
    regions: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"redis:{self.channel}"


@dataclass(frozen=True)
class CronJob:
    component: str
    schedule: Schedule
    regions: tuple[str, ...]
    index: int  # of the [[trigger.cron]] entry, to tell two jobs of a component apart

    @property
    def key(self) -> str:
        return f"cron:{self.component}"

    @property
    def name(self) -> str:
        return f"{self.component}#{self.index}" if self.index else self.component


@dataclass(frozen=True)
class TriggerPlan:
    redis: tuple[RedisSubscription, ...] = ()
    cron: tuple[CronJob, ...] = ()

    def addresses(self) -> list[str]:
        return sorted({s.address for s in self.redis})

    def subscriptions(self, address: str, channel: str) -> list[RedisSubscription]:
        return [s for s in self.redis if s.address == address and s.channel == channel]

    def cron_jobs(self, component: str) -> list[CronJob]:
        return [job for job in self.cron if job.component == component]


def plan_triggers(
    manifest: Manifest,
    lookup: Callable[[str], str],
    regions: Sequence[str],
    restrict: Mapping[str, Sequence[str]] | None = None,
) -> TriggerPlan:
    """Resolve the manifest's Redis and cron triggers (`lookup`: an application
    variable's value). EdgeError for an address that is missing or a restriction
    that names an unknown trigger or region."""
    restrict = dict(restrict or {})
    for key, names in restrict.items():
        unknown = sorted(set(names) - set(regions))
        if unknown:
            raise EdgeError(
                f"trigger regions of {key!r}: {', '.join(unknown)} is not a region "
                f"({', '.join(regions)})"
            )
    subscriptions = []
    for i, trigger in enumerate(manifest.redis_triggers):
        expression = trigger.address or manifest.redis_address
        if expression is None:
            raise EdgeError(
                f"trigger.redis[{i}] names no Redis server: set [application.trigger.redis] "
                "address (or the trigger's own address) in the manifest"
            )
        channel = Template.parse(trigger.channel).render(lookup)
        address = Template.parse(expression).render(lookup)
        key = f"redis:{channel}"
        chosen = tuple(r for r in regions if r in restrict.get(key, regions))
        subscriptions.append(RedisSubscription(address, channel, trigger.component, chosen))
    jobs = []
    seen: dict[str, int] = {}
    for cron in manifest.cron_triggers:
        index = seen.get(cron.component, 0)
        seen[cron.component] = index + 1
        key = f"cron:{cron.component}"
        chosen = tuple(r for r in regions if r in restrict.get(key, regions))
        jobs.append(CronJob(cron.component, Schedule.parse(cron.cron_expression), chosen, index))
    known = {s.key for s in subscriptions} | {j.key for j in jobs}
    stray = sorted(set(restrict) - known)
    if stray:
        raise EdgeError(
            f"trigger regions name no trigger of the app: {', '.join(stray)} "
            f"(the app has: {', '.join(sorted(known)) or 'none'})"
        )
    return TriggerPlan(tuple(subscriptions), tuple(jobs))
