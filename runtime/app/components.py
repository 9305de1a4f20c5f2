"""Parsing `[component.<id>]` tables: source, stores, variables, files and build."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .checker import Checker
from .model import BuildSpec, ComponentSpec, FileMount, VariableDecl
from .outbound import OutboundHostError, from_http_hosts, validate
from .syntax import KeyPath, kebab_problem, label_problem, lower_snake_problem
from .variables import Template, TemplateError

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


class ComponentParser(Checker):
    """The `[component.<id>]` section of a manifest."""

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
        http_hosts = self.strings(
            spec.get("allowed_http_hosts", []), path + ("allowed_http_hosts",)
        )
        self.outbound_hosts(outbound, http_hosts, path, variables)

        return ComponentSpec(
            id=cid,
            source=Path(os.path.normpath(self.root / source)),
            description=self.string(spec.get("description", ""), path + ("description",)),
            key_value_stores=self.labels(spec, path, "key_value_stores", "key-value store"),
            sqlite_databases=self.labels(spec, path, "sqlite_databases", "database"),
            variables=component_vars,
            allowed_outbound_hosts=outbound,
            allowed_http_hosts=http_hosts,
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

    def outbound_hosts(
        self,
        outbound: tuple[str, ...],
        http_hosts: tuple[str, ...],
        path: KeyPath,
        variables: dict[str, VariableDecl],
    ) -> None:
        """Refuse, as Spin does at load, entries it could never parse."""
        defaults = {name: decl.default for name, decl in variables.items()}
        key = path + ("allowed_outbound_hosts",)
        if outbound == ("insecure:allow-all",):
            self.fail(key, "'insecure:allow-all' is not allowed: write '*://*:*' to allow all")
        for i, host in enumerate(outbound):
            try:
                validate([host], defaults)
            except OutboundHostError as exc:
                self.fail(key + (i,), str(exc))
        try:
            from_http_hosts(http_hosts)
        except OutboundHostError as exc:
            self.fail(path + ("allowed_http_hosts",), str(exc))

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
