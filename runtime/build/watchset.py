"""What `edge up --watch` watches, read from the manifest as `spin watch` reads it.

- A component's `[component.x.build] watch` globs, relative to its `workdir`
  (else the manifest's directory): a change there rebuilds that component.
- A component without a build: its source `.wasm`; a change there swaps it in
  without building.
- A component with a build but no `watch`: nothing (Spin warns the same way).
- The manifest itself: every component is built again (those whose inputs
  changed), as Spin does.

Never a trigger: a component's build output and its stamp, the state
directory, editors' swap and backup files, and the folders `edge build` skips
(`.edge`, `.git`, `__pycache__`, ...): a build's own writes start no build.
Globs read as `edge build` reads them: `*` stays within a folder, `**` spans
folders, `{a,b}` is either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..app.model import Manifest
from .incremental import SKIP_DIRS, stamp_path

# Editors' temporary files: Vim's swap files (what Spin ignores), Emacs' locks and
# backups, and the atomic-save files some editors write and rename.
EDITOR_FILES = re.compile(r"(\.sw[a-p]x?|~|\.tmp)$|^(\.#|#.*#$)|^4913$")


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex of a relative `/`-separated path for `pattern`."""
    out: list[str] = []
    i, depth = 0, 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                negate = body.startswith(("!", "^"))
                body = body[1:] if negate else body
                body = body.replace("\\", "\\\\")
                out.append("[" + ("^" if negate else "") + body + "]")
                i = end
        elif c == "{":
            out.append("(?:")
            depth += 1
        elif c == "}" and depth:
            out.append(")")
            depth -= 1
        elif c == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + ")" * depth + r"\Z")


@dataclass(frozen=True)
class Glob:
    base: Path  # absolute: the component's workdir
    pattern: str

    def matches(self, path: Path) -> bool:
        try:
            relative = path.relative_to(self.base)
        except ValueError:
            return False
        return glob_regex(self.pattern).match(relative.as_posix()) is not None


@dataclass(frozen=True)
class Change:
    """What a set of changed files asks for."""

    manifest: bool = False  # the manifest changed: build every component again
    build: frozenset[str] = frozenset()  # components to build
    reload: frozenset[str] = frozenset()  # components without a build whose .wasm changed

    def __bool__(self) -> bool:
        return self.manifest or bool(self.build) or bool(self.reload)


@dataclass
class WatchSet:
    manifest_path: Path
    build: bool = True  # False: nothing is built, the .wasm files are swapped as they change
    builds: dict[str, list[Glob]] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)  # component -> its .wasm (no build)
    ignored_files: set[Path] = field(default_factory=set)
    ignored_dirs: list[Path] = field(default_factory=list)
    unwatched: list[str] = field(default_factory=list)  # a build without `watch`

    @classmethod
    def of(
        cls, manifest: Manifest, state_dir: Path | None = None, *, build: bool = True
    ) -> WatchSet:
        """Without `build` (Spin's --skip-build), every component's .wasm is watched."""
        found = cls(manifest.path.resolve(), build=build)
        if state_dir is not None:
            found.ignored_dirs.append(state_dir.resolve())
        for cid, spec in manifest.components.items():
            source = spec.source.resolve()
            if spec.build is None or not build:
                found.sources[cid] = source
                continue
            found.ignored_files |= {source, stamp_path(spec).resolve()}
            if not spec.build.watch:
                found.unwatched.append(cid)
                continue
            workdir = spec.build.workdir.resolve()
            found.builds[cid] = [Glob(workdir, p.removeprefix("./")) for p in spec.build.watch]
        return found

    def roots(self) -> list[Path]:
        """The folders to watch (recursively): the manifest's, and workdirs outside it."""
        folders = {self.manifest_path.parent}
        folders |= {g.base for globs in self.builds.values() for g in globs}
        folders |= {s.parent for s in self.sources.values()}
        return sorted(f for f in folders if not any(o in f.parents for o in folders))

    def ignores(self, path: Path) -> bool:
        """True for a path whose change must never start a build."""
        if EDITOR_FILES.search(path.name):
            return True
        # An output, and what its writer puts beside it first (hello.wasm.partial).
        if any(
            path.parent == f.parent and path.name.startswith(f.name) for f in self.ignored_files
        ):
            return True
        if any(d == path or d in path.parents for d in self.ignored_dirs):
            return True
        # The skipped folders count inside the watched ones, not above them.
        for root in self.roots():
            if root in path.parents:
                return any(part in SKIP_DIRS for part in path.relative_to(root).parts)
        return False

    def classify(self, paths: Iterable[Path]) -> Change:
        manifest, build, reload = False, set(), set()
        for raw in paths:
            path = raw.resolve()
            if path == self.manifest_path:
                manifest = self.build
                continue
            if self.ignores(path):
                continue
            reload |= {cid for cid, source in self.sources.items() if source == path}
            build |= {
                cid for cid, globs in self.builds.items() if any(g.matches(path) for g in globs)
            }
        return Change(manifest, frozenset(build), frozenset(reload))
