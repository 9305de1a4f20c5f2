"""Spin's contract: which imports Spin links and which exports its triggers call,
checked on the names of tiny WAT components compiled with wasmtime."""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime

from runtime.app.manifest import loads
from runtime.build.contract import (
    check_contract,
    is_spin_import,
    non_spin_imports,
    trigger_kinds,
)
from runtime.deploy.check import ContractError, check_components, refuse_failing
from runtime.wasm.engine import WasmEngine

EVIL = """(component
  (import "example:evil/thing" (instance $t (export "run" (func))))
  (import "wasi:cli/environment@0.2.0" (instance $e))
)"""

GOOD = """(component
  (import "wasi:cli/environment@0.2.3" (instance $env))
  (import "fermyon:spin/key-value@2.0.0" (instance $kv))
  (instance $h)
  (export "wasi:http/incoming-handler@0.2.0" (instance $h))
)"""

MANIFEST = """\
spin_manifest_version = 2

[application]
name = "tiny"

[[trigger.http]]
route = "/..."
component = "web"

[[trigger.cron]]
component = "web"
cron_expression = "0 * * * * *"

[component.web]
source = "web.wasm"
"""


@pytest.mark.parametrize(
    ("name", "spin"),
    [
        ("wasi:cli/environment@0.2.0", True),
        ("wasi:cli/environment@0.2.9", True),  # any 0.2 minor links to Spin's 0.2
        ("wasi:cli/environment@0.3.0", False),
        ("wasi:http/outgoing-handler@0.2.3", True),
        ("wasi:http/incoming-handler@0.2.0", False),  # an export, never an import
        ("fermyon:spin/key-value@2.0.0", True),
        ("fermyon:spin/key-value@3.0.0", False),
        ("spin:sqlite/sqlite@3.0.0", True),
        ("edge:runtime/host@0.1.0", False),
        ("example:evil/thing", False),
    ],
)
def test_spin_imports(name: str, spin: bool) -> None:
    assert is_spin_import(name) is spin


def test_reports_each_reason() -> None:
    report = check_contract(
        "web",
        ["example:evil/thing", "wasi:io/streams@0.2.0", "example:evil/thing"],
        ["edge:runtime/dispatch@0.1.0"],
        {"http", "cron"},
    )
    assert not report.ok
    assert report.non_spin_imports == ("example:evil/thing",)
    assert report.missing_exports == ("cron", "http")
    reasons = report.reasons()
    assert "imports example:evil/thing, which Spin's platform does not provide" in reasons[0]
    assert "exports no handle-cron-event: give the app a @cron_component handler" in reasons[1]
    assert "exports no wasi:http/incoming-handler@0.2.x" in reasons[2]
    ok = check_contract(
        "web", ["wasi:io/streams@0.2.0"], ["wasi:http/incoming-handler@0.2.3"], {"http"}
    )
    assert ok.ok and ok.reasons() == []
    assert non_spin_imports(["wasi:io/poll@0.2.0"]) == []


def test_trigger_kinds_of_each_component() -> None:
    manifest = loads(MANIFEST, "/tiny/spin.toml")
    assert trigger_kinds(manifest) == {"web": {"http", "cron"}}


def _app(tmp_path: Path, wat: str) -> Path:
    (tmp_path / "web.wasm").write_bytes(wasmtime.wat2wasm(wat))
    manifest = tmp_path / "spin.toml"
    manifest.write_text(MANIFEST)
    return manifest


def test_a_compiled_component_with_a_non_spin_import_is_refused(tmp_path: Path) -> None:
    manifest = loads(_app(tmp_path, EVIL).read_text(), tmp_path / "spin.toml")
    (report,) = check_components(manifest, WasmEngine(cache_dir=tmp_path / "cache"))
    assert report.non_spin_imports == ("example:evil/thing",)
    assert report.missing_exports == ("cron", "http")
    with pytest.raises(ContractError) as info:
        refuse_failing([report])
    assert str(info.value).startswith("refusing to deploy: the app would fail on Spin:\n  - ")
    assert "example:evil/thing" in str(info.value)


def test_a_compiled_component_that_keeps_the_contract(tmp_path: Path) -> None:
    manifest = loads(_app(tmp_path, GOOD).read_text(), tmp_path / "spin.toml")
    (report,) = check_components(manifest, WasmEngine(cache_dir=tmp_path / "cache"))
    assert report.non_spin_imports == ()
    assert report.missing_exports == ("cron",)  # HTTP is there; the cron handler is not
