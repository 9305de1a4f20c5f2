"""Where each region's stores live on disk.

    <state_dir>/<region>/kv/<label>.sqlite
    <state_dir>/<region>/sql/<label>.sqlite
    <state_dir>/<region>/sql/<label>.sqlite.sync   (a replica: its lock, where it stands)
    <state_dir>/<region>/sql/<label>.sqlite.checkpoints  (the primary: its last checkpoint)
    <state_dir>/<region>/sql/<label>.sqlite.wal-tail  (the primary: frames kept for replicas)

Region names and labels become path components, so they are checked against a
strict pattern before any path is built: nothing can climb out of the state
directory or name a hidden file.
"""

from __future__ import annotations

import re
from pathlib import Path

# Spin labels are kebab-case or snake_case words ("default", "my-store",
# "user_data"); region names are DNS labels ("us-east"). One pattern covers both.
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,126}[A-Za-z0-9])?")
_SUFFIX = ".sqlite"


class LayoutError(ValueError):
    """A region name or store label that cannot name a file."""


def check_name(value: object, what: str) -> str:
    """Return `value` if it is a safe region name or label, else raise LayoutError."""
    if not isinstance(value, str):
        raise LayoutError(f"{what} must be a string, not {type(value).__name__}")
    if _NAME.fullmatch(value) is None:
        raise LayoutError(
            f"invalid {what} {value!r}: use 1-128 letters, digits, '-' or '_', "
            "starting and ending with a letter or digit"
        )
    return value


class StateLayout:
    """Maps (region, label) to the SQLite file that holds that store's replica."""

    def __init__(self, state_dir: Path) -> None:
        self.root = Path(state_dir)

    def __repr__(self) -> str:
        return f"StateLayout({str(self.root)!r})"

    def region_dir(self, region: str) -> Path:
        return self.root / check_name(region, "region name")

    def kv_path(self, region: str, label: str) -> Path:
        return self._file(region, "kv", label, "key-value store label")

    def sql_path(self, region: str, label: str) -> Path:
        return self._file(region, "sql", label, "database label")

    def sql_sync_path(self, region: str, label: str) -> Path:
        """Lock and record of the syncs into a region's replica of a database."""
        return self.sql_path(region, label).with_suffix(_SUFFIX + ".sync")

    def sql_checkpoint_path(self, region: str, label: str) -> Path:
        """Lock and record of replication's checkpoints of the primary's WAL."""
        return self.sql_path(region, label).with_suffix(_SUFFIX + ".checkpoints")

    def sql_wal_tail_path(self, region: str, label: str) -> Path:
        """The primary's WAL frames that replication kept aside at its last checkpoint."""
        return self.sql_path(region, label).with_suffix(_SUFFIX + ".wal-tail")

    def kv_labels(self, region: str) -> list[str]:
        """Labels of the key-value stores that exist on disk for `region`, sorted."""
        return self._labels(region, "kv")

    def sql_labels(self, region: str) -> list[str]:
        """Labels of the SQL databases that exist on disk for `region`, sorted."""
        return self._labels(region, "sql")

    def regions(self) -> list[str]:
        """Regions that have a directory under the state directory, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.fullmatch(p.name))

    def _file(self, region: str, kind: str, label: str, what: str) -> Path:
        directory = self.region_dir(region) / kind
        path = directory / (check_name(label, what) + _SUFFIX)
        # Created on first use so that a fresh state directory needs no setup step.
        directory.mkdir(parents=True, exist_ok=True)
        return path

    def _labels(self, region: str, kind: str) -> list[str]:
        directory = self.region_dir(region) / kind
        if not directory.is_dir():
            return []
        return sorted(
            p.name[: -len(_SUFFIX)]
            for p in directory.iterdir()
            if p.name.endswith(_SUFFIX) and _NAME.fullmatch(p.name[: -len(_SUFFIX)])
        )
