"""The pytest plugin that ships with the package (entry point `pytest11`), as a user's
project uses it: a separate pytest run with an `edge_manifest` ini option."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

USER_TESTS = """
def test_edge_serves_the_manifest_of_the_ini(edge):
    client = edge.client()
    assert client.post("/todos", json={"title": "x"}).status_code == 201
    assert [t["title"] for t in client.get("/todos").json()] == ["x"]


def test_each_test_starts_from_empty_state(edge):
    assert edge.client().get("/todos").json() == []


def test_the_factory_takes_any_options(edge_emulator):
    edge = edge_emulator(MANIFEST, regions=["us-east", "eu-west"], build=False, jitter=0)
    edge.client("us-east").post("/todos", json={"title": "y"})
    assert edge.client("eu-west").get("/todos").json() == []
    edge.settle()
    assert [t["title"] for t in edge.client("eu-west").get("/todos").json()] == ["y"]
    edge.check_read_your_writes()
"""


def test_the_plugin_fixtures_in_a_users_project(
    built: dict[str, Path], pytester: pytest.Pytester
) -> None:
    manifest = built["todo"]
    pytester.makeini(f"[pytest]\nedge_manifest = {manifest}\n")
    pytester.makepyfile(test_app=f"MANIFEST = {str(manifest)!r}\n{USER_TESTS}")
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
