"""Shared text and helpers of the runtime.app manifest tests (not a test module)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.app.manifest import load
from runtime.errors import EdgeError, ManifestError

HEAD = 'spin_manifest_version = 2\n\n[application]\nname = "app"\n'
TRIGGER = '\n[[trigger.http]]\nroute = "/..."\ncomponent = "web"\n'
COMPONENT = '\n[component.web]\nsource = "web.wasm"\n'
GOOD = HEAD + TRIGGER + COMPONENT


def write(tmp_path: Path, text: str, name: str = "spin.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> ManifestError:
    path = write(tmp_path, text)
    with pytest.raises(ManifestError) as info:
        load(path)
    return info.value


# (name, manifest text, expected key, fragment of the message)
BadCase = tuple[str, str, str, str]


def assert_bad_manifest(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    """`text` is refused with an error at `key` whose message holds `fragment`."""
    err = load_error(tmp_path, text)
    assert err.key == key
    assert fragment in err.message
    assert err.file == tmp_path / "spin.toml"
    shown = str(err)
    assert shown.startswith(str(tmp_path / "spin.toml"))
    assert f": {key}: " in shown
    assert isinstance(err, EdgeError)
