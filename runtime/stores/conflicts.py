"""What last-writer-wins threw away: two different values of a key, one kept.

`KVStore.apply` reports a conflict when a change that arrives from another
region loses to the entry the receiving replica holds, written by a third
party or by the receiver itself, with a different value. Such a change cannot
have been written by a region that had seen that entry: the HLC's receive
rule would have stamped it later, and it would have won. So each report is a
real concurrent write that was lost, and every lost one is reported at least
once, in the region whose write won, when the losing change gets there. (A
change that arrives and wins over an older concurrent entry is not reported
there: from the stamps alone it cannot be told from an ordinary overwrite.)
"""

from __future__ import annotations

from dataclasses import dataclass

from .changes import Change


@dataclass(frozen=True)
class Version:
    """One side of a conflict: the region that wrote it and its value (None: a delete)."""

    region: str
    value: bytes | None


@dataclass(frozen=True)
class Conflict:
    key: str
    region: str  # where it was resolved
    winner: Version
    loser: Version


def lost_change(region: str, change: Change, kept_origin: str, kept: bytes | None) -> Conflict:
    """The conflict of `change` losing, in `region`, to the entry it found there."""
    return Conflict(
        change.key, region, Version(kept_origin, kept), Version(change.origin, change.value)
    )
