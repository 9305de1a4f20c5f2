"""Parsing `[[trigger.<type>]]` entries: HTTP routes, executors and their components."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .checker import Checker
from .model import ComponentSpec, CronTrigger, HttpTrigger, PrivateEndpoint, RedisTrigger
from .schedules import Schedule, ScheduleError
from .syntax import KeyPath, kebab_problem
from .variables import Template, TemplateError

_HTTP_TRIGGER_KEYS = {"component", "route", "executor", "id"}
_REDIS_TRIGGER_KEYS = {"component", "channel", "address", "id"}
_CRON_TRIGGER_KEYS = {"component", "cron_expression", "id"}


@dataclass
class Triggers:
    http: list[HttpTrigger] = field(default_factory=list)
    redis: list[RedisTrigger] = field(default_factory=list)
    cron: list[CronTrigger] = field(default_factory=list)
    others: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


# Spin knows these, but the local runtime cannot do what they ask.
_UNSUPPORTED_TRIGGER_KEYS = {
    "components": "per-trigger component maps (middleware) are not supported by edge",
    "dependencies": "trigger dependencies are not supported by edge",
    "static_response": "static responses are not supported by edge: serve it from a component",
}

_ROUTE_PARAM = re.compile(r":[A-Za-z_][A-Za-z0-9_]*")


class TriggerParser(Checker):
    """The `[trigger]` section of a manifest."""

    def triggers(self, value: Any, components: dict[str, ComponentSpec]) -> Triggers:
        triggers = self.table(value, ("trigger",))
        found = Triggers()
        for kind, entries in triggers.items():
            path: KeyPath = ("trigger", kind)
            if isinstance(entries, dict):
                self.fail(
                    path,
                    f"expected an array of tables: write [[trigger.{kind}]], not [trigger.{kind}]",
                )
            entries = self.expect(entries, list, path, "an array of tables")
            for i, entry in enumerate(entries):
                entry = self.table(entry, path + (i,))
                if kind == "http":
                    component = self.trigger_component(entry, path + (i,), components)
                    found.http.append(self.http_trigger(entry, path + (i,), component))
                elif kind == "redis":
                    component = self.trigger_component(entry, path + (i,), components)
                    found.redis.append(self.redis_trigger(entry, path + (i,), component))
                elif kind == "cron":
                    component = self.trigger_component(entry, path + (i,), components)
                    found.cron.append(self.cron_trigger(entry, path + (i,), component))
                else:
                    # Trigger types edge does not serve: kept as written, but a
                    # component named by id must still exist.
                    if isinstance(entry.get("component"), str):
                        self.trigger_component(entry, path + (i,), components)
                    found.others.setdefault(kind, []).append(entry)
        self.check_duplicate_routes(found.http)
        return found

    def redis_trigger(self, entry: dict[str, Any], path: KeyPath, component: str) -> RedisTrigger:
        self.check_keys(entry, path, _REDIS_TRIGGER_KEYS, "[[trigger.redis]]")
        if "channel" not in entry:
            self.fail(path + ("channel",), 'missing: the channel to subscribe to (channel = "...")')
        channel = self.template_text(entry["channel"], path + ("channel",))
        if not channel.strip():
            self.fail(path + ("channel",), "must not be empty")
        address = None
        if "address" in entry:
            address = self.template_text(entry["address"], path + ("address",))
        return RedisTrigger(channel, component, address)

    def cron_trigger(self, entry: dict[str, Any], path: KeyPath, component: str) -> CronTrigger:
        self.check_keys(entry, path, _CRON_TRIGGER_KEYS, "[[trigger.cron]]")
        key = path + ("cron_expression",)
        if "cron_expression" not in entry:
            self.fail(key, 'missing: the schedule (cron_expression = "0 * * * * *", seconds first)')
        expression = self.string(entry["cron_expression"], key)
        try:
            Schedule.parse(expression)
        except ScheduleError as exc:
            self.fail(key, str(exc))
        return CronTrigger(component, expression)

    def template_text(self, value: Any, path: KeyPath) -> str:
        """A string that may hold `{{ variable }}` templates of declared application
        variables (checked, kept as written)."""
        text = self.string(value, path)
        try:
            template = Template.parse(text)
        except TemplateError as exc:
            self.fail(path, f"{exc}: {text!r}")
        declared: dict[str, Any] = getattr(self, "declared", {})
        for name in template.references:
            if name not in declared:
                self.fail(
                    path,
                    f"{{{{ {name} }}}} names no application variable: declare it under [variables]",
                )
        return text

    def trigger_component(
        self, entry: dict[str, Any], path: KeyPath, components: dict[str, ComponentSpec]
    ) -> str:
        if path[1] in ("http", "redis", "cron"):
            for key, why in _UNSUPPORTED_TRIGGER_KEYS.items():
                if key in entry:
                    self.fail(path + (key,), why)
        if "component" not in entry:
            self.fail(path + ("component",), 'missing: the component to run (component = "<id>")')
        value = entry["component"]
        if isinstance(value, dict):
            self.fail(
                path + ("component",),
                "inline component tables are not supported by edge: move it to "
                '[component.<id>] and write component = "<id>"',
            )
        cid = self.expect(value, str, path + ("component",), "a component id (a string)")
        self.named(cid, path + ("component",), kebab_problem(cid), "component id")
        if cid not in components:
            known = ", ".join(sorted(components)) or "none"
            self.fail(
                path + ("component",), f"no [component.{cid}] in the manifest (components: {known})"
            )
        return str(cid)

    def http_trigger(self, entry: dict[str, Any], path: KeyPath, component: str) -> HttpTrigger:
        self.check_keys(entry, path, _HTTP_TRIGGER_KEYS, "[[trigger.http]]")
        if "route" not in entry:
            self.fail(path + ("route",), 'missing: the path this trigger serves (route = "/...")')
        return HttpTrigger(
            route=self.route(entry["route"], path + ("route",)),
            component=component,
            executor=self.executor(entry.get("executor"), path + ("executor",)),
            id=self.string(entry.get("id", ""), path + ("id",)),
        )

    def route(self, value: Any, path: KeyPath) -> str | PrivateEndpoint:
        if isinstance(value, dict):
            self.check_keys(value, path, {"private"}, "a route table")
            if value.get("private") is not True:
                self.fail(path, "a route table must be { private = true }; else write a string")
            return PrivateEndpoint()
        route = self.expect(value, str, path, 'a route string ("/path/...") or { private = true }')
        if not route.startswith("/"):
            self.fail(path, f"must start with '/': {route!r}")
        if any(c.isspace() for c in route) or "?" in route or "#" in route:
            self.fail(path, f"must be a path without spaces, query or fragment: {route!r}")
        segments = route.split("/")[1:]
        params: set[str] = set()
        for n, segment in enumerate(segments):
            if "..." in segment and (segment != "..." or n != len(segments) - 1):
                self.fail(path, f"'...' may only be the whole last segment (/a/...): {route!r}")
            if segment.startswith(":"):
                if not _ROUTE_PARAM.fullmatch(segment):
                    self.fail(path, f"invalid parameter {segment!r} in {route!r}: write ':name'")
                if segment in params:
                    self.fail(path, f"parameter {segment!r} appears twice in {route!r}")
                params.add(segment)
        return str(route)

    def executor(self, value: Any, path: KeyPath) -> str:
        if value is None:
            return "spin"
        executor = self.table(value, path)
        if "type" not in executor:
            self.fail(path + ("type",), 'missing: write executor = { type = "spin" }')
        kind = self.string(executor["type"], path + ("type",))
        if kind == "wagi":
            self.fail(path + ("type",), "the Wagi executor is not supported by edge")
        if kind not in ("spin", "http"):
            self.fail(path + ("type",), f"unknown executor {kind!r} (Spin has spin, http and wagi)")
        self.check_keys(executor, path, {"type"}, f"a {kind!r} executor")
        return kind

    def check_duplicate_routes(self, triggers: list[HttpTrigger]) -> None:
        seen: dict[str, int] = {}
        for i, trigger in enumerate(triggers):
            if not isinstance(trigger.route, str):
                continue
            # Spin strips one trailing slash before matching: `/a/` and `/a` are one route.
            key = trigger.route
            if key.endswith("/") and key != "/":
                key = key[:-1]
            if key in seen:
                j = seen[key]
                self.fail(
                    ("trigger", "http", i, "route"),
                    f"route {trigger.route!r} is also the route of trigger.http[{j}] "
                    f"(component '{triggers[j].component}'): only one of them could ever be called",
                )
            seen[key] = i
