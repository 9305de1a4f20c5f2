"""The deploy file, `edge-deploy.toml`: where each region of the app goes.

It lives beside `spin.toml` and is never read by Spin. It maps each region to
its target (a Kubernetes context and namespace with SpinKube installed, the
image, replicas or autoscaling, resources), says which region holds the SQL
primary and, per database label of the manifest, the Turso (libSQL) URL of the
primary and of each region's replica, the key-value stores, and the variables
of every region and of each. No secret goes in it: database tokens, Redis
passwords and secret variables come from the environment (`values`). It is
checked as the manifest is: unknown keys are errors, and each error names the
file, the dotted key and the line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..app.checker import Checker
from ..app.model import Manifest
from ..app.runtime_config import token_env_name, url_problem
from ..app.syntax import KeyPath, label_problem, parse_toml, read_toml
from ..app.variables import name_problem
from ..errors import ManifestError

DEFAULT_FILE = "edge-deploy.toml"
DEFAULT_EXECUTOR = "containerd-shim-spin"
KV_PASSWORD_ENV_PREFIX = "EDGE_KV_PASSWORD_"
TARGETS = ("kubernetes", "spin-cloud", "akamai", "plugin")

_TOP_KEYS = {
    "app",
    "target",
    "image",
    "executor",
    "primary_region",
    "variables",
    "databases",
    "key_value",
    "regions",
}
_REGION_KEYS = {
    "context",
    "namespace",
    "image",
    "replicas",
    "autoscaling",
    "resources",
    "variables",
}
_AUTOSCALING_KEYS = {"min", "max", "cpu_percent"}
_DATABASE_KEYS = {"type", "url", "token_env", "replicas"}
_KV_KEYS = {"type", "url", "regions", "password_env"}
# A Kubernetes name: an RFC 1123 label (namespaces, the app, regions in object names).
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# Kubernetes' resource.Quantity, as the SpinApp CRD writes it.
QUANTITY = re.compile(
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
    r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
_RESOURCE_NAME = re.compile(r"[a-z0-9]([-a-z0-9./]*[a-z0-9])?")


class DeployFileError(ManifestError):
    """Something is wrong in the deploy file; file, dotted key and line as ManifestError."""


@dataclass(frozen=True)
class Autoscaling:
    """`autoscaling = true` (spin-operator's enableAutoscaling: an HPA or KEDA of your
    own sets the replicas) or `{ min, max, cpu_percent }` (edge writes the HPA too)."""

    min_replicas: int | None = None
    max_replicas: int | None = None
    cpu_percent: int | None = None

    @property
    def writes_hpa(self) -> bool:
        return self.max_replicas is not None


@dataclass(frozen=True)
class RegionTarget:
    name: str
    context: str | None = None
    namespace: str = "default"
    image: str | None = None
    replicas: int | None = None
    autoscaling: Autoscaling | None = None
    limits: dict[str, str | int] = field(default_factory=dict)
    requests: dict[str, str | int] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Database:
    """A SQL database label: `type = "libsql"` (the Turso model: a primary and
    per-region replicas, each a URL) or `type = "spin"` (a file in each pod)."""

    label: str
    type: str = "libsql"
    url: str = ""  # the primary's
    token_env: str = ""
    replicas: dict[str, str] = field(default_factory=dict)  # region -> replica URL

    def url_for(self, region: str) -> str:
        """The region's replica where one is configured, else the primary."""
        return self.replicas.get(region, self.url)


@dataclass(frozen=True)
class KeyValueStore:
    """A key-value label: `type = "redis"` (a URL, per region where given) or
    `type = "spin"` (a file in each pod: neither shared nor replicated)."""

    label: str
    type: str = "spin"
    url: str = ""
    regions: dict[str, str] = field(default_factory=dict)
    password_env: str = ""

    def url_for(self, region: str) -> str:
        return self.regions.get(region, self.url)


@dataclass(frozen=True)
class DeployFile:
    path: Path
    app: str | None = None
    target: str | None = None
    image: str | None = None
    executor: str = DEFAULT_EXECUTOR
    primary_region: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    databases: dict[str, Database] = field(default_factory=dict)
    key_value: dict[str, KeyValueStore] = field(default_factory=dict)
    regions: dict[str, RegionTarget] = field(default_factory=dict)

    def region_variables(self, region: str) -> dict[str, str]:
        """The deploy file's variables for `region`: its own over the file's."""
        return {**self.variables, **self.regions[region].variables}

    def line_of(self, *key: str | int) -> int | None:
        return _Parser(self.path, self._text).line_of(tuple(key)) if self._text else None

    _text: str = field(default="", repr=False, compare=False)


