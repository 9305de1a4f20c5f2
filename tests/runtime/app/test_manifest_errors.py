"""How manifest errors are reported: key lines, unreadable files, ManifestError itself."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from runtime.app.manifest import load
from runtime.errors import ManifestError

from .manifest_helpers import COMPONENT, GOOD, HEAD, TRIGGER, load_error
from .test_manifest_application import BAD as APPLICATION_CASES
from .test_manifest_components import BAD as COMPONENT_CASES
from .test_manifest_triggers import BAD as TRIGGER_CASES


def test_every_bad_case_has_a_distinct_name() -> None:
    names = [c[0] for c in APPLICATION_CASES + COMPONENT_CASES + TRIGGER_CASES]
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
