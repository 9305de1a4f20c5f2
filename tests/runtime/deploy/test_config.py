"""The deploy file: what a valid one means, and errors that name file, key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.deploy.config import DeployFileError, selected_regions

from .helpers import DEPLOY, deploy_file


def error(text: str) -> DeployFileError:
    with pytest.raises(DeployFileError) as info:
        deploy_file(text)
    return info.value


def test_three_regions_as_written() -> None:
    deploy = deploy_file()
    assert list(deploy.regions) == ["us-east", "eu-west", "ap-south"]
    assert deploy.app == "notes"
    assert deploy.primary_region == "us-east"
    assert deploy.executor == "containerd-shim-spin"
    us, eu, ap = deploy.regions.values()
    assert (us.context, us.namespace, us.replicas, us.autoscaling) == (
        "gke-us-east",
        "edge",
        3,
        None,
    )
    assert us.limits == {"cpu": "500m", "memory": "256Mi"} and us.requests == {"cpu": "100m"}
    assert eu.autoscaling is not None and eu.autoscaling.writes_hpa
    assert (eu.autoscaling.min_replicas, eu.autoscaling.max_replicas) == (2, 10)
    assert eu.autoscaling.cpu_percent == 70
    assert ap.autoscaling is not None and not ap.autoscaling.writes_hpa
    assert ap.namespace == "default"
    db = deploy.databases["default"]
    assert db.token_env == "EDGE_SQL_TOKEN_DEFAULT"
    assert db.url_for("us-east") == "https://notes-acme.turso.io"
    assert db.url_for("eu-west") == "https://notes-acme-eu-west.turso.io"
    assert db.url_for("ap-south") == "https://notes-acme.turso.io"  # no replica there
    kv = deploy.key_value["default"]
    assert kv.url_for("eu-west") == "redis://kv-eu.example.com:6379"
    assert kv.password_env == "EDGE_KV_PASSWORD_DEFAULT"
    assert deploy.region_variables("eu-west") == {"greeting": "bonjour", "region_name": "eu-west"}
    assert deploy.region_variables("us-east") == {"greeting": "hello", "region_name": "us-east"}


def test_primary_defaults_to_the_first_region() -> None:
    deploy = deploy_file(DEPLOY.replace('primary_region = "us-east"\n', ""))
    assert deploy.primary_region == "us-east"


@pytest.mark.parametrize(
    ("change", "key", "line", "words"),
    [
        (
            ('context = "gke-us-east"', 'contxt = "gke-us-east"'),
            "regions.us-east.contxt",
            17,
            "did you mean 'context'?",
        ),
        (
            ('greeting = "hello"', 'api_key = "abc"'),
            "variables.api_key",
            5,
            "secret variable: its value must not be written",
        ),
        (
            ('greeting = "hello"', 'gretting = "x"'),
            "variables.gretting",
            5,
            "declares no variable 'gretting'",
        ),
        (
            ("replicas = 3", "replicas = 3\nautoscaling = true"),
            "regions.us-east.replicas",
            19,
            "replicas and autoscaling exclude each other",
        ),
        (
            ('cpu = "500m"', 'cpu = "half"'),
            "regions.us-east.resources.limits.cpu",
            20,
            "not a Kubernetes quantity",
        ),
        (
            ("https://notes-acme.turso.io", "libsql://notes-acme.turso.io"),
            "databases.default.url",
            8,
            "refuses libsql:// URLs",
        ),
        (
            ("https://notes-acme.turso.io", "https://me:pw@notes-acme.turso.io"),
            "databases.default.url",
            8,
            "must not carry credentials",
        ),
        (
            ("redis://kv-us.example.com", "redis://:hunter2@kv-us.example.com"),
            "key_value.default.url",
            13,
            "must not carry credentials",
        ),
        (
            ('{ eu-west = "https://', '{ eu-wset = "https://'),
            "databases.default.replicas.eu-wset",
            9,
            "no region 'eu-wset' in [regions]",
        ),
        (
            ('primary_region = "us-east"', 'primary_region = "mars"'),
            "primary_region",
            2,
            "no region 'mars'",
        ),
        (
            ("[databases.default]", "[databases.other]"),
            "databases.other",
            7,
            "no component of the manifest uses the database 'other'",
        ),
        (
            ('type = "redis"', 'type = "memcached"'),
            "key_value.default.type",
            12,
            "unknown key-value store type",
        ),
        (("replicas = 3", "replicas = -1"), "regions.us-east.replicas", 19, "whole number >= 0"),
        (
            ('namespace = "edge"', 'namespace = "Edge_NS"'),
            "regions.us-east.namespace",
            18,
            "a Kubernetes name",
        ),
        (("[regions.ap-south]", "[regions.AP]"), "regions.AP", 33, "a Kubernetes name"),
        (("max = 10", "max = 1"), "regions.eu-west.autoscaling.min", 26, "more than max"),
    ],
)
def test_errors_name_file_key_and_line(change, key, line, words) -> None:  # type: ignore[no-untyped-def]
    old, new = change
    assert old in DEPLOY
    exc = error(DEPLOY.replace(old, new, 1))
    assert exc.key == key
    assert exc.line == line, str(exc)
    assert words in exc.message
    assert str(exc).startswith(f"/app/edge-deploy.toml:{line}: {key}: ")


def test_a_replica_in_the_primary_region_is_refused() -> None:
    text = DEPLOY.replace(
        'replicas = { eu-west = "https://notes-acme-eu-west.turso.io" }',
        'replicas = { us-east = "https://notes-acme-us.turso.io" }',
    )
    exc = error(text)
    assert exc.key == "databases.default.replicas.us-east"
    assert "is the primary region" in exc.message


def test_invalid_toml_has_its_line() -> None:
    exc = error(DEPLOY + "\n[regions.x\n")
    assert exc.line == len(DEPLOY.splitlines()) + 2
    assert "invalid TOML" in exc.message


def test_selected_regions() -> None:
    deploy = deploy_file()
    assert selected_regions(deploy, None) == ["us-east", "eu-west", "ap-south"]
    assert selected_regions(deploy, ["ap-south", "us-east"]) == ["us-east", "ap-south"]
    with pytest.raises(DeployFileError, match="no region 'mars'"):
        selected_regions(deploy, ["mars"])


def test_the_readme_example_is_a_valid_deploy_file() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = readme[readme.index("### Deploying to regions") :]
    example = section[section.index("```toml\n") + 8 :]
    example = example[: example.index("```")]
    deploy = deploy_file(example)
    assert list(deploy.regions) == ["us-east", "eu-west", "ap-south"]
    assert deploy.databases["default"].url_for("ap-south") == "https://notes-acme.turso.io"
    assert deploy.regions["eu-west"].autoscaling is not None
