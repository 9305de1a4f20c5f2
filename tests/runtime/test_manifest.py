"""Tests of runtime.manifest: Spin manifest v2 parsing and its error messages."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest

from runtime.errors import EdgeError, ManifestError
from runtime.manifest import (
    BuildSpec,
    FileMount,
    HttpTrigger,
    Manifest,
    PrivateEndpoint,
    load,
    loads,
)
from runtime.manifest_syntax import (
    format_key,
    id_problem,
    kebab_problem,
    label_problem,
    lower_snake_problem,
)

REPO = Path(__file__).resolve().parents[2]

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
        assert m.other_triggers == {"redis": [{"channel": "orders", "component": "cart"}]}

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
        text = (
            GOOD + '\n[[trigger.cron]]\ncron_expression = "* * * * *"\n'
            'component = { source = "cron.wasm" }\n'
        )
        m = load(write(tmp_path, text))
        assert m.other_triggers["cron"][0]["component"] == {"source": "cron.wasm"}
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


# (name, manifest text, expected key, fragment of the message)
BAD: list[tuple[str, str, str, str]] = [
    (
        "version missing",
        '[application]\nname = "a"\n' + TRIGGER + COMPONENT,
        "spin_manifest_version",
        "spin_manifest_version = 2",
    ),
    (
        "version 1",
        'spin_manifest_version = "1"\nname = "a"\n',
        "spin_manifest_version",
        "version 1 manifest",
    ),
    ("oldest version key", 'spin_version = "1"\nname = "a"\n', "spin_version", "version 1"),
    (
        "version as string",
        GOOD.replace("= 2", '= "2"'),
        "spin_manifest_version",
        'not the string "2"',
    ),
    (
        "version 3",
        GOOD.replace("= 2", "= 3"),
        "spin_manifest_version",
        "unsupported manifest version 3",
    ),
    (
        "version bool",
        GOOD.replace("= 2", "= true"),
        "spin_manifest_version",
        "unsupported manifest version true",
    ),
    ("unknown top-level key", "colour = 1\n" + GOOD, "colour", "unknown key in the manifest"),
    (
        "application missing",
        "spin_manifest_version = 2\n" + TRIGGER + COMPONENT,
        "application",
        "missing",
    ),
    (
        "application name missing",
        GOOD.replace('name = "app"\n', 'version = "1"\n'),
        "application.name",
        "missing",
    ),
    (
        "application name wrong type",
        GOOD.replace('name = "app"', "name = 7"),
        "application.name",
        "expected a string, found an integer",
    ),
    (
        "application name empty",
        GOOD.replace('name = "app"', 'name = ""'),
        "application.name",
        "must not be empty",
    ),
    (
        "authors a string",
        GOOD.replace('name = "app"', 'name = "app"\nauthors = "me"'),
        "application.authors",
        "expected an array of strings, found a string",
    ),
    (
        "application typo",
        GOOD.replace('name = "app"', 'name = "app"\ndescripton = "x"'),
        "application.descripton",
        "did you mean 'description'",
    ),
    (
        "http base",
        GOOD + '\n[application.trigger.http]\nbase = "/api"\n',
        "application.trigger.http.base",
        "prepend '/api'",
    ),
    (
        "http app trigger unknown key",
        GOOD + "\n[application.trigger.http]\nport = 1\n",
        "application.trigger.http.port",
        "unknown key",
    ),
    (
        "variable name uppercase",
        GOOD + '\n[variables]\nAPI_KEY = { default = "x" }\n',
        "variables.API_KEY",
        "must be all lowercase",
    ),
    (
        "variable name kebab",
        GOOD + '\n[variables]\napi-key = { default = "x" }\n',
        "variables.api-key",
        "separated with '_', not '-'",
    ),
    (
        "variable name digit word",
        GOOD + '\n[variables]\nkey_1 = { default = "x" }\n',
        "variables.key_1",
        "must start with an ASCII letter",
    ),
    (
        "variable required with default",
        GOOD + '\n[variables]\ntoken = { required = true, default = "x" }\n',
        "variables.token",
        "must not have a default",
    ),
    (
        "variable neither required nor default",
        GOOD + "\n[variables]\ntoken = { secret = true }\n",
        "variables.token",
        "needs a `default",
    ),
    (
        "variable not a table",
        GOOD + '\n[variables]\ntoken = "x"\n',
        "variables.token",
        "expected a table, found a string",
    ),
    (
        "variable default not a string",
        GOOD + "\n[variables]\nport = { default = 80 }\n",
        "variables.port.default",
        "expected a string, found an integer",
    ),
    (
        "variable required not a bool",
        GOOD + '\n[variables]\nx = { required = "yes" }\n',
        "variables.x.required",
        "expected a boolean",
    ),
    (
        "variable typo",
        GOOD + '\n[variables]\nx = { default = "a", secrett = true }\n',
        "variables.x.secrett",
        "did you mean 'secret'",
    ),
    (
        "component id snake",
        HEAD + TRIGGER.replace('"web"', '"my-web"') + '\n[component.my_web]\nsource = "w.wasm"\n',
        "component.my_web",
        "separated with '-', not '_'",
    ),
    (
        "component id mixed case",
        HEAD + '\n[component.myWeb]\nsource = "w.wasm"\n' + TRIGGER,
        "component.myWeb",
        "all lowercase or all UPPERCASE",
    ),
    (
        "source missing",
        HEAD + TRIGGER + '\n[component.web]\ndescription = "x"\n',
        "component.web.source",
        "missing",
    ),
    (
        "source url",
        HEAD
        + TRIGGER
        + '\n[component.web]\nsource = { url = "https://x.test/a.wasm", digest = "sha256:00" }\n',
        "component.web.source",
        "from a URL is not supported",
    ),
    (
        "source registry",
        HEAD
        + TRIGGER
        + '\n[component.web]\nsource = { registry = "r.test", package = "a:b", version = "1" }\n',
        "component.web.source",
        "from a registry is not supported",
    ),
    (
        "source wrong type",
        HEAD + TRIGGER + "\n[component.web]\nsource = 1\n",
        "component.web.source",
        "expected a string, found an integer",
    ),
    (
        "source empty",
        HEAD + TRIGGER + '\n[component.web]\nsource = ""\n',
        "component.web.source",
        "must not be empty",
    ),
    (
        "kv stores a string",
        GOOD + 'key_value_stores = "default"\n',
        "component.web.key_value_stores",
        'found a string (write ["default"])',
    ),
    (
        "kv store not a string",
        GOOD + "key_value_stores = [1]\n",
        "component.web.key_value_stores[0]",
        "expected a string, found an integer",
    ),
    (
        "kv store bad label",
        GOOD + 'key_value_stores = ["my store"]\n',
        "component.web.key_value_stores[0]",
        "invalid key-value store label 'my store'",
    ),
    (
        "sqlite a string",
        GOOD + 'sqlite_databases = "default"\n',
        "component.web.sqlite_databases",
        "expected an array of strings",
    ),
    (
        "sqlite a table",
        GOOD + "sqlite_databases = { default = true }\n",
        "component.web.sqlite_databases",
        "expected an array of strings, found a table",
    ),
    (
        "component typo",
        GOOD + 'key_value_store = ["default"]\n',
        "component.web.key_value_store",
        "did you mean 'key_value_stores'",
    ),
    (
        "template names undeclared variable",
        GOOD + '\n[component.web.variables]\napi_url = "https://{{ api_host }}/v1"\n',
        "component.web.variables.api_url",
        "{{ api_host }} names no application variable",
    ),
    (
        "template unmatched braces",
        GOOD + '\n[variables]\nh = { default = "x" }\n[component.web.variables]\nu = "{{ h"\n',
        "component.web.variables.u",
        "unmatched '{{'",
    ),
    (
        "component variable name",
        GOOD + '\n[component.web.variables]\napiKey = "x"\n',
        "component.web.variables.apiKey",
        "invalid variable name 'apiKey'",
    ),
    (
        "component variable value",
        GOOD + "\n[component.web.variables]\nport = 80\n",
        "component.web.variables.port",
        "expected a string, found an integer",
    ),
    (
        "component variables not a table",
        GOOD + 'variables = ["a"]\n',
        "component.web.variables",
        "expected a table, found an array",
    ),
    (
        "outbound host names undeclared variable",
        GOOD + 'allowed_outbound_hosts = ["https://{{ host }}"]\n',
        "component.web.allowed_outbound_hosts[0]",
        "{{ host }} names no application variable",
    ),
    (
        "environment value",
        GOOD + "environment = { PORT = 80 }\n",
        "component.web.environment.PORT",
        "expected a string, found an integer",
    ),
    (
        "files relative destination",
        GOOD + 'files = [{ source = "a", destination = "b" }]\n',
        "component.web.files[0].destination",
        "must be absolute",
    ),
    (
        "files entry missing destination",
        GOOD + 'files = [{ source = "a" }]\n',
        "component.web.files[0].destination",
        "missing",
    ),
    (
        "files entry wrong type",
        GOOD + "files = [1]\n",
        "component.web.files[0]",
        "a string or a { source, destination } table",
    ),
    (
        "dependencies",
        GOOD + '\n[component.web.dependencies]\n"a:b/c" = "1.0"\n',
        "component.web.dependencies",
        "not supported",
    ),
    (
        "build without command",
        GOOD + '\n[component.web.build]\nwatch = ["*.py"]\n',
        "component.web.build.command",
        "missing",
    ),
    (
        "build command wrong type",
        GOOD + "\n[component.web.build]\ncommand = 1\n",
        "component.web.build.command",
        "expected a string or an array of strings",
    ),
    (
        "build command empty",
        GOOD + '\n[component.web.build]\ncommand = " "\n',
        "component.web.build.command",
        "must not be empty",
    ),
    (
        "build command list item",
        GOOD + '\n[component.web.build]\ncommand = ["a", 2]\n',
        "component.web.build.command[1]",
        "expected a string, found an integer",
    ),
    (
        "build workdir type",
        GOOD + '\n[component.web.build]\ncommand = "x"\nworkdir = 1\n',
        "component.web.build.workdir",
        "expected a string",
    ),
    (
        "build typo",
        GOOD + '\n[component.web.build]\ncommand = "x"\nwokdir = "a"\n',
        "component.web.build.wokdir",
        "did you mean 'workdir'",
    ),
    ("triggers missing", HEAD + COMPONENT, "trigger", "missing"),
    (
        "http trigger as a table",
        HEAD + COMPONENT + '\n[trigger.http]\nroute = "/"\ncomponent = "web"\n',
        "trigger.http",
        "write [[trigger.http]]",
    ),
    (
        "route missing",
        HEAD + COMPONENT + '\n[[trigger.http]]\ncomponent = "web"\n',
        "trigger.http[0].route",
        "missing",
    ),
    (
        "route without slash",
        GOOD.replace('route = "/..."', 'route = "api/..."'),
        "trigger.http[0].route",
        "must start with '/'",
    ),
    (
        "route private false",
        GOOD.replace('route = "/..."', "route = { private = false }"),
        "trigger.http[0].route",
        "{ private = true }",
    ),
    (
        "route private typo",
        GOOD.replace('route = "/..."', "route = { privat = true }"),
        "trigger.http[0].route.privat",
        "did you mean 'private'",
    ),
    (
        "route wrong type",
        GOOD.replace('route = "/..."', "route = 5"),
        "trigger.http[0].route",
        "expected a route string",
    ),
    (
        "route inner wildcard",
        GOOD.replace('route = "/..."', 'route = "/a/.../b"'),
        "trigger.http[0].route",
        "'...' may only be the whole last segment",
    ),
    (
        "route with a query",
        GOOD.replace('route = "/..."', 'route = "/a?b=1"'),
        "trigger.http[0].route",
        "without spaces, query or fragment",
    ),
    (
        "route with empty parameter",
        GOOD.replace('route = "/..."', 'route = "/a/:"'),
        "trigger.http[0].route",
        "invalid parameter ':'",
    ),
    (
        "route repeats a parameter",
        GOOD.replace('route = "/..."', 'route = "/:id/:id"'),
        "trigger.http[0].route",
        "appears twice",
    ),
    (
        "inline component",
        HEAD + '\n[[trigger.http]]\nroute = "/"\ncomponent = { source = "w.wasm" }\n',
        "trigger.http[0].component",
        "inline component tables are not supported",
    ),
    (
        "unknown component",
        GOOD.replace('component = "web"', 'component = "api"'),
        "trigger.http[0].component",
        "no [component.api] in the manifest (components: web)",
    ),
    (
        "component of trigger missing",
        HEAD + COMPONENT + '\n[[trigger.http]]\nroute = "/"\n',
        "trigger.http[0].component",
        "missing",
    ),
    (
        "component of trigger bad id",
        GOOD.replace('component = "web"', 'component = "web_1"'),
        "trigger.http[0].component",
        "invalid component id 'web_1'",
    ),
    (
        "unknown component of another trigger type",
        GOOD + '\n[[trigger.redis]]\nchannel = "c"\ncomponent = "nope"\n',
        "trigger.redis[0].component",
        "no [component.nope]",
    ),
    (
        "duplicate route",
        GOOD + '\n[[trigger.http]]\nroute = "/..."\ncomponent = "web"\n',
        "trigger.http[1].route",
        "also the route of trigger.http[0] (component 'web')",
    ),
    (
        "duplicate route modulo trailing slash",
        HEAD + COMPONENT + '\n[[trigger.http]]\nroute = "/a"\ncomponent = "web"\n'
        '\n[[trigger.http]]\nroute = "/b"\ncomponent = "web"\n'
        '\n[[trigger.http]]\nroute = "/a/"\ncomponent = "web"\n',
        "trigger.http[2].route",
        "trigger.http[0]",
    ),
    (
        "wagi executor",
        GOOD.replace('component = "web"\n', 'component = "web"\nexecutor = { type = "wagi" }\n'),
        "trigger.http[0].executor.type",
        "Wagi executor is not supported",
    ),
    (
        "unknown executor",
        GOOD.replace('component = "web"\n', 'component = "web"\nexecutor = { type = "cgi" }\n'),
        "trigger.http[0].executor.type",
        "unknown executor 'cgi'",
    ),
    (
        "executor without type",
        GOOD.replace('component = "web"\n', 'component = "web"\nexecutor = {}\n'),
        "trigger.http[0].executor.type",
        "missing",
    ),
    (
        "trigger typo",
        GOOD.replace('route = "/..."', 'route = "/..."\nrout = "/x"'),
        "trigger.http[0].rout",
        "did you mean 'route'",
    ),
    (
        "static response",
        GOOD.replace('route = "/..."', 'route = "/..."\nstatic_response = { status_code = 404 }'),
        "trigger.http[0].static_response",
        "not supported",
    ),
]


@pytest.mark.parametrize(("text", "key", "fragment"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_manifest(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    err = load_error(tmp_path, text)
    assert err.key == key
    assert fragment in err.message
    assert err.file == tmp_path / "spin.toml"
    shown = str(err)
    assert shown.startswith(str(tmp_path / "spin.toml"))
    assert f": {key}: " in shown
    assert isinstance(err, EdgeError)


def test_every_bad_case_has_a_distinct_name() -> None:
    names = [c[0] for c in BAD]
    assert len(names) == len(set(names))


class TestErrorLocation:
    def test_line_of_a_component_key(self, tmp_path: Path) -> None:
        err = load_error(tmp_path, GOOD + 'key_value_stores = "default"\n')
        lines = (GOOD + 'key_value_stores = "default"\n').splitlines()
        assert err.line == len(lines)
        assert str(err).startswith(f"{tmp_path / 'spin.toml'}:{err.line}: ")

    def test_line_of_the_second_http_trigger(self, tmp_path: Path) -> None:
        text = (
            HEAD + COMPONENT + '\n[[trigger.http]]\nroute = "/a"\ncomponent = "web"\n'
            '\n[[trigger.http]]\nroute = "b"\ncomponent = "web"\n'
        )
        err = load_error(tmp_path, text)
        assert err.key == "trigger.http[1].route"
        assert text.splitlines()[err.line - 1] == 'route = "b"'  # type: ignore[operator]

    def test_missing_key_points_at_its_table(self, tmp_path: Path) -> None:
        text = HEAD + TRIGGER + '\n[component.web]\ndescription = "x"\n'
        err = load_error(tmp_path, text)
        assert text.splitlines()[err.line - 1] == "[component.web]"  # type: ignore[operator]

    def test_line_of_an_inline_table_entry(self, tmp_path: Path) -> None:
        text = GOOD + '\n[variables]\nok = { default = "x" }\ntoken = { secret = true }\n'
        err = load_error(tmp_path, text)
        assert text.splitlines()[err.line - 1].startswith("token =")  # type: ignore[operator]

    def test_multiline_strings_are_skipped(self, tmp_path: Path) -> None:
        text = (
            GOOD.replace('name = "app"', 'name = "app"\ndescription = """\nsource = 1\n"""')
            + "source2 = 1\n"
        )
        err = load_error(tmp_path, text)
        assert err.key == "component.web.source2"
        assert text.splitlines()[err.line - 1] == "source2 = 1"  # type: ignore[operator]


class TestFileProblems:
    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ManifestError) as info:
            load(tmp_path / "nope.toml")
        assert info.value.file == tmp_path / "nope.toml"
        assert "no such file" in str(info.value)
        assert str(info.value).startswith(str(tmp_path / "nope.toml"))

    def test_directory_without_spin_toml(self, tmp_path: Path) -> None:
        with pytest.raises(ManifestError, match="no such file") as info:
            load(tmp_path)
        assert info.value.file == tmp_path / "spin.toml"

    def test_toml_syntax_error_has_file_and_line(self, tmp_path: Path) -> None:
        text = GOOD + "broken = = 1\n"
        err = load_error(tmp_path, text)
        assert err.line == len(text.splitlines())
        assert err.key == ""
        assert "invalid TOML" in err.message
        assert str(err).startswith(f"{tmp_path / 'spin.toml'}:{err.line}: invalid TOML")

    def test_toml_error_at_the_end_of_the_file(self, tmp_path: Path) -> None:
        text = GOOD + 'description = "unterminated'
        err = load_error(tmp_path, text)
        assert "at the end of the file" in err.message
        assert err.line == len(text.splitlines())

    def test_duplicate_toml_table_is_a_syntax_error(self, tmp_path: Path) -> None:
        err = load_error(tmp_path, GOOD + COMPONENT)
        assert "invalid TOML" in err.message
        assert err.line is not None

    def test_not_utf8(self, tmp_path: Path) -> None:
        path = tmp_path / "spin.toml"
        path.write_bytes(GOOD.encode() + b"# \xff\xfe\n")
        with pytest.raises(ManifestError, match="not UTF-8"):
            load(path)

    def test_empty_file(self, tmp_path: Path) -> None:
        err = load_error(tmp_path, "")
        assert err.key == "spin_manifest_version"


class TestManifestError:
    def test_str_without_line(self) -> None:
        err = ManifestError(Path("spin.toml"), "component.todo.source", "file 'app.wasm' ...")
        assert str(err) == "spin.toml: component.todo.source: file 'app.wasm' ..."

    def test_str_with_line_and_without_key(self) -> None:
        err = ManifestError(Path("a/spin.toml"), "", "invalid TOML: x", line=3)
        assert str(err) == "a/spin.toml:3: invalid TOML: x"

    def test_survives_pickling(self) -> None:
        err = ManifestError(Path("spin.toml"), "trigger.http[1].route", "bad", line=9)
        again = pickle.loads(pickle.dumps(err))
        assert (again.file, again.key, again.message, again.line) == (
            err.file,
            err.key,
            err.message,
            err.line,
        )
        assert str(again) == str(err)


class TestNames:
    @pytest.mark.parametrize("name", ["web", "my-web", "web2", "a-b-c", "API", "api-V1"[:3]])
    def test_good_component_ids(self, name: str) -> None:
        assert kebab_problem(name) is None

    @pytest.mark.parametrize(
        ("name", "why"),
        [
            ("", "empty"),
            ("my_web", "not '_'"),
            ("1-2-3", "start with an ASCII letter"),
            ("web--x", "must not be empty"),
            ("-web", "must not be empty"),
            ("myWeb", "all lowercase or all UPPERCASE"),
            ("wéb", "only ASCII letters and digits"),
            ("a.b", "only ASCII letters and digits"),
        ],
    )
    def test_bad_component_ids(self, name: str, why: str) -> None:
        problem = kebab_problem(name)
        assert problem is not None and why in problem

    @pytest.mark.parametrize("name", ["api_key", "a", "key2", "db_url_v2"])
    def test_good_variable_names(self, name: str) -> None:
        assert lower_snake_problem(name) is None

    @pytest.mark.parametrize("name", ["API", "api-key", "key_1", "_a", "a_", "a__b", "a b"])
    def test_bad_variable_names(self, name: str) -> None:
        assert lower_snake_problem(name) is not None

    @pytest.mark.parametrize("label", ["default", "my-store", "my_store", "STORE", "s3"])
    def test_good_labels(self, label: str) -> None:
        assert label_problem(label) is None

    @pytest.mark.parametrize("label", ["", "my store", "my-store_x", "1st", "a/b"])
    def test_bad_labels(self, label: str) -> None:
        assert label_problem(label) is not None

    def test_uppercase_words_are_fine_unless_lower(self) -> None:
        assert id_problem("API_KEY", "_", lower=False) is None
        assert id_problem("API_KEY", "_", lower=True) is not None


def test_format_key() -> None:
    assert format_key(("trigger", "http", 1, "route")) == "trigger.http[1].route"
    assert (
        format_key(("component", "web", "environment", "A.B")) == 'component.web.environment."A.B"'
    )
    assert format_key(()) == ""


def test_manifest_can_be_built_by_hand(tmp_path: Path) -> None:
    m = Manifest(
        path=tmp_path / "spin.toml",
        root=tmp_path,
        name="x",
        http_triggers=[HttpTrigger("/a", "c")],
        base="/api/",
    )
    assert m.routes() == [("/api/a", "c")]
