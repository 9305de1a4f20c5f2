"""The whole-manifest parser: version, top-level keys, [application] and [variables].

Components and triggers are parsed by the section parsers it combines.
"""

from __future__ import annotations

import json
from typing import Any

from .checker import type_name
from .components import ComponentParser
from .model import Manifest, VariableDecl
from .syntax import KeyPath, lower_snake_problem
from .triggers import TriggerParser

_TOP_KEYS = {"spin_manifest_version", "application", "variables", "trigger", "component"}
_APPLICATION_KEYS = {"name", "version", "description", "authors", "targets", "trigger", "tool"}
_VARIABLE_KEYS = {"description", "default", "required", "secret"}


class ManifestParser(ComponentParser, TriggerParser):
    """Checks a parsed TOML document and builds its `Manifest`."""

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
        variables = {
            key: self.variable(key, value)
            for key, value in self.table(data.get("variables", {}), ("variables",)).items()
        }
        self.declared = variables  # what trigger templates may name
        base, redis_address = self.app_triggers(app.get("trigger", {}))
        components = {
            cid: self.component(cid, value, variables)
            for cid, value in self.table(data.get("component", {}), ("component",)).items()
        }
        if "trigger" not in data:
            self.fail(("trigger",), "missing: add a [[trigger.http]] with a route and a component")
        triggers = self.triggers(data["trigger"], components)
        return Manifest(
            path=self.path,
            root=self.root,
            name=name,
            version=self.string(app.get("version", ""), ("application", "version")),
            description=self.string(app.get("description", ""), ("application", "description")),
            authors=self.strings(app.get("authors", []), ("application", "authors")),
            variables=variables,
            http_triggers=triggers.http,
            components=components,
            base=base,
            redis_address=redis_address,
            redis_triggers=triggers.redis,
            cron_triggers=triggers.cron,
            other_triggers=triggers.others,
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
            shown = type_name(version)
        self.fail(
            key,
            f"unsupported manifest version {shown}: edge reads version 2 "
            "(spin_manifest_version = 2)",
        )

    def app_triggers(self, value: Any) -> tuple[str, str | None]:
        """`[application.trigger.*]`: the HTTP base and the Redis trigger's address."""
        path: KeyPath = ("application", "trigger")
        configs = self.table(value, path)
        base = "/"
        redis_address: str | None = None
        for kind, config in configs.items():
            config = self.table(config, path + (kind,))
            if kind == "redis":
                self.check_keys(config, path + (kind,), {"address"}, "[application.trigger.redis]")
                if "address" in config:
                    redis_address = self.template_text(config["address"], path + (kind, "address"))
                continue
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
        return base, redis_address

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


_V1_MESSAGE = (
    "this is a version 1 manifest; edge reads only version 2 manifests "
    "(spin_manifest_version = 2 with [application], [[trigger.http]] and [component.<id>]): "
    "see Spin's manifest reference to convert it"
)
