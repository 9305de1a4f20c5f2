"""The network settings of a running `edge up`, shared by its processes.

Workers answer the admin API (partition, heal, lag); the replicator, in another
process, must see the change at once. The settings live in one JSON file in the
state directory, rewritten atomically under a lock, and re-read when it changes.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .network import Network


def write_json(path: Path, data: object) -> None:
    """Replace `path` with `data` as JSON at once: readers see the old file or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".json")
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2)
    os.replace(tmp, path)


class ControlFile:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "network.json"
        self._lock_path = state_dir / "network.lock"
        self._seen: tuple[int, int] | None = None
        self._cached: Network | None = None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, network: Network) -> None:
        write_json(self.path, network.to_dict())

    def _read(self) -> Network:
        return Network.from_dict(json.loads(self.path.read_text()))

    def initialise(self, network: Network, *, keep_faults: bool = True) -> Network:
        """Write the settings `edge up` starts with; partitions of a previous run are kept."""
        with self._locked():
            if keep_faults and self.path.exists():
                previous = self._read()
                if previous.regions == network.regions:
                    network.cut = previous.cut
                    network.up_since = previous.up_since
            self._write(network)
        return network

    def load(self) -> Network:
        """The current settings, re-read only when the file changed."""
        stat = self.path.stat()
        stamp = (stat.st_mtime_ns, stat.st_ino)
        if self._cached is None or stamp != self._seen:
            self._cached = self._read()
            self._seen = stamp
        return self._cached

    def update(self, change: Callable[[Network], None]) -> Network:
        """Apply `change` to the settings under the lock and save them."""
        with self._locked():
            network = self._read()
            change(network)
            self._write(network)
        self._cached = None
        return network
