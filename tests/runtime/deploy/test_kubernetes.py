"""SpinApp, Secrets and autoscaler of a three-region deploy: the schema and the fields."""

from __future__ import annotations

import copy
import json
import tomllib
from typing import Any

import pytest
import yaml

from runtime.deploy.kubernetes import (
    CONFIG_ANNOTATION,
    RUNTIME_CONFIG_KEY,
    render_region,
    runtime_config_text,
    to_yaml,
)
from runtime.deploy.schema import SchemaError, problems, schema, validate

from .helpers import API_KEY, DIGEST, ENV, IMAGE, KV_PASSWORD, TOKEN, deploy_file, manifest

REGIONS = ("us-east", "eu-west", "ap-south")


def render(region: str, env: dict[str, str] | None = None, image: str | None = IMAGE):  # type: ignore[no-untyped-def]
    return render_region(manifest(), deploy_file(), region, image, ENV if env is None else env)


def by_kind(objects: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        out.setdefault(obj["kind"], []).append(obj)
    return out


@pytest.mark.parametrize("region", REGIONS)
def test_every_object_passes_the_schema(region: str) -> None:
    rendered = render(region)
    assert rendered.problems == ()
    for obj in (*rendered.objects, *rendered.redacted):
        assert problems(obj) == []
    validate(rendered.objects, region)  # raises on any problem


def test_spinapp_fields_per_region() -> None:
    us, eu, ap = (by_kind(render(r).objects) for r in REGIONS)
    for objects, region in zip((us, eu, ap), REGIONS, strict=True):
        (app,) = objects["SpinApp"]
        assert app["apiVersion"] == "core.spinkube.dev/v1alpha1"
        assert app["metadata"]["name"] == "notes"
        assert app["metadata"]["labels"]["edge-deploy/region"] == region
        spec = app["spec"]
        assert spec["image"] == IMAGE and spec["image"].endswith("@" + DIGEST)
        assert spec["executor"] == "containerd-shim-spin"
        assert spec["runtimeConfig"] == {"loadFromSecret": "notes-runtime-config"}
        assert len(spec["podAnnotations"][CONFIG_ANNOTATION]) == 64
        secret_ref = {"secretKeyRef": {"name": "notes-variables", "key": "api_key"}}
        assert {"name": "api_key", "valueFrom": secret_ref} in spec["variables"]
        assert {"name": "region_name", "value": region} in spec["variables"]
    us_spec = us["SpinApp"][0]["spec"]
    assert us_spec["replicas"] == 3 and "enableAutoscaling" not in us_spec
    assert us_spec["resources"] == {
        "limits": {"cpu": "500m", "memory": "256Mi"},
        "requests": {"cpu": "100m"},
    }
    assert us["SpinApp"][0]["metadata"]["namespace"] == "edge"
    eu_spec = eu["SpinApp"][0]["spec"]
    assert eu_spec["enableAutoscaling"] is True and "replicas" not in eu_spec
    assert {"name": "greeting", "value": "bonjour"} in eu_spec["variables"]
    (hpa,) = eu["HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "notes",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    ap_spec = ap["SpinApp"][0]["spec"]
    assert ap_spec["enableAutoscaling"] is True and "replicas" not in ap_spec
    assert "HorizontalPodAutoscaler" not in ap  # autoscaling = true: the user's own HPA
    assert "resources" not in ap_spec
    assert ap["SpinApp"][0]["metadata"]["namespace"] == "default"


def test_the_runtime_config_secret_points_each_region_at_its_database() -> None:
    expected_sql = {
        "us-east": "https://notes-acme.turso.io",
        "eu-west": "https://notes-acme-eu-west.turso.io",  # the region's replica
        "ap-south": "https://notes-acme.turso.io",  # no replica: the primary
    }
    expected_kv = {
        "us-east": "kv-us.example.com:6379",
        "eu-west": "kv-eu.example.com:6379",
        "ap-south": "kv-us.example.com:6379",
    }
    for region in REGIONS:
        secrets = {s["metadata"]["name"]: s for s in by_kind(render(region).objects)["Secret"]}
        config_secret = secrets["notes-runtime-config"]
        assert config_secret["type"] == "Opaque"
        assert list(config_secret["stringData"]) == [RUNTIME_CONFIG_KEY]
        config = tomllib.loads(config_secret["stringData"][RUNTIME_CONFIG_KEY])
        assert config["sqlite_database"]["default"] == {
            "type": "libsql",
            "url": expected_sql[region],
            "token": TOKEN,
        }
        kv = config["key_value_store"]["default"]
        assert kv["type"] == "redis"
        # The password from the environment, escaped into the URL's user info.
        assert kv["url"] == f"redis://:pw-never%2Fin%20a%20file-55@{expected_kv[region]}"
        assert secrets["notes-variables"]["stringData"] == {"api_key": API_KEY}


def test_redacted_objects_hold_no_secret_value() -> None:
    for region in REGIONS:
        rendered = render(region)
        text = json.dumps(rendered.redacted)
        for secret in (TOKEN, API_KEY, KV_PASSWORD, "pw-never%2Fin%20a%20file-55"):
            assert secret not in text
            assert secret in rendered.secret_values or secret == KV_PASSWORD
        assert "<secret from EDGE_SQL_TOKEN_DEFAULT>" in text
        assert "<secret from SPIN_VARIABLE_API_KEY>" in text
        # Only the Secrets differ from what is applied.
        plain = [o for o in rendered.objects if o["kind"] != "Secret"]
        assert plain == [o for o in rendered.redacted if o["kind"] != "Secret"]
        assert TOKEN not in to_yaml(rendered.others())
        assert TOKEN not in repr(rendered) and API_KEY not in repr(rendered)


def test_missing_secrets_are_problems_not_empty_values() -> None:
    rendered = render("us-east", env={})
    assert any("set EDGE_SQL_TOKEN_DEFAULT" in p for p in rendered.problems)
    assert any("set SPIN_VARIABLE_API_KEY" in p for p in rendered.problems)
    no_image = render("us-east", image=None)
    assert any("no image for region 'us-east'" in p for p in no_image.problems)


def test_yaml_keeps_the_runtime_config_readable() -> None:
    rendered = render("eu-west")
    docs = list(yaml.safe_load_all(to_yaml(rendered.secrets())))
    assert docs == list(rendered.secrets())
    assert f"  {RUNTIME_CONFIG_KEY}: |\n" in to_yaml(rendered.secrets())


def test_runtime_config_text_is_toml() -> None:
    text = runtime_config_text(
        [("sqlite_database", "my db", {"type": "libsql", "url": "https://x", "token": 'a"b\\c'})]
    )
    assert tomllib.loads(text) == {
        "sqlite_database": {"my db": {"type": "libsql", "url": "https://x", "token": 'a"b\\c'}}
    }


def _spinapp() -> dict[str, Any]:
    return copy.deepcopy(by_kind(render("us-east").objects)["SpinApp"][0])


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda a: a["spec"].pop("executor"), "'executor' is a required property"),
        (lambda a: a["spec"].update(enableAutoscaling=True), "should not be valid"),
        (lambda a: a["spec"].update(replicas="3"), "is not of type 'integer'"),
        (lambda a: a["spec"]["resources"]["limits"].update(cpu="lots"), "limits.cpu"),
        (lambda a: a["spec"].update(imagePullPolicy="Always"), "Additional properties"),
        (lambda a: a["spec"]["variables"].append({"name": "Bad-Name", "value": "x"}), "Bad-Name"),
        (
            lambda a: a["spec"]["variables"].append({"name": "x"}),
            "is not valid under any of the given schemas",
        ),
        (lambda a: a.update(apiVersion="core.spinoperator.dev/v1alpha1"), "apiVersion"),
    ],
)
def test_the_schema_refuses_what_spin_operator_would(mutate, words) -> None:  # type: ignore[no-untyped-def]
    app = _spinapp()
    mutate(app)
    found = problems(app)
    assert found, "the schema let it through"
    assert any(words in p for p in found), found
    with pytest.raises(SchemaError, match="do not pass the SpinKube schema"):
        validate([app], "us-east")


def test_schema_problems_of_a_secret_do_not_show_its_values() -> None:
    secret = copy.deepcopy(by_kind(render("us-east").objects)["Secret"][0])
    secret["stringData"]["bad key!"] = TOKEN
    found = problems(secret)
    assert found and TOKEN not in " ".join(found)


def test_the_schema_is_a_draft_2020_12_document() -> None:
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema()["$defs"]) >= {"SpinApp", "Secret", "HorizontalPodAutoscaler"}
