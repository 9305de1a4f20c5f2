"""What a consistency checker reports: the broken guarantees, and how they are raised."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Violation:
    """One broken guarantee: which check, a readable message, and the ops involved."""

    check: str
    message: str
    ops: tuple[Any, ...] = ()  # the Ops (or sql_history.SqlOps) involved

    def __str__(self) -> str:
        return f"{self.check}: {self.message}"


def differing(digests: Mapping[str, str], name: Callable[[str], str]) -> str | None:
    """None if every region's digest is the same, else the regions grouped by what they hold."""
    by_digest: dict[str, list[str]] = {}
    for region, digest in digests.items():
        by_digest.setdefault(digest, []).append(region)
    if len(by_digest) < 2:
        return None
    return "; ".join(
        f"{', '.join(sorted(regions))} -> {name(digest)}"
        for digest, regions in sorted(by_digest.items(), key=lambda kv: sorted(kv[1]))
    )


def raise_violations(what: str, violations: list[Violation]) -> None:
    if not violations:
        return
    shown = violations[:20]
    lines = [f"{len(violations)} {what} violation(s):"]
    lines += [f"  - {v.message}" for v in shown]
    if len(violations) > len(shown):
        lines.append(f"  ... and {len(violations) - len(shown)} more")
    raise AssertionError("\n".join(lines))
