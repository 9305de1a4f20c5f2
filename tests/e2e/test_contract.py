"""The built component deploys to Spin as it is: it imports only what Spin provides."""

from __future__ import annotations

import re

import pytest

from runtime.app.manifest import load
from runtime.wasm.engine import WasmEngine

pytestmark = pytest.mark.e2e

# Spin 3.2's `platform` world (spin:up@3.2.0): wasi:cli/imports@0.2.x, wasi:http's
# outgoing handler, fermyon:spin/platform@2.0.0, wasi:keyvalue, wasi:config,
# spin:postgres@3.0.0 and spin:sqlite@3.0.0.
SPIN_PLATFORM = {
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


def _allowed(name: str) -> bool:
    # wasi 0.2.x interfaces are semver-compatible: any 0.2 minor is what Spin links.
    if m := re.fullmatch(r"(wasi:[a-z-]+/[a-z-]+)@0\.2\.\d+", name):
        return m.group(1) in SPIN_PLATFORM
    return name in SPIN_PLATFORM


REDIS = "fermyon:spin/redis@2.0.0"


@pytest.mark.parametrize(
    "app", ["todo", "notes", "faults", "redisprobe", "httpprobe", "cache", "triggerprobe"]
)
def test_imports_only_spin_platform_and_exports_incoming_handler(built, app) -> None:
    engine = WasmEngine()
    for spec in load(built[app]).components.values():
        component = engine.load(spec.source)
        imports = list(component.type.imports(engine.engine))
        exports = list(component.type.exports(engine.engine))
        assert imports, "a component with no imports cannot be a Python app"
        assert [name for name in imports if not _allowed(name)] == []
        # Spin's outbound Redis only in components whose app imports framework.redis.
        assert (REDIS in imports) is (app in ("redisprobe", "cache"))
        # Outbound HTTP is Spin's wasi:http outgoing-handler (0.2.x), nothing of our own.
        assert any(name.startswith("wasi:http/outgoing-handler@0.2.") for name in imports)
        assert "wasi:http/incoming-handler@0.2.0" in exports
        assert "edge:runtime/dispatch@0.1.0" in exports
        raw = spec.source.read_bytes()
        # framework/wit names WASI 0.2.0; componentize-py's runtime adds imports of
        # WASI 0.2.9, which Spin's wasmtime links to its own 0.2 definitions.
        assert b"wasi:http/incoming-handler@0.2.0" in raw
        assert not re.search(rb"wasi:[a-z-]+/[a-z-]+@0\.3", raw)


TRIGGER_EXPORTS = {"fermyon:spin/inbound-redis", "handle-cron-event"}


@pytest.mark.parametrize("app", ["todo", "triggerprobe"])
def test_trigger_exports_only_where_the_app_has_handlers(built, app) -> None:
    """Spin's Redis trigger calls `fermyon:spin/inbound-redis` (the unversioned
    package that Spin 3 and 4 accept for P2 components), the cron plugin
    `handle-cron-event` at the top of the world."""
    engine = WasmEngine()
    for spec in load(built[app]).components.values():
        exports = set(engine.load(spec.source).type.exports(engine.engine))
        expected = TRIGGER_EXPORTS if app == "triggerprobe" else set()
        assert exports & TRIGGER_EXPORTS == expected
