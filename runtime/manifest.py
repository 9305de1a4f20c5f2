"""Spin application manifests (`spin.toml`, version 2) as frozen dataclasses.

`load` checks a manifest the way Spin does, so that what `edge up` accepts real
Spin accepts too: unknown keys are errors (Spin's v2 schema denies unknown
fields), ids follow Spin's naming rules, application variables have a default or
are required, and component variable templates name declared variables. What
the local runtime cannot run (inline components, remote sources, Wagi, component
dependencies) is rejected with a message that says so. Every error names the
file, the dotted key and, where it can be found, the line.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, NoReturn

from .errors import ManifestError
from .manifest_syntax import (
    KeyPath,
    format_key,
    kebab_problem,
    key_lines,
    label_problem,
    lower_snake_problem,
    toml_error,
)
from .variables import Template, TemplateError

# --- the manifest --------------------------------------------------------------


@dataclass(frozen=True)
class VariableDecl:
    """An application variable of `[variables]`: a default, or `required = true`."""

    name: str
    default: str | None = None
    required: bool = False
    secret: bool = False
    description: str = ""


@dataclass(frozen=True)
class PrivateEndpoint:
    """`route = { private = true }`: reachable only by local service chaining."""


@dataclass(frozen=True)
class HttpTrigger:
    route: str | PrivateEndpoint
    component: str
    executor: str = "spin"
    id: str = ""

    @property
    def private(self) -> bool:
        return isinstance(self.route, PrivateEndpoint)


@dataclass(frozen=True)
class FileMount:
    """`files = [{ source = "assets", destination = "/static" }]`."""

    source: str
    destination: str


@dataclass(frozen=True)
class BuildSpec:
    command: str | tuple[str, ...]
    workdir: Path
    watch: tuple[str, ...] = ()

    @property
    def commands(self) -> tuple[str, ...]:
        return (self.command,) if isinstance(self.command, str) else self.command


@dataclass(frozen=True)
class ComponentSpec:
    id: str
    source: Path
    description: str = ""
    key_value_stores: tuple[str, ...] = ()
    sqlite_databases: tuple[str, ...] = ()
    variables: dict[str, str] = field(default_factory=dict)
    allowed_outbound_hosts: tuple[str, ...] = ()
    allowed_http_hosts: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    files: tuple[str | FileMount, ...] = ()
    exclude_files: tuple[str, ...] = ()
    ai_models: tuple[str, ...] = ()
    build: BuildSpec | None = None


@dataclass(frozen=True)
class Manifest:
    path: Path
    root: Path
    name: str
    version: str = ""
    description: str = ""
    authors: tuple[str, ...] = ()
    variables: dict[str, VariableDecl] = field(default_factory=dict)
    http_triggers: list[HttpTrigger] = field(default_factory=list)
    components: dict[str, ComponentSpec] = field(default_factory=dict)
    base: str = "/"
    # Triggers of other types (redis, cron, ...) as written; later issues use them.
    other_triggers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def routes(self) -> list[tuple[str, str]]:
        """(route, component id) of each routable HTTP trigger, in manifest order."""
        out = []
        for trigger in self.http_triggers:
            if isinstance(trigger.route, str):
                route = trigger.route
                if self.base not in ("", "/"):
                    route = self.base.rstrip("/") + route
                out.append((route, trigger.component))
        return out


def load(path: str | Path) -> Manifest:
    """Read and check a Spin manifest; a directory means its `spin.toml`."""
    file = Path(path)
    if file.is_dir():
        file = file / "spin.toml"
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(
            file, "", "no such file: give the path of a Spin manifest (`-f path/to/spin.toml`)"
        ) from None
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise ManifestError(file, "", message) from None
    except OSError as exc:
        raise ManifestError(file, "", f"cannot read the file: {exc.strerror or exc}") from None
    return loads(text, file)


def loads(text: str, path: str | Path = "spin.toml") -> Manifest:
    """Check manifest text as if it were the file at `path` (relative paths start there)."""
    file = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message, line = toml_error(str(exc), text)
        raise ManifestError(file, "", f"invalid TOML: {message}", line) from None
    return _Parser(file, text).manifest(data)


_TOP_KEYS = {"spin_manifest_version", "application", "variables", "trigger", "component"}
_APPLICATION_KEYS = {"name", "version", "description", "authors", "targets", "trigger", "tool"}
_VARIABLE_KEYS = {"description", "default", "required", "secret"}
_HTTP_TRIGGER_KEYS = {"component", "route", "executor", "id"}
_COMPONENT_KEYS = {
    "source",
    "description",
    "variables",
    "environment",
    "files",
    "exclude_files",
    "allowed_http_hosts",
    "allowed_outbound_hosts",
    "key_value_stores",
    "sqlite_databases",
    "ai_models",
    "targets",
    "build",
    "tool",
    "dependencies_inherit_configuration",
    "dependencies",
    "profile",
}
_BUILD_KEYS = {"command", "workdir", "watch"}

# Spin knows these, but the local runtime cannot do what they ask.
_UNSUPPORTED_TRIGGER_KEYS = {
    "components": "per-trigger component maps (middleware) are not supported by edge",
    "dependencies": "trigger dependencies are not supported by edge",
    "static_response": "static responses are not supported by edge: serve it from a component",
}

_ROUTE_PARAM = re.compile(r":[A-Za-z_][A-Za-z0-9_]*")


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | time):
        return "a date/time"
    return type(value).__name__


class _Parser:
    def __init__(self, file: Path, text: str) -> None:
        self.file = file
        self.text = text
        self.path = Path(os.path.abspath(file))
        self.root = self.path.parent
        self._lines: dict[KeyPath, int] | None = None

    # -- errors and types --

    def fail(self, path: KeyPath, message: str) -> NoReturn:
        raise ManifestError(self.file, format_key(path), message, self.line_of(path))

    def line_of(self, path: KeyPath) -> int | None:
        if self._lines is None:
            self._lines = key_lines(self.text)
        for end in range(len(path), 0, -1):
            line = self._lines.get(path[:end])
            if line is not None:
                return line
        return None

    def expect(self, value: Any, kind: type | tuple[type, ...], path: KeyPath, what: str) -> Any:
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            self.fail(path, f"expected {what}, found {_type_name(value)}")
        return value

    def table(self, value: Any, path: KeyPath) -> dict[str, Any]:
        return self.expect(value, dict, path, "a table")

    def string(self, value: Any, path: KeyPath) -> str:
        return self.expect(value, str, path, "a string")

    def boolean(self, value: Any, path: KeyPath) -> bool:
        return self.expect(value, bool, path, "a boolean (true or false)")

    def strings(self, value: Any, path: KeyPath) -> tuple[str, ...]:
        if isinstance(value, str):
            hint = f"write [{json.dumps(value)}]"
            self.fail(path, f"expected an array of strings, found a string ({hint})")
        items = self.expect(value, list, path, "an array of strings")
        return tuple(self.string(item, path + (i,)) for i, item in enumerate(items))

    def string_table(self, value: Any, path: KeyPath) -> dict[str, str]:
        return {k: self.string(v, path + (k,)) for k, v in self.table(value, path).items()}

    def check_keys(
        self, table: dict[str, Any], path: KeyPath, allowed: set[str], where: str
    ) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                self.fail(
                    path + (key,),
                    f"unknown key in {where}{hint} (known keys: {', '.join(sorted(allowed))})",
                )

    def named(self, value: str, path: KeyPath, problem: str | None, what: str) -> str:
        if problem is not None:
            self.fail(path, f"invalid {what} {value!r}: {problem}")
        return value

    # -- sections --

    def manifest(self, data: dict[str, Any]) -> Manifest:
        self.check_version(data)
        self.check_keys(data, (), _TOP_KEYS, "the manifest")
        if "application" not in data:
            self.fail(("application",), "missing: a manifest needs an [application] with a name")
        app = self.table(data["application"], ("application",))
        self.check_keys(app, ("application",), _APPLICATION_KEYS, "[application]")
        if "name" not in app:
            self.fail(("application", "name"), 'missing: name the application (name = "my-app")')
        name = self.string(app["name"], ("application", "name"))
        if not name.strip():
            self.fail(("application", "name"), "must not be empty")
        base = self.app_triggers(app.get("trigger", {}))

        variables = {
            key: self.variable(key, value)
            for key, value in self.table(data.get("variables", {}), ("variables",)).items()
        }
        components = {
            cid: self.component(cid, value, variables)
            for cid, value in self.table(data.get("component", {}), ("component",)).items()
        }
        if "trigger" not in data:
            self.fail(("trigger",), "missing: add a [[trigger.http]] with a route and a component")
        http, others = self.triggers(data["trigger"], components)
        return Manifest(
            path=self.path,
            root=self.root,
            name=name,
            version=self.string(app.get("version", ""), ("application", "version")),
            description=self.string(app.get("description", ""), ("application", "description")),
            authors=self.strings(app.get("authors", []), ("application", "authors")),
            variables=variables,
            http_triggers=http,
            components=components,
            base=base,
            other_triggers=others,
        )

    def check_version(self, data: dict[str, Any]) -> None:
        key = ("spin_manifest_version",)
        if "spin_manifest_version" not in data:
            if "spin_version" in data:  # the key of the oldest (version 1) manifests
                self.fail(("spin_version",), _V1_MESSAGE)
            self.fail(key, "missing: a Spin manifest starts with `spin_manifest_version = 2`")
        version = data["spin_manifest_version"]
        if version == 2 and type(version) is int:
            return
        if version == "1":
            self.fail(key, _V1_MESSAGE)
        if version == "2":
            self.fail(key, 'must be the number 2, not the string "2" (spin_manifest_version = 2)')
        if isinstance(version, str | int | float):
            shown = json.dumps(version)
        else:
            shown = _type_name(version)
        self.fail(
            key,
            f"unsupported manifest version {shown}: edge reads version 2 "
            "(spin_manifest_version = 2)",
        )

    def app_triggers(self, value: Any) -> str:
        path: KeyPath = ("application", "trigger")
        configs = self.table(value, path)
        base = "/"
        for kind, config in configs.items():
            config = self.table(config, path + (kind,))
            if kind != "http":
                continue  # other trigger types' global settings are theirs to check
            self.check_keys(config, path + (kind,), {"base"}, "[application.trigger.http]")
            if "base" in config:
                base = self.string(config["base"], path + (kind, "base"))
                if base != "/":
                    # Spin 3 and later refuse to run such an app.
                    self.fail(
                        path + (kind, "base"),
                        f"a base other than '/' is not supported (Spin 3 rejects it too): "
                        f"remove it and prepend {base!r} to each [[trigger.http]] route",
                    )
        return base

    def variable(self, name: str, value: Any) -> VariableDecl:
        path: KeyPath = ("variables", name)
        self.named(name, path, lower_snake_problem(name), "variable name")
        decl = self.table(value, path)
        self.check_keys(decl, path, _VARIABLE_KEYS, f"variable '{name}'")
        default = decl.get("default")
        if default is not None:
            default = self.string(default, path + ("default",))
        required = self.boolean(decl.get("required", False), path + ("required",))
        secret = self.boolean(decl.get("secret", False), path + ("secret",))
        description = self.string(decl.get("description", ""), path + ("description",))
        if required and default is not None:
            self.fail(path, "a variable with `required = true` must not have a default: drop one")
        if not required and default is None:
            self.fail(path, 'needs a `default = "..."` or `required = true`')
        return VariableDecl(name, default, required, secret, description)

    def component(self, cid: str, value: Any, variables: dict[str, VariableDecl]) -> ComponentSpec:
        path: KeyPath = ("component", cid)
        self.named(cid, path, kebab_problem(cid), "component id")
        spec = self.table(value, path)
        self.check_keys(spec, path, _COMPONENT_KEYS, f"[component.{cid}]")
        if "source" not in spec:
            self.fail(path + ("source",), 'missing: the path of the .wasm (source = "app.wasm")')
        source = spec["source"]
        if isinstance(source, dict):
            kind = "a table"
            if "url" in source:
                kind = "a URL"
            elif "registry" in source:
                kind = "a registry"
            self.fail(
                path + ("source",),
                f"a source from {kind} is not supported by edge: download or build the .wasm "
                'and give its path (source = "app.wasm")',
            )
        source = self.string(source, path + ("source",))
        if not source:
            self.fail(path + ("source",), "must not be empty")
        dependencies = self.table(spec.get("dependencies", {}), path + ("dependencies",))
        if dependencies:
            self.fail(path + ("dependencies",), "component dependencies are not supported by edge")
        self.boolean(
            spec.get("dependencies_inherit_configuration", False),
            path + ("dependencies_inherit_configuration",),
        )
        for tolerated in ("tool", "profile"):
            self.table(spec.get(tolerated, {}), path + (tolerated,))

        component_vars = self.string_table(spec.get("variables", {}), path + ("variables",))
        for key, text in component_vars.items():
            self.named(key, path + ("variables", key), lower_snake_problem(key), "variable name")
            self.template(text, path + ("variables", key), variables)
        outbound = self.strings(
            spec.get("allowed_outbound_hosts", []), path + ("allowed_outbound_hosts",)
        )
        for i, host in enumerate(outbound):
            self.template(host, path + ("allowed_outbound_hosts", i), variables)

        return ComponentSpec(
            id=cid,
            source=Path(os.path.normpath(self.root / source)),
            description=self.string(spec.get("description", ""), path + ("description",)),
            key_value_stores=self.labels(spec, path, "key_value_stores", "key-value store"),
            sqlite_databases=self.labels(spec, path, "sqlite_databases", "database"),
            variables=component_vars,
            allowed_outbound_hosts=outbound,
            allowed_http_hosts=self.strings(
                spec.get("allowed_http_hosts", []), path + ("allowed_http_hosts",)
            ),
            environment=self.string_table(spec.get("environment", {}), path + ("environment",)),
            files=self.files(spec.get("files", []), path + ("files",)),
            exclude_files=self.strings(spec.get("exclude_files", []), path + ("exclude_files",)),
            ai_models=self.strings(spec.get("ai_models", []), path + ("ai_models",)),
            build=self.build(spec["build"], path + ("build",)) if "build" in spec else None,
        )

    def template(self, text: str, path: KeyPath, variables: dict[str, VariableDecl]) -> None:
        try:
            template = Template.parse(text)
        except TemplateError as exc:
            self.fail(path, f"{exc}: {text!r}")
        for name in template.references:
            if name not in variables:
                shown = "{{ " + name + " }}"
                self.fail(
                    path,
                    f"{shown} names no application variable: declare {name!r} under [variables] "
                    f'(with a default = "..." or required = true)',
                )

    def labels(self, spec: dict[str, Any], path: KeyPath, key: str, what: str) -> tuple[str, ...]:
        labels = self.strings(spec.get(key, []), path + (key,))
        for i, label in enumerate(labels):
            self.named(label, path + (key, i), label_problem(label), f"{what} label")
        return labels

    def files(self, value: Any, path: KeyPath) -> tuple[str | FileMount, ...]:
        out: list[str | FileMount] = []
        for i, item in enumerate(self.expect(value, list, path, "an array")):
            if isinstance(item, str):
                out.append(item)
                continue
            mount = self.expect(
                item, dict, path + (i,), "a string or a { source, destination } table"
            )
            self.check_keys(mount, path + (i,), {"source", "destination"}, "a files entry")
            for key in ("source", "destination"):
                if key not in mount:
                    self.fail(path + (i, key), "missing")
            source = self.string(mount["source"], path + (i, "source"))
            destination = self.string(mount["destination"], path + (i, "destination"))
            if not destination.startswith("/"):
                self.fail(path + (i, "destination"), f"must be absolute, not {destination!r}")
            out.append(FileMount(source, destination))
        return tuple(out)

    def build(self, value: Any, path: KeyPath) -> BuildSpec:
        build = self.table(value, path)
        self.check_keys(build, path, _BUILD_KEYS, "the build table")
        if "command" not in build:
            self.fail(path + ("command",), 'missing: the command that builds it (command = "...")')
        raw = build["command"]
        command: str | tuple[str, ...]
        if isinstance(raw, list):
            command = self.strings(raw, path + ("command",))
            if not command:
                self.fail(path + ("command",), "must not be an empty list")
        else:
            command = self.expect(raw, str, path + ("command",), "a string or an array of strings")
        if any(not c.strip() for c in ((command,) if isinstance(command, str) else command)):
            self.fail(path + ("command",), "must not be empty")
        workdir = self.string(build.get("workdir", "."), path + ("workdir",))
        return BuildSpec(
            command=command,
            workdir=Path(os.path.normpath(self.root / workdir)),
            watch=self.strings(build.get("watch", []), path + ("watch",)),
        )

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


_V1_MESSAGE = (
    "this is a version 1 manifest; edge reads only version 2 manifests "
    "(spin_manifest_version = 2 with [application], [[trigger.http]] and [component.<id>]): "
    "see Spin's manifest reference to convert it"
)
