"""Valid manifests: what `load` and `loads` make of them, and the data model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from runtime.app.manifest import load, loads
from runtime.app.model import (
    BuildSpec,
    FileMount,
    HttpTrigger,
    Manifest,
    PrivateEndpoint,
    RedisTrigger,
)

from .manifest_helpers import COMPONENT, GOOD, HEAD, write

REPO = Path(__file__).resolve().parents[3]

FULL = """\
spin_manifest_version = 2

[application]
name = "shop"
version = "1.2.3"
description = "A shop"
authors = ["Ada <ada@example.com>", "Bob"]

[application.trigger.http]
base = "/"

[application.trigger.redis]
address = "redis://localhost:6379"

[application.tool.lint]
level = "strict"

[variables]
api_host = { default = "api.example.com" }
token = { required = true, secret = true, description = "the API token" }

[[trigger.http]]
route = "/cart/..."
component = "cart"

[[trigger.http]]
id = "admin"
route = "/admin/:section"
component = "admin-ui"
executor = { type = "spin" }

[[trigger.http]]
route = { private = true }
component = "cart"

[[trigger.redis]]
channel = "orders"
component = "cart"

[component.cart]
source = "target/cart.wasm"
description = "The cart"
key_value_stores = ["default", "sessions"]
sqlite_databases = ["default", "orders_db"]
allowed_outbound_hosts = ["https://{{ api_host }}"]
environment = { MODE = "test" }
files = ["static/*.css", { source = "assets", destination = "/assets" }]
exclude_files = ["static/secret.css"]
ai_models = ["llama2-chat"]

[component.cart.variables]
api_url = "https://{{ api_host }}/v1"
token = "{{token}}"

[component.cart.build]
command = ["npm install", "npm run build"]
workdir = "cart"
watch = ["src/**/*.ts"]

[component.cart.tool.clean]
command = "rm -rf target"

[component.admin-ui]
source = "admin.wasm"

