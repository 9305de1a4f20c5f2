"""`edge new`'s templates and renderer: the catalog, names, refusals, broken templates.

The real thing (each template built by componentize-py and its own test run)
is tests/e2e/test_templates.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runtime.app.manifest import load
from runtime.cli import main
from runtime.templates import FILES_DIR, TemplateError, create_app, find_template, templates

ROOT = Path(__file__).resolve().parents[3]
NAMES = ["cron", "http-kv", "http-turso", "multi-region", "redis"]


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_every_template_is_listed_with_a_description() -> None:
    found = templates()
    assert [t.name for t in found] == NAMES
    for template in found:
        assert template.description and "\n" not in template.description
        names = {f.name for f in template.files()}
        assert {"spin.toml.tmpl", "app.py.tmpl", "README.md.tmpl"} <= names
        assert any(n.startswith("test_") for n in names)


@pytest.mark.parametrize("template", NAMES)
def test_a_rendered_app_is_a_spin_app_named_after_name(template: str, tmp_path: Path) -> None:
    created = create_app(find_template(template), "shop-api", tmp_path / "shop")
    assert created.directory == tmp_path / "shop"
    assert sorted(str(f) for f in created.files) == [
        "README.md",
        "app.py",
        "spin.toml",
        "test_shop_api.py",
    ]
    manifest = load(tmp_path / "shop" / "spin.toml")
    assert manifest.name == "shop-api"
    assert list(manifest.components) == ["shop-api"]
    component = manifest.components["shop-api"]
    assert component.source == (tmp_path / "shop" / "shop-api.wasm").resolve()
    assert component.build is not None
    assert component.build.command == "edge componentize app -o shop-api.wasm"
    assert list(component.build.watch) == ["**/*.py"]
    for path in created.files:
        text = (tmp_path / "shop" / path).read_text()
        assert "{{edge:" not in text
        if path.suffix == ".py":
            compile(text, str(path), "exec")  # a SyntaxError fails the test
    readme = (tmp_path / "shop" / "README.md").read_text()
    assert "edge build" in readme and "edge up" in readme and "test_shop_api.py" in readme


def test_spin_variables_pass_through(tmp_path: Path) -> None:
    create_app(find_template("redis"), "inbox", tmp_path / "inbox")
    text = (tmp_path / "inbox" / "spin.toml").read_text()
    assert 'address = "{{ redis_address }}"' in text
    manifest = load(tmp_path / "inbox" / "spin.toml")
    assert [t.component for t in manifest.redis_triggers] == ["inbox"]


def test_the_default_directory_is_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    created = create_app(find_template("cron"), "ticker")
    assert created.directory == Path("ticker")
    assert (tmp_path / "ticker" / "spin.toml").is_file()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("My_App", "separated with '-'"),
        ("", "must not be empty"),
        ("1app", "must start with an ASCII letter"),
        ("my--app", "must not be empty"),
        ("caf\u00e9", "only ASCII letters and digits"),
        ("MyApp", "all lowercase or all UPPERCASE"),
        ("../up", "must start with an ASCII letter"),
        ("up/../x", "only ASCII letters and digits"),
    ],
)
def test_an_invalid_name_is_refused_before_anything_is_written(
    name: str, reason: str, tmp_path: Path
) -> None:
    with pytest.raises(TemplateError, match="invalid application name") as refused:
        create_app(find_template("http-kv"), name, tmp_path / "app")
    assert reason in str(refused.value)
    assert "component id" in str(refused.value)
    assert not (tmp_path / "app").exists()


def test_an_unknown_template_names_the_known_ones() -> None:
    with pytest.raises(TemplateError) as refused:
        find_template("http-kvv")
    message = str(refused.value)
    assert "'http-kvv'" in message
    assert "cron, http-kv, http-turso, multi-region, redis" in message


def test_a_non_empty_directory_is_refused_and_left_alone(tmp_path: Path) -> None:
    target = _write(tmp_path / "app", {"notes.txt": "mine"})
    with pytest.raises(TemplateError, match="exists and is not empty"):
        create_app(find_template("http-kv"), "app", target)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(TemplateError, match="is not a directory"):
        create_app(find_template("http-kv"), "app", tmp_path / "file")


def test_an_empty_directory_is_filled(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    created = create_app(find_template("http-kv"), "app", tmp_path / "app")
    assert (tmp_path / "app" / "spin.toml").is_file() and len(created.files) == 4


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ({"a.txt.tmpl": "{{edge:nmae}}"}, "a.txt.tmpl: unknown placeholder {{edge:nmae}}"),
        ({"a.txt.tmpl": "ok\n{{ edge:name }}"}, "a.txt.tmpl, line 2: malformed placeholder"),
        ({"{{edge:oops}}.py.tmpl": ""}, "unknown placeholder {{edge:oops}}"),
        ({"a.txt.tmpl": "", "a.txt": ""}, "renders to a.txt, as another file does"),
    ],
)
def test_a_broken_template_writes_nothing(
    files: dict[str, str], error: str, tmp_path: Path
) -> None:
    root = _write(tmp_path / "templates" / "broken", {"template.toml": 'description = "x"'})
    _write(root, {"ok.txt.tmpl": "{{edge:name}}", **files})
    template = find_template("broken", tmp_path / "templates")
    with pytest.raises(TemplateError, match="template 'broken'") as refused:
        create_app(template, "app", tmp_path / "out")
    assert error in str(refused.value)
    assert not (tmp_path / "out").exists()


def test_a_template_without_a_description_is_broken(tmp_path: Path) -> None:
    _write(tmp_path / "t" / "bare", {"template.toml": "", "a.tmpl": ""})
    with pytest.raises(TemplateError, match="has no description"):
        templates(tmp_path / "t")
    _write(tmp_path / "u" / "bad", {"template.toml": "description = ", "a.tmpl": ""})
    with pytest.raises(TemplateError, match="is broken"):
        templates(tmp_path / "u")


def _edge(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(argv)
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def test_edge_new_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _edge(["new", "--list"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == NAMES
    assert all(len(line.split(None, 1)[1]) > 20 for line in lines)


def test_edge_new_creates_and_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = _edge(["new", "multi-region", "geo"], capsys)
    assert code == 0
    assert "created multi-region app 'geo' in geo" in out
    assert "cd geo" in out and "python -m pytest test_geo.py" in out
    assert (tmp_path / "geo" / "test_geo.py").is_file()

    code, _, err = _edge(["new", "multi-region", "geo"], capsys)
    assert code == 1 and "geo exists and is not empty" in err
    code, _, err = _edge(["new", "nope", "x"], capsys)
    assert code == 1 and "no template 'nope'" in err and "http-turso" in err
    code, _, err = _edge(["new", "cron", "Bad_Name", "--dir", "elsewhere"], capsys)
    assert code == 1 and "invalid application name 'Bad_Name'" in err
    assert not (tmp_path / "elsewhere").exists()
    code, _, err = _edge(["new", "cron"], capsys)
    assert code == 1 and "usage: edge new TEMPLATE NAME" in err
    code, _, _ = _edge(["new", "cron", "tick", "--dir", "jobs/tick"], capsys)
    assert code == 0 and (tmp_path / "jobs" / "tick" / "spin.toml").is_file()


def test_the_templates_are_package_data(tmp_path: Path) -> None:
    """What setuptools puts in a wheel or an install (build_py of pyproject's config)."""
    build_lib, egg_base = tmp_path / "lib", tmp_path / "egg"
    egg_base.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "-q"]
        + ["egg_info", "--egg-base", str(egg_base), "build_py", "--build-lib", str(build_lib)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    installed = build_lib / "runtime" / "templates" / "files"
    for template in templates():
        for relative in [*template.files(), Path("template.toml")]:
            assert (installed / template.name / relative).is_file(), relative
    assert templates(installed) == [
        type(t)(t.name, t.description, installed / t.name) for t in templates(FILES_DIR)
    ]
