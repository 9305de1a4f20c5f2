"""The pre-build check of what an app imports."""

from __future__ import annotations

from pathlib import Path

from runtime.build.importcheck import check_app, third_party_sources


def _app(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "app.py"


def test_clean_app_has_no_problems(tmp_path: Path) -> None:
    entry = _app(
        tmp_path,
        {
            "app.py": "import json\nfrom framework import http_component\nimport helpers\n",
            "helpers.py": "import re\nfrom . import app\n",
        },
    )
    assert check_app(entry, tmp_path) == []


def test_modules_missing_from_the_guest_are_errors(tmp_path: Path) -> None:
    entry = _app(tmp_path, {"app.py": "import json\nimport ctypes\nfrom ssl import SSLContext\n"})
    problems = check_app(entry, tmp_path)
    assert [(p.module, p.line, p.fatal) for p in problems] == [
        ("ctypes", 2, True),
        ("ssl", 3, True),
    ]
    assert "_ctypes" in problems[0].reason


def test_local_modules_are_followed(tmp_path: Path) -> None:
    entry = _app(
        tmp_path, {"app.py": "import lib.db\n", "lib/__init__.py": "", "lib/db.py": "import mmap\n"}
    )
    problems = check_app(entry, tmp_path)
    assert [(p.module, p.file.name) for p in problems] == [("mmap", "db.py")]


def test_unusable_modules_are_warnings(tmp_path: Path) -> None:
    entry = _app(tmp_path, {"app.py": "import subprocess\n"})
    [problem] = check_app(entry, tmp_path)
    assert not problem.fatal and "processes" in problem.reason


def test_native_and_missing_packages(tmp_path: Path) -> None:
    entry = _app(tmp_path, {"app.py": "import msgpack\nimport not_a_real_package_xyz\n"})
    problems = {p.module: p for p in check_app(entry, tmp_path)}
    assert problems["not_a_real_package_xyz"].fatal
    assert "not installed" in problems["not_a_real_package_xyz"].reason
    # msgpack ships a compiled extension next to its pure-Python fallback.
    assert "native extension" in problems["msgpack"].reason


def test_imports_inside_functions_are_flagged(tmp_path: Path) -> None:
    entry = _app(
        tmp_path, {"app.py": "import json\n\ndef f():\n    import colorsys\n    import json\n"}
    )
    [problem] = check_app(entry, tmp_path)
    assert problem.module == "colorsys" and problem.line == 4 and not problem.fatal


def test_syntax_error_is_reported_with_its_line(tmp_path: Path) -> None:
    entry = _app(tmp_path, {"app.py": "x = 1\ndef broken(:\n"})
    [problem] = check_app(entry, tmp_path)
    assert problem.fatal and problem.line == 2


def test_third_party_pure_python_is_staged(tmp_path: Path) -> None:
    entry = _app(tmp_path, {"app.py": "import json\nimport starlette\n"})
    sources = third_party_sources(entry, tmp_path)
    assert [s.name for s in sources] == ["starlette"]