[component.admin-ui.build]
command = "make"
"""


class TestValidManifest:
    def test_full_manifest(self, tmp_path: Path) -> None:
        m = load(write(tmp_path, FULL))
        assert m.path == tmp_path / "spin.toml"
        assert m.root == tmp_path
        assert (m.name, m.version, m.description) == ("shop", "1.2.3", "A shop")
        assert m.authors == ("Ada <ada@example.com>", "Bob")
        assert m.base == "/"

        assert m.variables["api_host"].default == "api.example.com"
        assert not m.variables["api_host"].required
        token = m.variables["token"]
        assert (token.required, token.secret, token.default) == (True, True, None)
        assert token.description == "the API token"

        assert m.http_triggers == [
            HttpTrigger("/cart/...", "cart"),
            HttpTrigger("/admin/:section", "admin-ui", executor="spin", id="admin"),
            HttpTrigger(PrivateEndpoint(), "cart"),
        ]
        assert m.http_triggers[2].private and not m.http_triggers[0].private
        assert m.redis_triggers == [RedisTrigger("orders", "cart")]
        assert m.other_triggers == {}

        cart = m.components["cart"]
        assert cart.id == "cart"
        assert cart.source == tmp_path / "target" / "cart.wasm"
        assert cart.description == "The cart"
        assert cart.key_value_stores == ("default", "sessions")
        assert cart.sqlite_databases == ("default", "orders_db")
        assert cart.variables == {"api_url": "https://{{ api_host }}/v1", "token": "{{token}}"}
        assert cart.allowed_outbound_hosts == ("https://{{ api_host }}",)
        assert cart.environment == {"MODE": "test"}
        assert cart.files == ("static/*.css", FileMount("assets", "/assets"))
        assert cart.exclude_files == ("static/secret.css",)
        assert cart.ai_models == ("llama2-chat",)
        assert cart.build == BuildSpec(
            command=("npm install", "npm run build"),
            workdir=tmp_path / "cart",
            watch=("src/**/*.ts",),
        )
        assert cart.build.commands == ("npm install", "npm run build")

    def test_defaults_of_a_minimal_component(self, tmp_path: Path) -> None:
        m = load(write(tmp_path, GOOD))
        web = m.components["web"]
        assert web.source == tmp_path / "web.wasm"
        assert web.key_value_stores == () and web.sqlite_databases == ()
        assert web.variables == {} and web.environment == {}
        assert web.build is None
        assert m.variables == {} and m.version == "" and m.authors == ()

    def test_build_defaults_to_the_manifest_dir(self, tmp_path: Path) -> None:
        text = GOOD + '\n[component.web.build]\ncommand = "make"\n'
        build = load(write(tmp_path, text)).components["web"].build
        assert build == BuildSpec("make", tmp_path, ())
        assert build.commands == ("make",)

    def test_source_is_not_required_to_exist(self, tmp_path: Path) -> None:
        m = load(write(tmp_path, GOOD))
        assert not m.components["web"].source.exists()

    def test_source_is_normalised_relative_to_the_manifest(self, tmp_path: Path) -> None:
        sub = tmp_path / "app"
        sub.mkdir()
        text = GOOD.replace('"web.wasm"', '"../out/./web.wasm"')
        m = load(write(sub, text))
        assert m.components["web"].source == tmp_path / "out" / "web.wasm"

    def test_routes_in_manifest_order_without_private_ones(self, tmp_path: Path) -> None:
        m = load(write(tmp_path, FULL))
        assert m.routes() == [("/cart/...", "cart"), ("/admin/:section", "admin-ui")]

    def test_a_directory_means_its_spin_toml(self, tmp_path: Path) -> None:
        write(tmp_path, GOOD)
        assert load(tmp_path).name == "app"
        assert load(str(tmp_path)).path == tmp_path / "spin.toml"

    def test_loads_takes_paths_relative_to_the_given_file(self, tmp_path: Path) -> None:
        m = loads(GOOD, tmp_path / "x" / "spin.toml")
        assert m.components["web"].source == tmp_path / "x" / "web.wasm"

    def test_the_manifest_is_frozen(self, tmp_path: Path) -> None:
        m = load(write(tmp_path, GOOD))
        with pytest.raises(dataclasses.FrozenInstanceError):
            m.name = "other"  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            m.components["web"].source = Path("x")  # type: ignore[misc]

    def test_inline_trigger_component_of_another_trigger_type_is_kept(self, tmp_path: Path) -> None:
        text = GOOD + '\n[[trigger.mqtt]]\ntopic = "t"\ncomponent = { source = "mqtt.wasm" }\n'
        m = load(write(tmp_path, text))
        assert m.other_triggers["mqtt"][0]["component"] == {"source": "mqtt.wasm"}
        assert m.routes() == [("/...", "web")]

    def test_exact_and_parameter_routes(self, tmp_path: Path) -> None:
        text = (
            HEAD
            + COMPONENT
            + "".join(
                f'\n[[trigger.http]]\nroute = "{r}"\ncomponent = "web"\n'
                for r in ["/", "/a", "/a/:id", "/a/:id/b/...", "/b/*"]
            )
        )
        assert [r for r, _ in load(write(tmp_path, text)).routes()] == [
            "/",
            "/a",
            "/a/:id",
            "/a/:id/b/...",
            "/b/*",
        ]

    def test_http_executor_alias(self, tmp_path: Path) -> None:
        text = GOOD.replace(
            'component = "web"\n', 'component = "web"\nexecutor = { type = "http" }\n'
        )
        assert load(write(tmp_path, text)).http_triggers[0].executor == "http"

    @pytest.mark.parametrize(
        "path",
        [
            "spin.toml",
            "examples/todo/spin.toml",
            "examples/notes/spin.toml",
            "examples/hello/spin.toml",
        ],
    )
    def test_the_repository_manifests_load(self, path: str) -> None:
        m = load(REPO / path)
        assert m.routes(), f"{path} serves no route"
        for spec in m.components.values():
            assert spec.build is not None
            assert spec.source.is_absolute()


def test_manifest_can_be_built_by_hand(tmp_path: Path) -> None:
    m = Manifest(
        path=tmp_path / "spin.toml",
        root=tmp_path,
        name="x",
        http_triggers=[HttpTrigger("/a", "c")],
        base="/api/",
    )
    assert m.routes() == [("/api/a", "c")]
