"""A worker's side of watch mode: swap to each new generation that builds.json names.

The worker looks at the file's stat every POLL_SECONDS from its event loop
(a stat, no read, when nothing changed) and, for a component whose
generation is newer than its own, queues the swap on its wasm thread: jobs
there run one at a time, so the swap falls between two requests. Requests
already taken keep their instance; the next ones get the new component. A
swap that fails (the .wasm is gone, a trigger export is missing) is logged
and the old version keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import replace
from pathlib import Path

from ..app.model import Manifest
from ..errors import EdgeError
from ..wasm.thread import WasmThread
from .builds import builds_path, current_sources, read_state
from .host import EdgeHost

log = logging.getLogger("edge.worker")

POLL_SECONDS = 0.2


class BuildFollower:
    def __init__(self, state_dir: Path, host: EdgeHost, wasm: WasmThread) -> None:
        self.state_dir = state_dir
        self.host = host
        self.wasm = wasm
        # What this worker serves: what builds.json said when it started (its
        # manifest's sources were taken from there too, see worker.start_host).
        state = read_state(state_dir)
        self.generations = {cid: b.generation for cid, b in state.components.items()}
        self._seen: tuple[int, int, int] | None = self._stat()

    @staticmethod
    def sources(state_dir: Path, manifest: Manifest) -> Manifest:
        """`manifest` with each component's source at its newest generation (a worker
        started after a swap serves what the others serve)."""
        newer = current_sources(state_dir)
        components = {
            cid: replace(spec, source=newer.get(cid, spec.source))
            for cid, spec in manifest.components.items()
        }
        return replace(manifest, components=components)

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(builds_path(self.state_dir))
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            seen = self._stat()
            if seen is None or seen == self._seen:
                continue
            self._seen = seen
            await self.catch_up()

    async def catch_up(self) -> None:
        for cid, build in read_state(self.state_dir).components.items():
            if build.wasm is None or build.generation <= self.generations.get(cid, 0):
                continue
            if cid not in self.host.components:
                continue
            source = Path(build.wasm)
            try:
                await asyncio.wrap_future(self.wasm.submit(self.host.swap_component, cid, source))
            except (EdgeError, OSError) as exc:
                log.error(
                    "%s: generation %d not swapped in (pid %d): %s",
                    cid,
                    build.generation,
                    os.getpid(),
                    exc,
                )
            else:
                log.info("%s: generation %d serving (pid %d)", cid, build.generation, os.getpid())
            # A failed swap is not tried again: the next generation is.
            self.generations[cid] = build.generation
