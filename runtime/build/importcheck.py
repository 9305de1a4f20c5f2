"""Find imports that cannot work inside a component, before spending a build on them.

The guest runs CPython compiled for WASI (by componentize-py): there are no
native extension modules beyond what that build bundles, no processes, no raw
sockets and no filesystem unless the host grants one. A clear message before
the build beats a traceback from a pre-initialisation step.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Measured: these fail with ModuleNotFoundError inside a componentize-py 0.25 guest.
MISSING_IN_GUEST = {
    "ctypes": "needs the _ctypes native module, not built for WASI",
    "ssl": "needs OpenSSL, not built for WASI (use wasi:http for HTTPS)",
    "tkinter": "GUI toolkit, not available in a component",
    "turtle": "GUI toolkit, not available in a component",
    "curses": "terminal UI, not available in a component",
    "readline": "terminal input, not available in a component",
    "mmap": "not available on WASI",
    "fcntl": "not available on WASI",
    "termios": "not available on WASI",
    "pty": "not available on WASI",
    "tty": "not available on WASI",
    "pwd": "not available on WASI",
    "grp": "not available on WASI",
    "resource": "not available on WASI",
    "lzma": "needs the _lzma native module, not built for WASI",
    "bz2": "needs the _bz2 native module, not built for WASI",
    "crypt": "not available in the guest's CPython",
    "audioop": "not available in the guest's CPython",
    "telnetlib": "not available in the guest's CPython",
}

# These import, but fail when used: a component cannot start processes or threads
# or open sockets, and has no files of its own.
UNUSABLE_IN_GUEST = {
    "subprocess": "a component cannot start processes",
    "multiprocessing": "a component cannot start processes",
    "concurrent": "a component cannot start threads or processes",
    "socket": "a component has no raw sockets (use wasi:http outbound requests)",
    "sqlite3": "a component has no files: use framework.turso for SQL",
}

# The framework itself and the bindings componentize-py generates at build time.
PROVIDED = {"framework", "wit_world", "componentize_py_types", "componentize_py_async_support"}


@dataclass(frozen=True)
class ImportProblem:
    module: str
    file: Path
    line: int
    reason: str
    fatal: bool

    def __str__(self) -> str:
        kind = "error" if self.fatal else "warning"
        if not self.module:  # a problem of the file itself (a syntax error)
            return f"{self.file}:{self.line}: {kind}: {self.reason}"
        return f"{self.file}:{self.line}: {kind}: import of {self.module!r}: {self.reason}"


Imports = list[tuple[str, int, int]]

LATE_IMPORT = (
    "imported inside a function: the component holds only the modules imported while "
    "the app loads, so this import fails when it runs; move it to the top of the file"
)


def _imports(path: Path) -> Imports:
    """(module, line, relative level) for every import statement in a file."""
    return [(m, line, level) for m, line, level, _late in _scan(path)]


def _scan(path: Path) -> list[tuple[str, int, int, bool]]:
    """Imports with a flag telling whether they sit inside a function body."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[str, int, int, bool]] = []

    def visit(node: ast.AST, late: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno, 0, late) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.lineno, node.level, late))
        inner = late or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return found


def late_imports(entry: Path, app_dir: Path) -> list[ImportProblem]:
    """Imports inside functions of modules that nothing imports when the app loads."""
    files = [
        path
        for path, imports in _app_modules(entry, app_dir)
        if not isinstance(imports, SyntaxError)
    ]
    scanned = {path: _scan(path) for path in files}
    early = {
        m.split(".")[0]
        for found in scanned.values()
        for m, _, lv, late in found
        if not late and not lv
    }
    early |= PROVIDED
    return [
        ImportProblem(module, path, line, LATE_IMPORT, False)
        for path, found in scanned.items()
        for module, line, level, late in found
        if late and not level and module.split(".")[0] not in early
    ]


def _local_file(name: str, app_dir: Path) -> Path | None:
    parts = name.split(".")
    base = app_dir.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _third_party_problem(top: str) -> tuple[str, bool] | None:
    spec = importlib.util.find_spec(top)
    if spec is None:
        return "not installed, and not a module of the app", True
    origin = spec.origin or ""
    if origin.endswith((".so", ".pyd", ".dylib")):
        return "a native extension module: it cannot run in a component", True
    locations = list(spec.submodule_search_locations or [])
    for location in locations:
        if any(Path(location).rglob("*.so")):
            return "a package with native extension modules: it cannot run in a component", True
    return None


def _app_modules(entry: Path, app_dir: Path) -> Iterator[tuple[Path, Imports | SyntaxError]]:
    """The entry and every app-local module it imports, transitively, with their imports."""
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        try:
            imports = _imports(path)
        except SyntaxError as exc:
            yield path, exc
            continue
        yield path, imports
        for module, _line, level in imports:
            if level and (local := _local_file(module, path.parent)) is not None:
                todo.append(local)
            elif not level:
                top = module.split(".")[0]
                local = _local_file(module, app_dir) or _local_file(top, app_dir)
                if local is not None:
                    todo.append(local)


def app_files(entry: Path, app_dir: Path) -> list[Path]:
    """The entry and every app-local module it imports that parses (for other scans)."""
    return [
        path
        for path, imports in _app_modules(entry, app_dir)
        if not isinstance(imports, SyntaxError)
    ]


def _external(module: str, level: int, app_dir: Path) -> str | None:
    """The top-level name of an import that the app does not provide itself."""
    top = module.split(".")[0]
    if level or not top or top in PROVIDED or _local_file(top, app_dir) is not None:
        return None
    return top


def check_app(entry: Path, app_dir: Path) -> list[ImportProblem]:
    """Problems in `entry` and every app-local module it imports."""
    problems: list[ImportProblem] = []
    for path, imports in _app_modules(entry, app_dir):
        if isinstance(imports, SyntaxError):
            reason = f"SyntaxError: {imports.msg}"
            problems.append(ImportProblem("", path, imports.lineno or 0, reason, True))
            continue
        for module, line, level in imports:
            top = _external(module, level, app_dir)
            if top is None:
                continue
            if top in MISSING_IN_GUEST:
                problems.append(ImportProblem(module, path, line, MISSING_IN_GUEST[top], True))
            elif top in UNUSABLE_IN_GUEST:
                problems.append(ImportProblem(module, path, line, UNUSABLE_IN_GUEST[top], False))
            elif top in sys.stdlib_module_names or top == "__future__":
                continue
            elif (issue := _third_party_problem(top)) is not None:
                problems.append(ImportProblem(module, path, line, issue[0], issue[1]))
    problems += late_imports(entry, app_dir)
    return sorted(problems, key=lambda p: (str(p.file), p.line))


def third_party_sources(entry: Path, app_dir: Path) -> list[Path]:
    """Installed pure-Python modules/packages the app imports, to stage for the build.

    Only these are copied next to the app: pointing the build at all of
    site-packages would bundle every installed package into the component.
    """
    sources: list[Path] = []
    for _path, imports in _app_modules(entry, app_dir):
        if isinstance(imports, SyntaxError):
            continue
        for module, _line, level in imports:
            top = _external(module, level, app_dir)
            if top is None or top in sys.stdlib_module_names or top == "__future__":
                continue
            spec = importlib.util.find_spec(top)
            if spec is None or not spec.origin or spec.origin in ("built-in", "frozen"):
                continue
            source = Path(spec.origin)
            source = source.parent if spec.submodule_search_locations else source
            if source not in sources:
                sources.append(source)
    return sources
