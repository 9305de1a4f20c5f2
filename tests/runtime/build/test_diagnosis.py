"""Finding the user's file and line in a failed build's output (runtime/build/diagnosis.py).

The outputs are componentize-py's, as it prints them (guest paths /0/ and /1/,
the guest's traceback inside an AssertionError, a Rust backtrace when
RUST_BACKTRACE is set); tests/e2e/test_build_progress.py fails real builds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.build.diagnosis import (
    Location,
    guest_paths_to_host,
    locate,
    shown_path,
    without_backtrace,
)

IMPORT_FAILURE = """Traceback (most recent call last):
  File "<string>", line 1, in <module>
AssertionError: Traceback (most recent call last):
  File "/1/edge_entry.py", line 3, in <module>
    import app  # noqa: F401  (registers the app's handlers)
    ^^^^^^^^^^
  File "/0/app.py", line 1, in <module>
    import helpers
  File "/0/helpers.py", line 4, in <module>
    from framework import http_component, nope
ImportError: cannot import name 'nope' from 'framework' (/1/framework/__init__.py)


Caused by:
    ImportError: cannot import name 'nope' from 'framework' (/1/framework/__init__.py)

Stack backtrace:
   0: <anyhow::Error>::msg::<alloc::string::String>
   1: anyhow::__private::format_err
  10: cfunction_vectorcall_NOARGS
             at /tmp/python-build/Python-3.11.7/Objects/methodobject.c:486:24
  28: _start
"""

SYNTAX_TRACEBACK = """Traceback (most recent call last):
  File "/1/edge_entry.py", line 3, in <module>
    import app
  File "/0/app.py", line 7
    def broken(:
               ^
SyntaxError: invalid syntax
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    for name in ("app.py", "helpers.py"):
        (tmp_path / name).write_text("x = 1\n")
    return tmp_path


def test_the_deepest_frame_in_the_app_and_the_exception(app: Path) -> None:
    found = locate(IMPORT_FAILURE, app)
    assert found == Location(
        (app / "helpers.py").resolve(),
        4,
        "ImportError: cannot import name 'nope' from 'framework' (/1/framework/__init__.py)",
    )


def test_a_syntax_error_traceback(app: Path) -> None:
    found = locate(SYNTAX_TRACEBACK, app)
    assert found is not None
    assert (found.file.name, found.line, found.error) == (
        "app.py",
        7,
        "SyntaxError: invalid syntax",
    )


def test_the_import_checks_lines(app: Path) -> None:
    output = (
        "error: the app cannot be built into a component:\n"
        f"  {app / 'app.py'}:3: error: SyntaxError: invalid syntax\n"
    )
    found = locate(output, app)
    assert found is not None and (found.line, found.error) == (3, "SyntaxError: invalid syntax")
    native = f"  {app}/helpers.py:2: error: import of 'ctypes': needs the _ctypes native module"
    found = locate(native, app)
    assert found is not None and found.file.name == "helpers.py" and found.line == 2


def test_nothing_in_the_app_is_no_location(
    app: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "lib.py").write_text("")
    outside = (
        f'Traceback (most recent call last):\n  File "{elsewhere}/lib.py", line 1\nValueError: x\n'
    )
    assert locate(outside, app) is None
    assert locate("error: something else broke\n", app) is None
    assert locate('  File "/0/missing.py", line 2\nNameError: y\n', app) is None


def test_a_traceback_already_on_host_paths(app: Path) -> None:
    host = guest_paths_to_host(IMPORT_FAILURE, {"/0/": app})
    assert f'File "{app}/helpers.py", line 4' in host
    assert '"/1/edge_entry.py"' in host  # only the app's mount is mapped
    found = locate(host, app)
    assert found is not None and found.file == (app / "helpers.py").resolve()


def test_the_rust_backtrace_is_dropped() -> None:
    kept = without_backtrace(IMPORT_FAILURE + "error: the next message\n")
    assert "Stack backtrace" not in kept and "anyhow" not in kept and "_start" not in kept
    assert "Caused by:" in kept and kept.endswith("error: the next message")


def test_paths_are_shown_relative_inside_the_current_folder(
    app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(app)
    assert shown_path(app / "helpers.py") == "helpers.py"
    assert str(Location(app / "app.py", 3, "SyntaxError: x")) == "app.py:3: SyntaxError: x"
    monkeypatch.chdir(app / "..")
    assert shown_path(app / "app.py") == f"{app.name}/app.py"
    (app / "sub").mkdir()
    monkeypatch.chdir(app / "sub")
    assert shown_path(app / "app.py") == str(app / "app.py")  # outside: absolute
