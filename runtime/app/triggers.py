"""Parsing `[[trigger.<type>]]` entries: HTTP routes, executors and their components."""

from __future__ import annotations

import re
from typing import Any

from .checker import Checker
from .model import ComponentSpec, HttpTrigger, PrivateEndpoint
from .syntax import KeyPath, kebab_problem

_HTTP_TRIGGER_KEYS = {"component", "route", "executor", "id"}

# Spin knows these, but the local runtime cannot do what they ask.
_UNSUPPORTED_TRIGGER_KEYS = {
    "components": "per-trigger component maps (middleware) are not supported by edge",
    "dependencies": "trigger dependencies are not supported by edge",
    "static_response": "static responses are not supported by edge: serve it from a component",
}

_ROUTE_PARAM = re.compile(r":[A-Za-z_][A-Za-z0-9_]*")


class TriggerParser(Checker):
    """The `[trigger]` section of a manifest."""

    def triggers(
        self, value: Any, components: dict[str, ComponentSpec]
    ) -> tuple[list[HttpTrigger], dict[str, list[dict[str, Any]]]]:
        triggers = self.table(value, ("trigger",))
        http: list[HttpTrigger] = []
        others: dict[str, list[dict[str, Any]]] = {}
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
                    http.append(self.http_trigger(entry, path + (i,), component))
                    continue
                # Trigger types edge does not serve yet: kept as written, but a
                # component named by id must still exist.
                if isinstance(entry.get("component"), str):
                    self.trigger_component(entry, path + (i,), components)
                others.setdefault(kind, []).append(entry)
        self.check_duplicate_routes(http)
        return http, others

    def trigger_component(
        self, entry: dict[str, Any], path: KeyPath, components: dict[str, ComponentSpec]
    ) -> str:
        if path[1] == "http":
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