def kv_password_env(label: str) -> str:
    return KV_PASSWORD_ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", label).upper()


def dns_label_problem(value: str) -> str | None:
    if len(value) > 63:
        return "must be at most 63 characters (a Kubernetes name)"
    if not _DNS_LABEL.fullmatch(value):
        return (
            "must be lowercase letters, digits and '-', starting and ending with a letter or "
            "digit (a Kubernetes name)"
        )
    return None


def load_deploy_file(path: str | Path, manifest: Manifest) -> DeployFile:
    """Read and check the deploy file against the app's manifest."""
    file = Path(path)
    text = read_toml(file, DeployFileError, f"the deploy file ({DEFAULT_FILE})")
    return parse_deploy_file(text, file, manifest)


def parse_deploy_file(text: str, path: str | Path, manifest: Manifest) -> DeployFile:
    file = Path(path)
    data = parse_toml(text, file, DeployFileError)
    return _Parser(file, text).deploy_file(data, manifest)


class _Parser(Checker):
    error = DeployFileError

    def deploy_file(self, data: dict[str, Any], manifest: Manifest) -> DeployFile:
        self.check_keys(data, (), _TOP_KEYS, "the deploy file")
        self.manifest = manifest
        app = self.optional_string(data, "app", ())
        if app is not None:
            self.named(app, ("app",), dns_label_problem(app), "app name")
        target = self.optional_string(data, "target", ())
        if target is not None and target not in TARGETS:
            self.fail(("target",), f"unknown target {target!r}: one of {', '.join(TARGETS)}")
        image = self.optional_string(data, "image", ())
        if image is not None:
            self.image(image, ("image",))
        executor = self.optional_string(data, "executor", ()) or DEFAULT_EXECUTOR
        regions_table = self.table(data.get("regions", {}), ("regions",))
        regions = {
            name: self.region(name, value, ("regions", name))
            for name, value in regions_table.items()
        }
        primary = self.optional_string(data, "primary_region", ())
        if primary is not None and regions and primary not in regions:
            self.fail(
                ("primary_region",),
                f"no region {primary!r} in [regions] (regions: {', '.join(regions)})",
            )
        if primary is None and regions:
            primary = next(iter(regions))
        self.primary = primary
        variables = self.variables(data.get("variables", {}), ("variables",))
        databases = {
            label: self.database(label, value, ("databases", label), set(regions))
            for label, value in self.table(data.get("databases", {}), ("databases",)).items()
        }
        stores = {
            label: self.kv_store(label, value, ("key_value", label), set(regions))
            for label, value in self.table(data.get("key_value", {}), ("key_value",)).items()
        }
        return DeployFile(
            path=self.path,
            app=app,
            target=target,
            image=image,
            executor=executor,
            primary_region=primary,
            variables=variables,
            databases=databases,
            key_value=stores,
            regions=regions,
            _text=self.text,
        )

    # -- parts --

    def optional_string(self, table: dict[str, Any], key: str, path: KeyPath) -> str | None:
        if key not in table:
            return None
        value = self.string(table[key], path + (key,))
        if not value.strip():
            self.fail(path + (key,), "must not be empty")
        return value

    def image(self, value: str, path: KeyPath) -> None:
        if any(c.isspace() for c in value) or "://" in value:
            self.fail(
                path,
                f"not an OCI image reference: {value!r} (write registry/repository:tag or "
                "registry/repository@sha256:digest, no scheme)",
            )

    def region(self, name: str, value: Any, path: KeyPath) -> RegionTarget:
        self.named(name, path, dns_label_problem(name), "region name")
        entry = self.table(value, path)
        self.check_keys(entry, path, _REGION_KEYS, f"[regions.{name}]")
        context = self.optional_string(entry, "context", path)
        namespace = self.optional_string(entry, "namespace", path) or "default"
        self.named(namespace, path + ("namespace",), dns_label_problem(namespace), "namespace")
        image = self.optional_string(entry, "image", path)
        if image is not None:
            self.image(image, path + ("image",))
        replicas = None
        if "replicas" in entry:
            replicas = self.whole(entry["replicas"], path + ("replicas",), minimum=0)
        autoscaling = None
        if "autoscaling" in entry:
            autoscaling = self.autoscaling(entry["autoscaling"], path + ("autoscaling",))
            if autoscaling is not None and replicas is not None:
                self.fail(
                    path + ("replicas",),
                    "replicas and autoscaling exclude each other: with autoscaling the "
                    "autoscaler sets the replica count (spin-operator's enableAutoscaling)",
                )
        limits, requests = self.resources(entry.get("resources", {}), path + ("resources",))
        variables = self.variables(entry.get("variables", {}), path + ("variables",))
        return RegionTarget(
            name=name,
            context=context,
            namespace=namespace,
            image=image,
            replicas=replicas,
            autoscaling=autoscaling,
            limits=limits,
            requests=requests,
            variables=variables,
        )

    def whole(self, value: Any, path: KeyPath, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"expected a whole number >= {minimum}, found {value!r}")
        if value < minimum or value > 2**31 - 1:
            self.fail(path, f"must be a whole number >= {minimum} (and fit in 32 bits)")
        return int(value)

    def autoscaling(self, value: Any, path: KeyPath) -> Autoscaling | None:
        if isinstance(value, bool):
            return Autoscaling() if value else None
        entry = self.expect(value, dict, path, "true, false or a table { min, max, cpu_percent }")
        self.check_keys(entry, path, _AUTOSCALING_KEYS, "autoscaling")
        if "max" not in entry:
            self.fail(path + ("max",), "missing: the most replicas the autoscaler may run")
        maximum = self.whole(entry["max"], path + ("max",), minimum=1)
        minimum = self.whole(entry.get("min", 1), path + ("min",), minimum=1)
        if minimum > maximum:
            self.fail(path + ("min",), f"min ({minimum}) is more than max ({maximum})")
        cpu = self.whole(entry.get("cpu_percent", 80), path + ("cpu_percent",), minimum=1)
        return Autoscaling(minimum, maximum, cpu)

    def resources(
        self, value: Any, path: KeyPath
    ) -> tuple[dict[str, str | int], dict[str, str | int]]:
        entry = self.table(value, path)
        self.check_keys(entry, path, {"limits", "requests"}, "resources")
        out = []
        for part in ("limits", "requests"):
            table = self.table(entry.get(part, {}), path + (part,))
            quantities: dict[str, str | int] = {}
            for name, quantity in table.items():
                key = path + (part, name)
                if not _RESOURCE_NAME.fullmatch(name):
                    self.fail(key, f"not a Kubernetes resource name: {name!r} (e.g. cpu, memory)")
                if isinstance(quantity, bool) or not isinstance(quantity, int | str):
                    self.fail(key, 'expected a quantity such as "500m" or "256Mi", or a number')
                if isinstance(quantity, str) and not QUANTITY.match(quantity):
                    self.fail(
                        key, f'not a Kubernetes quantity: {quantity!r} (e.g. "500m", "256Mi")'
                    )
                quantities[name] = quantity
            out.append(quantities)
        return out[0], out[1]

    def variables(self, value: Any, path: KeyPath) -> dict[str, str]:
        table = self.table(value, path)
        declared = self.manifest.variables
        out = {}
        for name, raw in table.items():
            key = path + (name,)
            self.named(name, key, name_problem(name), "variable name")
            if name not in declared:
                known = ", ".join(sorted(declared)) or "none"
                self.fail(
                    key,
                    f"the manifest declares no variable {name!r} in its [variables] "
                    f"(declared: {known})",
                )
            if declared[name].secret:
                self.fail(
                    key,
                    f"{name!r} is a secret variable: its value must not be written in a file "
                    f"that goes into the repository; set SPIN_VARIABLE_{name.upper()} in the "
                    "environment (or .env) when you deploy",
                )
            out[name] = self.string(raw, key)
        return out

    def used(self, label: str, path: KeyPath, kind: str) -> None:
        self.named(label, path, label_problem(label), f"{kind} label")
        attribute = "sqlite_databases" if kind == "database" else "key_value_stores"
        used = {x for spec in self.manifest.components.values() for x in getattr(spec, attribute)}
        if label not in used:
            self.fail(
                path,
                f"no component of the manifest uses the {kind} {label!r} (its components use: "
                f"{', '.join(sorted(used)) or 'none'})",
            )

    def regions_map(self, value: Any, path: KeyPath, regions: set[str], what: str) -> dict:
        table = self.table(value, path)
        out = {}
        for region, url in table.items():
            if region not in regions:
                self.fail(
                    path + (region,),
                    f"no region {region!r} in [regions] (regions: {', '.join(sorted(regions))})",
                )
            out[region] = self.url(url, path + (region,), what)
        return out

    def url(self, value: Any, path: KeyPath, what: str) -> str:
        url = self.string(value, path)
        if what == "libsql":
            problem = url_problem(url)
        else:
            scheme = url.partition("://")[0]
            problem = None
            if scheme not in ("redis", "rediss"):
                problem = "must be a redis:// or rediss:// URL"
        if problem is None:
            try:
                parts = urlsplit(url)
            except ValueError as exc:
                self.fail(path, f"malformed URL: {exc}")
            if parts.password is not None or (what == "libsql" and parts.username):
                self.fail(
                    path,
                    "must not carry credentials: they would be committed with this file; the "
                    "environment gives them (see the README's Deploying to regions)",
                )
        if problem is not None:
            self.fail(path, problem)
        return url

    def database(self, label: str, value: Any, path: KeyPath, regions: set[str]) -> Database:
        self.used(label, path, "database")
        entry = self.table(value, path)
        self.check_keys(entry, path, _DATABASE_KEYS, f"[databases.{label}]")
        kind = self.optional_string(entry, "type", path) or "libsql"
        if kind == "spin":
            self.check_keys(entry, path, {"type"}, f'[databases.{label}] of type "spin"')
            return Database(label, "spin")
        if kind != "libsql":
            self.fail(
                path + ("type",),
                f'unknown database type {kind!r}: "libsql" (Turso, sqld) or "spin" (a file in '
                "each pod, shared by nothing)",
            )
        if "url" not in entry:
            self.fail(
                path + ("url",), 'missing: the primary\'s URL (url = "https://my-db.turso.io")'
            )
        url = self.url(entry["url"], path + ("url",), "libsql")
        token_env = self.optional_string(entry, "token_env", path) or token_env_name(label)
        replicas = self.regions_map(
            entry.get("replicas", {}), path + ("replicas",), regions, "libsql"
        )
        if self.primary is not None and self.primary in replicas:
            self.fail(
                path + ("replicas", self.primary),
                f"{self.primary!r} is the primary region (primary_region): it uses the "
                "database's url; replicas are for the other regions",
            )
        return Database(label, "libsql", url, token_env, replicas)

    def kv_store(self, label: str, value: Any, path: KeyPath, regions: set[str]) -> KeyValueStore:
        self.used(label, path, "key-value store")
        entry = self.table(value, path)
        self.check_keys(entry, path, _KV_KEYS, f"[key_value.{label}]")
        if "type" not in entry:
            self.fail(path + ("type",), 'missing: "redis" (a server per region) or "spin"')
        kind = self.string(entry["type"], path + ("type",))
        if kind == "spin":
            self.check_keys(entry, path, {"type"}, f'[key_value.{label}] of type "spin"')
            return KeyValueStore(label, "spin")
        if kind != "redis":
            self.fail(
                path + ("type",),
                f'unknown key-value store type {kind!r}: "redis" or "spin" (a file in each pod)',
            )
        urls = self.regions_map(entry.get("regions", {}), path + ("regions",), regions, "redis")
        url = self.url(entry["url"], path + ("url",), "redis") if "url" in entry else ""
        if not url and set(urls) != regions:
            missing = ", ".join(sorted(regions - set(urls)))
            self.fail(path + ("url",), f"missing: the Redis URL (for regions {missing})")
        password_env = self.optional_string(entry, "password_env", path) or kv_password_env(label)
        return KeyValueStore(label, "redis", url, urls, password_env)


def selected_regions(deploy: DeployFile, only: list[str] | None) -> list[str]:
    """The regions to deploy: `only` (each must be in the file), else all of them."""
    if not only:
        return list(deploy.regions)
    unknown = [name for name in only if name not in deploy.regions]
    if unknown:
        raise DeployFileError(
            deploy.path,
            "regions",
            f"no region {', '.join(map(repr, unknown))} here (regions: "
            f"{', '.join(deploy.regions) or 'none'})",
            deploy.line_of("regions"),
        )
    return [name for name in deploy.regions if name in only]


def empty_deploy_file(path: Path) -> DeployFile:
    """What an absent deploy file means for a plugin target: no variables, no regions."""
    return DeployFile(path=path)


def describe(value: Mapping[str, str | int]) -> str:
    return " ".join(f"{k}={v}" for k, v in value.items())
