"""Tests of runtime.app.variables: Spin's templates, names and the env provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.app.manifest import loads
from runtime.app.model import ComponentSpec, Manifest, VariableDecl
from runtime.app.variables import (
    Expr,
    InvalidVariableName,
    MissingRequiredVariables,
    Template,
    TemplateError,
    UndefinedVariable,
    VariableProviderError,
    VariableResolver,
    check_name,
    env_key,
    name_problem,
)
from runtime.errors import EdgeError

MANIFEST = """\
spin_manifest_version = 2

[application]
name = "app"

[variables]
api_host = { default = "api.example.com" }
api_version = { default = "v1" }
token = { required = true, secret = true }
unused_secret = { required = true }

[[trigger.http]]
route = "/api/..."
component = "api"

[[trigger.http]]
route = "/..."
component = "web"

[component.api]
source = "api.wasm"

[component.api.variables]
base_url = "https://{{ api_host }}/{{api_version}}/"
auth = "Bearer {{ token }}"
plain = "no templates here"
braces = "a }} b"

[component.web]
source = "web.wasm"

[component.web.variables]
host = "{{ api_host }}"
"""


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    return loads(MANIFEST, tmp_path / "spin.toml")


def resolver(
    manifest: Manifest, env: dict[str, str] | None = None, dotenv: Path | None = None
) -> VariableResolver:
    return VariableResolver(manifest, env or {}, dotenv_path=dotenv)


class TestNames:
    @pytest.mark.parametrize("name", ["a", "api_key", "key1", "key_1", "a1_b2", "x9"])
    def test_valid(self, name: str) -> None:
        assert name_problem(name) is None
        check_name(name)

    @pytest.mark.parametrize(
        ("name", "why"),
        [
            ("", "must not be empty"),
            ("API_KEY", "invalid character 'A'"),
            ("api-key", "invalid character '-'"),
            ("api key", "invalid character ' '"),
            ("1key", "must start with a lowercase ASCII letter"),
            ("_key", "must start with a lowercase ASCII letter"),
            ("key_", "must end with a lowercase ASCII letter or a digit"),
            ("a__b", "two underscores in a row"),
            ("clé", "invalid character 'é'"),
        ],
    )
    def test_invalid(self, name: str, why: str) -> None:
        problem = name_problem(name)
        assert problem is not None and why in problem
        with pytest.raises(InvalidVariableName) as info:
            check_name(name)
        assert info.value.name == name
        assert why in str(info.value)
        assert str(info.value).startswith(f'"{name}": ')

    def test_env_key_is_prefix_and_uppercase_name(self) -> None:
        assert env_key("api_key") == "SPIN_VARIABLE_API_KEY"
        assert env_key("token2", "MY") == "MY_TOKEN2"
        assert env_key("x", "") == "X"


class TestTemplate:
    @pytest.mark.parametrize(
        ("text", "parts"),
        [
            ("", ()),
            ("plain", ("plain",)),
            ("a-{{ expr }}-b", ("a-", Expr("expr"), "-b")),
            ("{{ one }}{{ two }}", (Expr("one"), Expr("two"))),
            ("{{tight}}", (Expr("tight"),)),
            ("{{ \t spaced\n }}", (Expr("spaced"),)),
            ("a }} b", ("a }} b",)),
            ("{ single }", ("{ single }",)),
            # No escaping, as in Spin: the expression ends at the first "}}".
            ("{{{ x }}}", (Expr("{ x"), "}")),
            ("{{ }}", (Expr(""),)),
        ],
    )
    def test_parse(self, text: str, parts: tuple[str | Expr, ...]) -> None:
        template = Template.parse(text)
        assert template.parts == parts
        assert template.source == text

    @pytest.mark.parametrize("text", ["{{ open", "ok {{ x }} then {{ y", "{{", "a {{ b }"])
    def test_unmatched_braces(self, text: str) -> None:
        with pytest.raises(TemplateError, match="unmatched '{{'"):
            Template.parse(text)

    def test_references_are_unique_and_in_order(self) -> None:
        template = Template.parse("{{ b }}-{{ a }}-{{ b }}")
        assert template.references == ("b", "a")
        assert not template.is_literal
        assert Template.parse("x").is_literal

    def test_render(self) -> None:
        values = {"host": "h.test", "v": "2"}
        assert Template.parse("https://{{ host }}/v{{v}}").render(values.__getitem__) == (
            "https://h.test/v2"
        )


class TestResolve:
    def test_defaults_fill_the_template(self, manifest: Manifest) -> None:
        r = resolver(manifest)
        assert r.resolve("api", "base_url") == "https://api.example.com/v1/"
        assert r.resolve("web", "host") == "api.example.com"

    def test_literal_values(self, manifest: Manifest) -> None:
        r = resolver(manifest)
        assert r.resolve("api", "plain") == "no templates here"
        assert r.resolve("api", "braces") == "a }} b"

    def test_environment_overrides_a_default(self, manifest: Manifest) -> None:
        r = resolver(manifest, {"SPIN_VARIABLE_API_HOST": "staging.test"})
        assert r.resolve("api", "base_url") == "https://staging.test/v1/"
        assert r.resolve("web", "host") == "staging.test"

    def test_environment_gives_a_required_value(self, manifest: Manifest) -> None:
        r = resolver(manifest, {"SPIN_VARIABLE_TOKEN": "s3cret"})
        assert r.resolve("api", "auth") == "Bearer s3cret"

    def test_empty_environment_value_counts(self, manifest: Manifest) -> None:
        r = resolver(manifest, {"SPIN_VARIABLE_API_VERSION": ""})
        assert r.resolve("api", "base_url") == "https://api.example.com//"

    def test_environment_is_read_at_each_call(self, manifest: Manifest) -> None:
        env: dict[str, str] = {}
        r = VariableResolver(manifest, env, dotenv_path=None)
        assert r.resolve("web", "host") == "api.example.com"
        env["SPIN_VARIABLE_API_HOST"] = "later.test"
        assert r.resolve("web", "host") == "later.test"

    def test_lowercase_env_key_is_not_read(self, manifest: Manifest) -> None:
        r = resolver(manifest, {"spin_variable_api_host": "nope"})
        assert r.resolve("web", "host") == "api.example.com"

    def test_custom_prefix(self, manifest: Manifest) -> None:
        r = VariableResolver(manifest, {"APP_API_HOST": "p.test"}, dotenv_path=None, prefix="APP")
        assert r.resolve("web", "host") == "p.test"

    def test_required_without_value_is_a_provider_error(self, manifest: Manifest) -> None:
        r = resolver(manifest)
        with pytest.raises(VariableProviderError) as info:
            r.resolve("api", "auth")
        assert '"token"' in str(info.value)
        assert "SPIN_VARIABLE_TOKEN" in str(info.value)

    @pytest.mark.parametrize("name", ["BASE_URL", "base-url", "1x", "x_", "a__b", ""])
    def test_invalid_names_are_rejected_before_lookup(self, manifest: Manifest, name: str) -> None:
        with pytest.raises(InvalidVariableName) as info:
            resolver(manifest).resolve("api", name)
        assert info.value.name == name

    def test_name_the_component_does_not_declare(self, manifest: Manifest) -> None:
        with pytest.raises(UndefinedVariable) as info:
            resolver(manifest).resolve("api", "nothing")
        assert info.value.name == "nothing"
        assert info.value.component_id == "api"
        assert str(info.value) == 'no variable "nothing" for component "api"'

    def test_application_variables_are_not_visible_directly(self, manifest: Manifest) -> None:
        # A component sees only its own [component.x.variables] names.
        with pytest.raises(UndefinedVariable):
            resolver(manifest, {"SPIN_VARIABLE_API_HOST": "x"}).resolve("web", "api_host")

    def test_another_components_variable_is_undefined(self, manifest: Manifest) -> None:
        with pytest.raises(UndefinedVariable):
            resolver(manifest).resolve("web", "base_url")

    def test_unknown_component(self, manifest: Manifest) -> None:
        with pytest.raises(UndefinedVariable) as info:
            resolver(manifest).resolve("ghost", "host")
        assert info.value.component_id == "ghost"

    def test_resolve_all(self, manifest: Manifest) -> None:
        r = resolver(manifest, {"SPIN_VARIABLE_TOKEN": "t"})
        assert r.resolve_all("web") == {"host": "api.example.com"}
        assert r.resolve_all("api")["auth"] == "Bearer t"
        assert r.resolve_all("ghost") == {}

    def test_errors_are_edge_errors(self) -> None:
        for exc in (InvalidVariableName("X"), UndefinedVariable("x"), VariableProviderError("p")):
            assert isinstance(exc, EdgeError)

    def test_hand_made_manifest_with_a_bad_template(self, tmp_path: Path) -> None:
        spec = ComponentSpec(id="c", source=tmp_path / "c.wasm", variables={"x": "{{ oops"})
        m = Manifest(
            path=tmp_path / "spin.toml",
            root=tmp_path,
            name="m",
            components={"c": spec},
            variables={"oops": VariableDecl("oops", "1")},
        )
        with pytest.raises(EdgeError, match="component 'c': variable 'x': unmatched"):
            VariableResolver(m, {}, dotenv_path=None)

    def test_app_value(self, manifest: Manifest) -> None:
        r = resolver(manifest, {"SPIN_VARIABLE_TOKEN": "t"})
        assert r.app_value("token") == "t"
        assert r.app_value("api_version") == "v1"
        with pytest.raises(UndefinedVariable):
            r.app_value("not_declared")


class TestDotenv:
    def test_dotenv_gives_values(self, manifest: Manifest, tmp_path: Path) -> None:
        dotenv = tmp_path / ".env"
        dotenv.write_text(
            "# comment\nSPIN_VARIABLE_TOKEN=from-dotenv\n"
            "export SPIN_VARIABLE_API_HOST='quoted.test'\n"
        )
        r = resolver(manifest, {}, dotenv)
        assert r.resolve("api", "auth") == "Bearer from-dotenv"
        assert r.resolve("web", "host") == "quoted.test"

    def test_environment_wins_over_dotenv(self, manifest: Manifest, tmp_path: Path) -> None:
        dotenv = tmp_path / ".env"
        dotenv.write_text("SPIN_VARIABLE_TOKEN=from-dotenv\n")
        r = resolver(manifest, {"SPIN_VARIABLE_TOKEN": "from-env"}, dotenv)
        assert r.resolve("api", "auth") == "Bearer from-env"

    def test_missing_dotenv_file_is_empty(self, manifest: Manifest, tmp_path: Path) -> None:
        r = resolver(manifest, {}, tmp_path / "absent.env")
        assert r.resolve("web", "host") == "api.example.com"

    def test_default_dotenv_is_dot_env_in_the_current_directory(
        self, manifest: Manifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        workdir = tmp_path / "cwd"
        workdir.mkdir()
        (workdir / ".env").write_text("SPIN_VARIABLE_API_HOST=cwd.test\n")
        monkeypatch.chdir(workdir)
        r = VariableResolver(manifest, {})
        monkeypatch.chdir(tmp_path)  # the file was fixed when the resolver was made
        assert r.resolve("web", "host") == "cwd.test"

    def test_no_dotenv(
        self, manifest: Manifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (tmp_path / ".env").write_text("SPIN_VARIABLE_API_HOST=cwd.test\n")
        monkeypatch.chdir(tmp_path)
        r = VariableResolver(manifest, {}, dotenv_path=None)
        assert r.resolve("web", "host") == "api.example.com"

    def test_dotenv_is_read_once(self, manifest: Manifest, tmp_path: Path) -> None:
        dotenv = tmp_path / ".env"
        dotenv.write_text("SPIN_VARIABLE_API_HOST=first.test\n")
        r = resolver(manifest, {}, dotenv)
        assert r.resolve("web", "host") == "first.test"
        dotenv.write_text("SPIN_VARIABLE_API_HOST=second.test\n")
        assert r.resolve("web", "host") == "first.test"


class TestCheckRequired:
    def test_missing_required_variable(self, manifest: Manifest) -> None:
        with pytest.raises(MissingRequiredVariables) as info:
            resolver(manifest).check_required(["api", "web"])
        message = str(info.value)
        assert info.value.names == ["token"]
        assert "'token'" in message and "SPIN_VARIABLE_TOKEN" in message
        assert "'api'" in message
        assert isinstance(info.value, EdgeError)

    def test_satisfied_by_environment(self, manifest: Manifest) -> None:
        resolver(manifest, {"SPIN_VARIABLE_TOKEN": "t"}).check_required(["api", "web"])

    def test_satisfied_by_dotenv(self, manifest: Manifest, tmp_path: Path) -> None:
        dotenv = tmp_path / ".env"
        dotenv.write_text("SPIN_VARIABLE_TOKEN=t\n")
        resolver(manifest, {}, dotenv).check_required(["api"])

    def test_only_the_given_components_count(self, manifest: Manifest) -> None:
        # "web" uses no required variable; "unused_secret" is used by nobody.
        resolver(manifest).check_required(["web"])
        resolver(manifest).check_required([])

    def test_every_missing_variable_is_listed(self, tmp_path: Path) -> None:
        text = MANIFEST.replace('host = "{{ api_host }}"', 'host = "{{ unused_secret }}"')
        with pytest.raises(MissingRequiredVariables) as info:
            resolver(loads(text, tmp_path / "spin.toml")).check_required(["api", "web"])
        assert info.value.names == ["token", "unused_secret"]
        assert "SPIN_VARIABLE_UNUSED_SECRET" in str(info.value)

    def test_unknown_component(self, manifest: Manifest) -> None:
        with pytest.raises(EdgeError, match="no component 'ghost'"):
            resolver(manifest, {"SPIN_VARIABLE_TOKEN": "t"}).check_required(["ghost"])
