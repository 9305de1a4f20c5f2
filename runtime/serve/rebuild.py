"""One round of `edge up --watch`: build what changed, compile it once, publish it.

A component is built as `edge build` builds it (build/incremental.py, only
when its inputs changed), compiled into the on-disk cache here, once for
every worker, and its `.wasm` copied to a file of its own generation in the
state directory; then builds.json names that generation and the workers swap
to it (swap.py). A failed build is printed and recorded, and the generation
being served stays as it was.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rich.markup import escape

from ..app.manifest import load
from ..app.model import Manifest
from ..build.incremental import build_manifest, is_stale
from ..build.watchset import Change
from ..errors import EdgeError
from ..logs import console
from ..wasm.engine import WasmEngine
from .builds import VERSIONS_DIR, BuildState, ComponentBuild, current_sources, write_state

log = logging.getLogger("edge.watch")

KEEP_VERSIONS = 3  # per component: a worker that is starting may still be reading one


EVENT_ERROR_CHARS = 2000  # a failed build's event carries the start of its message

# (kind, fields) -> the event log: an event sink's `emit` fits.
Emit = Callable[[str, Mapping[str, Any]], None]


def no_event_log(kind: str, fields: Mapping[str, Any]) -> None:
    log.debug("%s event: %s", kind, dict(fields))


def _shape(manifest: Manifest) -> object:
    """The manifest less its builds: what a swap of components cannot change."""
    components = {
        cid: dataclasses.replace(spec, build=None) for cid, spec in manifest.components.items()
    }
    return (
        manifest.routes(),
        components,
        manifest.variables,
        manifest.redis_triggers,
        manifest.cron_triggers,
        manifest.base,
    )


class Rebuilder:
    def __init__(
        self,
        manifest: Manifest,
        state_dir: Path,
        cache_dir: Path | None,
        *,
        print_line: Callable[[str], None] | None = None,
        emit: Emit = no_event_log,
    ) -> None:
        """`emit` gets a `build` event (component, status started | ok | failed,
        error, ms) at the start and the end of each build."""
        self.manifest = manifest
        self._emit = emit
        self.state_dir = state_dir
        self.engine = WasmEngine(cache_dir)
        self.state = BuildState(True, {cid: ComponentBuild() for cid in manifest.components})
        self._print = print_line or (lambda line: console.print(line, highlight=False))
        # What each component serves now, by compile-cache key: a build whose
        # output is the same bytes publishes no new generation.
        sources = current_sources(state_dir)
        self._serving = {
            cid: self.engine.cache_path(sources.get(cid, spec.source))
            for cid, spec in manifest.components.items()
            if spec.source.is_file() or cid in sources
        }
        write_state(state_dir, self.state)

    def apply(self, change: Change) -> None:
        build, reload = set(change.build), set(change.reload)
        if change.manifest:
            if not self._reload_manifest():
                return
            build |= {cid for cid, s in self.manifest.components.items() if s.build is not None}
            reload |= {cid for cid, s in self.manifest.components.items() if s.build is None}
        for cid in sorted(build | reload):
            if cid in self.manifest.components:
                self.one(cid, build=cid in build)

    def _reload_manifest(self) -> bool:
        """Take in the changed manifest; False if it cannot be served by swapping."""
        try:
            manifest = load(self.manifest.path)
        except EdgeError as exc:
            self._print(f"[bold red]watch:[/] the manifest does not load: {escape(str(exc))}")
            return False
        if _shape(manifest) != _shape(self.manifest):
            self._print(
                "[yellow]watch:[/] the manifest changed more than its builds (routes, "
                "components, stores, variables or triggers): restart edge up to serve that; "
                "the running app keeps the manifest it started with"
            )
            return False
        self.manifest = manifest
        self._print("[dim]watch:[/] the manifest changed: building what is stale")
        return True

    def one(self, cid: str, *, build: bool) -> None:
        """Build (if `build`) and publish component `cid`; errors are recorded, not raised."""
        spec = self.manifest.components[cid]
        if build and not is_stale(spec):
            log.info("%s: inputs unchanged, nothing to build", cid)
            return
        entry = self.state.components.setdefault(cid, ComponentBuild())
        started, clock = time.time(), time.perf_counter()
        entry.status, entry.started, entry.finished, entry.seconds = "building", started, None, None
        write_state(self.state_dir, self.state)
        self._event(cid, "started", None, None)
        self._print(f"[bold cyan]watch:[/] {'building' if build else 'loading'} {cid} ...")
        try:
            if build:
                build_manifest(
                    self.manifest,
                    only=[cid],
                    report=lambda line: self._print(f"[dim]build[/] {escape(line)}"),
                )
            published = self._publish(cid, spec.source)
        except (EdgeError, OSError) as exc:
            entry.status, entry.error = "failed", str(exc)
            ms = self._finish(entry, clock)
            self._print(
                f"[bold red]watch: {cid} failed[/] (still serving generation "
                f"{entry.generation}):\n{escape(str(exc))}"
            )
            self._event(cid, "failed", entry.error, ms)
            return
        entry.status, entry.error = "ok", None
        if published is not None:
            entry.generation += 1
            entry.wasm, entry.swapped = str(published), time.time()
        ms = self._finish(entry, clock)
        if published is None:
            self._print(f"[dim]watch:[/] {cid}: the same .wasm as before, nothing to swap")
        else:
            self._print(
                f"[bold green]watch:[/] {cid} generation {entry.generation} ready "
                f"({ms / 1000:.1f} s); the workers swap to it"
            )
        self._event(cid, "ok", None, ms)

    def _event(self, cid: str, status: str, error: str | None, ms: float | None) -> None:
        cut = None if error is None else error[:EVENT_ERROR_CHARS]
        self._emit("build", {"component": cid, "status": status, "error": cut, "ms": ms})

    def _finish(self, entry: ComponentBuild, clock: float) -> float:
        """Record the end of the build; its milliseconds."""
        entry.finished, entry.seconds = time.time(), time.perf_counter() - clock
        write_state(self.state_dir, self.state)
        return entry.seconds * 1000

    def _publish(self, cid: str, source: Path) -> Path | None:
        """Copy and compile `source` as the next generation; None if it is what is served."""
        try:
            key = self.engine.cache_path(source)
        except FileNotFoundError:
            raise EdgeError(f"component {cid!r}: {source} does not exist") from None
        if self._serving.get(cid) == key:
            return None
        versions = self.state_dir / VERSIONS_DIR
        versions.mkdir(parents=True, exist_ok=True)
        copy = versions / f"{cid}.{key.stem[:16]}.wasm"
        shutil.copyfile(source, copy)
        try:
            self.engine.load(copy)  # into the cache: each worker then loads it in ~0.1 s
        except EdgeError:
            copy.unlink(missing_ok=True)
            raise
        self._serving[cid] = key
        self._prune(versions, cid, keep=copy)
        return copy

    def _prune(self, versions: Path, cid: str, keep: Path) -> None:
        old = sorted(
            (p for p in versions.glob(f"{cid}.*.wasm") if p != keep),
            key=lambda p: p.stat().st_mtime,
        )
        for path in old[: max(0, len(old) - (KEEP_VERSIONS - 1))]:
            path.unlink(missing_ok=True)
