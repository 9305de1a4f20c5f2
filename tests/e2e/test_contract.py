"""The built component deploys to Spin as it is: it imports only what Spin provides."""

from __future__ import annotations

import re

import pytest

from runtime.app.manifest import load
from runtime.build.contract import TRIGGER_EXPORTS, check_contract, trigger_kinds
from runtime.wasm.engine import WasmEngine

pytestmark = pytest.mark.e2e

REDIS = "fermyon:spin/redis@2.0.0"


@pytest.mark.parametrize(
    "app", ["todo", "notes", "faults", "redisprobe", "httpprobe", "cache", "triggerprobe"]
)
def test_imports_only_spin_platform_and_exports_incoming_handler(built, app) -> None:
    engine = WasmEngine()
    manifest = load(built[app])
    kinds = trigger_kinds(manifest)
    for cid, spec in manifest.components.items():
        component = engine.load(spec.source)
        imports = list(component.type.imports(engine.engine))
        exports = list(component.type.exports(engine.engine))
        assert imports, "a component with no imports cannot be a Python app"
        report = check_contract(cid, imports, exports, kinds[cid])
        assert report.non_spin_imports == ()
        assert report.ok, report.reasons()
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


@pytest.mark.parametrize("app", ["todo", "triggerprobe"])
def test_trigger_exports_only_where_the_app_has_handlers(built, app) -> None:
    """Spin's Redis trigger calls `fermyon:spin/inbound-redis` (the unversioned
    package that Spin 3 and 4 accept for P2 components), the cron plugin
    `handle-cron-event` at the top of the world."""
    engine = WasmEngine()
    for spec in load(built[app]).components.values():
        exports = set(engine.load(spec.source).type.exports(engine.engine))
        names = set(TRIGGER_EXPORTS.values())
        expected = names if app == "triggerprobe" else set()
        assert exports & names == expected
