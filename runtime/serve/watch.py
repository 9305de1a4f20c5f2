"""`edge up --watch` (and `edge watch`): rebuild on a change, swap without a restart.

A thread of the supervisor watches what build/watchset.py says (watchfiles:
inotify on Linux). An editor's save is a burst of events: they are grouped
until `debounce_ms` pass without a new one (watchfiles' step), so a burst is
one build. Changes that come during a build are taken after it, as one more
round. rebuild.py builds and publishes; the workers swap (swap.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import watchfiles
from rich.markup import escape

from ..app.manifest import load
from ..app.model import Manifest
from ..build.componentize import BuildError
from ..build.watchset import WatchSet
from ..logs import console
from ..settings import Settings
from .rebuild import Emit, Rebuilder, no_event_log

log = logging.getLogger("edge.watch")

DEFAULT_DEBOUNCE_MS = 100  # as `spin watch --debounce`
LONGEST_GROUP_MS = 1600  # a stream of changes that never pauses is still taken by then
STOP_SECONDS = 2.0


def until_built(settings: Settings, first: Callable[[], Manifest]) -> Manifest:
    """`first()` (edge up's first build), tried again after each change while it fails.

    As `spin watch` does: a broken app at start is a message and a wait for the
    fix, not an exit. Ctrl-C ends the wait.
    """
    while True:
        try:
            return first()
        except BuildError as exc:
            console.print(
                f"[bold red]watch: the first build failed:[/]\n{escape(str(exc))}\n"
                "[yellow]watch:[/] edge up starts when a save builds",
                highlight=False,
            )
        _next_change(WatchSet.of(load(settings.manifest), settings.state_dir), settings)


def _next_change(watched: WatchSet, settings: Settings) -> None:
    """Wait for a change that asks for a build."""
    for changes in watchfiles.watch(
        *watched.roots(),
        watch_filter=lambda _, path: not watched.ignores(Path(path)),
        step=settings.watch_debounce_ms,
        debounce=max(LONGEST_GROUP_MS, 4 * settings.watch_debounce_ms),
        ignore_permission_denied=True,
    ):
        if watched.classify(Path(path) for _, path in changes):
            return


class Watcher:
    def __init__(
        self,
        manifest: Manifest,
        state_dir: Path,
        cache_dir: Path | None,
        debounce_ms: int = DEFAULT_DEBOUNCE_MS,
        *,
        build: bool = True,
        emit: Emit = no_event_log,
    ) -> None:
        """`emit` takes the builds' events (rebuild.py); nothing is built without `build`."""
        self.state_dir = state_dir
        self.build = build
        self.debounce_ms = debounce_ms
        self.rebuilder = Rebuilder(manifest, state_dir, cache_dir, emit=emit)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-watch", daemon=True)

    def start(self) -> None:
        self._describe(self._watch_set())
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=STOP_SECONDS)

    def _watch_set(self) -> WatchSet:
        return WatchSet.of(self.rebuilder.manifest, self.state_dir, build=self.build)

    def _describe(self, watched: WatchSet) -> None:
        for cid, globs in watched.builds.items():
            where = globs[0].base
            patterns = ", ".join(g.pattern for g in globs)
            console.print(f"watch: {cid}: {escape(patterns)} in {where}", highlight=False)
        for cid, source in watched.sources.items():
            console.print(f"watch: {cid}: {source} (no build: swapped when it changes)")
        for cid in watched.unwatched:
            console.print(
                "[yellow]watch:[/] "
                + escape(
                    f"component {cid!r} has a build but no watch globs, so no change rebuilds "
                    f'it; add [component.{cid}.build] watch = ["**/*.py"]'
                ),
                highlight=False,
            )
        console.print(f"watch: {watched.manifest_path} (a change rebuilds what is stale)")

    def _run(self) -> None:
        while not self._stop.is_set():
            watched = self._watch_set()
            try:
                self._watch(watched)
            except Exception:  # the watcher must outlive any one round's surprise
                log.exception("watch: this round failed; watching again")
                self._stop.wait(1.0)

    def _watch(self, watched: WatchSet) -> None:
        """Rounds of changes until stopped, or until the folders to watch change."""
        roots = watched.roots()

        def wanted(_: watchfiles.Change, path: str) -> bool:
            return not watched.ignores(Path(path))

        for changes in watchfiles.watch(
            *roots,
            watch_filter=wanted,
            step=self.debounce_ms,
            debounce=max(LONGEST_GROUP_MS, 4 * self.debounce_ms),
            stop_event=self._stop,
            raise_interrupt=False,
            ignore_permission_denied=True,
        ):
            change = watched.classify(Path(path) for _, path in changes)
            if not change:
                continue
            self.rebuilder.apply(change)
            watched = self._watch_set()
            if watched.roots() != roots:
                return  # the manifest moved a workdir: watch the new folders
