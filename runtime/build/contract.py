"""What Spin links and calls: the contract a built component must keep to run on Spin.

A component deploys to Spin unchanged only when each of its imports is an
interface of Spin's platform world and it exports what each of its triggers
calls. These are plain functions of the names that a compiled component's type
lists (`component.type.imports(engine)` / `.exports(engine)` in wasmtime-py),
so that `edge deploy`, `edge up` and the tests ask one question the same way;
compiling is the caller's business.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..app.model import Manifest

# Spin 3.2's `platform` world (spin:up@3.2.0): wasi:cli/imports@0.2.x, wasi:http's
# outgoing handler, fermyon:spin/platform@2.0.0, wasi:keyvalue, wasi:config,
# spin:postgres@3.0.0 and spin:sqlite@3.0.0. The wasi:* names are unversioned:
# any 0.2.x of them is what Spin links (WASI 0.2 minors are semver-compatible).
SPIN_PLATFORM = frozenset(
    {
        "wasi:cli/environment",
        "wasi:cli/exit",
        "wasi:cli/stdin",
        "wasi:cli/stdout",
        "wasi:cli/stderr",
        "wasi:cli/terminal-input",
        "wasi:cli/terminal-output",
        "wasi:cli/terminal-stdin",
        "wasi:cli/terminal-stdout",
        "wasi:cli/terminal-stderr",
        "wasi:clocks/monotonic-clock",
        "wasi:clocks/wall-clock",
        "wasi:filesystem/types",
        "wasi:filesystem/preopens",
        "wasi:io/error",
        "wasi:io/poll",
        "wasi:io/streams",
        "wasi:random/random",
        "wasi:random/insecure",
        "wasi:random/insecure-seed",
        "wasi:sockets/network",
        "wasi:sockets/instance-network",
        "wasi:sockets/udp",
        "wasi:sockets/udp-create-socket",
        "wasi:sockets/tcp",
        "wasi:sockets/tcp-create-socket",
        "wasi:sockets/ip-name-lookup",
        "wasi:http/types",
        "wasi:http/outgoing-handler",
        "fermyon:spin/key-value@2.0.0",
        "fermyon:spin/variables@2.0.0",
        "fermyon:spin/sqlite@2.0.0",
        "fermyon:spin/llm@2.0.0",
        "fermyon:spin/redis@2.0.0",
        "fermyon:spin/mqtt@2.0.0",
        "fermyon:spin/postgres@2.0.0",
        "fermyon:spin/mysql@2.0.0",
        "fermyon:spin/rdbms-types@2.0.0",
        # The Redis trigger's types (Spin links the unversioned v1 package's interface)
        # and the cron plugin's: interfaces of types only, nothing to link.
        "fermyon:spin/redis-types",
        "fermyon:spin-cron/cron-types@2.0.0",
        "spin:sqlite/sqlite@3.0.0",
        "spin:postgres/postgres@3.0.0",
    }
)

_WASI_02 = re.compile(r"(wasi:[a-z-]+/[a-z-]+)@0\.2\.\d+")

# What each trigger calls, as the name appears among the component's exports:
# Spin's HTTP trigger the wasi:http handler (any 0.2.x), the Redis trigger the
# unversioned `fermyon:spin/inbound-redis` that Spin 3 and 4 accept for P2
# components, the cron plugin `handle-cron-event` at the top of the world.
HTTP_EXPORT = re.compile(r"wasi:http/incoming-handler@0\.2\.\d+")
TRIGGER_EXPORTS = {
    "redis": "fermyon:spin/inbound-redis",
    "cron": "handle-cron-event",
}
_DECORATORS = {"http": "@http_component", "redis": "@redis_component", "cron": "@cron_component"}


def is_spin_import(name: str) -> bool:
    """Whether Spin's platform world provides the interface `name`."""
    if m := _WASI_02.fullmatch(name):
        return m.group(1) in SPIN_PLATFORM
    return name in SPIN_PLATFORM


def non_spin_imports(imports: Iterable[str]) -> list[str]:
    """The imports that Spin would not link (it refuses to instantiate the component)."""
    return sorted(name for name in set(imports) if not is_spin_import(name))


def exports_for(kind: str, exports: Iterable[str]) -> bool:
    """Whether `exports` has what a trigger of `kind` (http, redis, cron) calls."""
    names = set(exports)
    if kind == "http":
        return any(HTTP_EXPORT.fullmatch(name) for name in names)
    return TRIGGER_EXPORTS[kind] in names


def export_name(kind: str) -> str:
    return "wasi:http/incoming-handler@0.2.x" if kind == "http" else TRIGGER_EXPORTS[kind]


@dataclass(frozen=True)
class ContractReport:
    """One component against Spin's contract: what it imports that Spin lacks, and
    which of its triggers it cannot answer."""

    component: str
    non_spin_imports: tuple[str, ...]
    missing_exports: tuple[str, ...]  # trigger kinds whose export is missing

    @property
    def ok(self) -> bool:
        return not self.non_spin_imports and not self.missing_exports

    def reasons(self) -> list[str]:
        """Why Spin would refuse the component, one sentence each (none when ok)."""
        out = []
        if self.non_spin_imports:
            names = ", ".join(self.non_spin_imports)
            out.append(
                f"component {self.component!r} imports {names}, which Spin's platform does not "
                "provide: Spin would refuse to instantiate it"
            )
        for kind in self.missing_exports:
            out.append(
                f"component {self.component!r} is run by a [[trigger.{kind}]] but exports no "
                f"{export_name(kind)}: give the app a {_DECORATORS[kind]} handler and rebuild"
            )
        return out


def check_contract(
    component: str, imports: Iterable[str], exports: Iterable[str], trigger_kinds: Iterable[str]
) -> ContractReport:
    """Check a compiled component's import and export names against what Spin links
    and what its triggers (`http`, `redis`, `cron`) call."""
    exported = set(exports)
    missing = tuple(kind for kind in sorted(set(trigger_kinds)) if not exports_for(kind, exported))
    return ContractReport(component, tuple(non_spin_imports(imports)), missing)


def trigger_kinds(manifest: Manifest) -> dict[str, set[str]]:
    """Component id -> the kinds of trigger that run it (`http`, `redis`, `cron`)."""
    kinds: dict[str, set[str]] = {cid: set() for cid in manifest.components}
    for trigger in manifest.http_triggers:
        kinds.setdefault(trigger.component, set()).add("http")
    for redis in manifest.redis_triggers:
        kinds.setdefault(redis.component, set()).add("redis")
    for cron in manifest.cron_triggers:
        kinds.setdefault(cron.component, set()).add("cron")
    return kinds
