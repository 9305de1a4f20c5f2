"""`edge build` refuses a component that its Redis or cron trigger could not call."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.app.manifest import load
from runtime.build.componentize import BuildError
from runtime.build.incremental import check_trigger_exports

MANIFEST = """spin_manifest_version = 2
[application]
name = "t"
[application.trigger.redis]
address = "redis://127.0.0.1:6379"
[[trigger.http]]
route = "/..."
component = "web"
[[trigger.{kind}]]
component = "web"
{field}
[component.web]
source = "web.wasm"
"""
FIELDS = {"redis": 'channel = "events"', "cron": 'cron_expression = "0 * * * * *"'}


@pytest.mark.parametrize("kind", ["redis", "cron"])
def test_a_component_without_the_export_is_refused(tmp_path: Path, kind: str) -> None:
    (tmp_path / "spin.toml").write_text(MANIFEST.format(kind=kind, field=FIELDS[kind]))
    (tmp_path / "web.wasm").write_bytes(b"\0asm" + b"wasi:http/incoming-handler@0.2.0")
    manifest = load(tmp_path / "spin.toml")
    with pytest.raises(BuildError, match=f"trigger.{kind}.*@{kind}_component"):
        check_trigger_exports(manifest, ["web"])


def test_a_component_with_the_exports_passes(tmp_path: Path) -> None:
    (tmp_path / "spin.toml").write_text(MANIFEST.format(kind="redis", field=FIELDS["redis"]))
    (tmp_path / "web.wasm").write_bytes(b"\0asm fermyon:spin/inbound-redis")
    check_trigger_exports(load(tmp_path / "spin.toml"), ["web"])
