"""The command line a Spin plugin gets (the runs themselves: tests/e2e/test_deploy.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.deploy.plugins import PluginError, find_spin, handoff
from runtime.deploy.values import RegionValues, SecretValue

VALUES = RegionValues(
    plain={"greeting": "hello"},
    sources={"greeting": "edge-deploy.toml [variables]"},
    secrets={"api_key": SecretValue("SPIN_VARIABLE_API_KEY", "s3cret")},
)


def test_spin_cloud_takes_the_manifest_and_variables() -> None:
    step = handoff("/bin/spin", "cloud", Path("/app/spin.toml"), VALUES, ["--link", "x=s3cret"])
    assert step.argv == (
        "/bin/spin", "cloud", "deploy", "--from", "spin.toml",
        "--variable", "greeting=hello", "--variable", "api_key=s3cret", "--link", "x=s3cret",
    )  # fmt: skip
    assert "s3cret" not in " ".join(step.shown)
    assert step.shown[-3:] == ("api_key=***", "--link", "x=***")
    assert step.cwd == Path("/app")


def test_other_plugins_read_spin_toml_in_the_apps_folder() -> None:
    step = handoff("/bin/spin", "aka", Path("/app/spin.toml"), VALUES, [])
    assert step.argv[:3] == ("/bin/spin", "aka", "deploy") and "--from" not in step.argv
    with pytest.raises(PluginError, match="reads spin.toml in the app's folder"):
        handoff("/bin/spin", "aka", Path("/app/other.toml"), VALUES, [])


def test_a_secret_is_never_in_repr() -> None:
    assert "s3cret" not in repr(VALUES) and "s3cret" not in str(VALUES.secrets["api_key"])


def test_no_spin_on_path(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="spin plugins install aka"):
        find_spin({"PATH": str(tmp_path)}, "aka")
