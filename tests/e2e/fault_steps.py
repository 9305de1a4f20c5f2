"""Steps of time and network faults that the property tests interleave with their writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

from runtime.testing import Emulator


@dataclass(frozen=True)
class Advance:
    ms: int


@dataclass(frozen=True)
class Partition:
    region: str
    other: str | None  # None: cut `region` off from every other region


@dataclass(frozen=True)
class Heal:
    pass


Fault = Advance | Partition | Heal


def advances(max_ms: int) -> st.SearchStrategy[Advance]:
    return st.builds(Advance, st.integers(min_value=0, max_value=max_ms))


def partitions(regions: Sequence[str]) -> st.SearchStrategy[Partition]:
    """A whole region cut off, or one link between two different regions."""
    names = st.sampled_from(list(regions))
    return st.one_of(
        st.builds(Partition, names, st.none()),
        st.tuples(names, names)
        .filter(lambda pair: pair[0] != pair[1])
        .map(lambda pair: Partition(pair[0], pair[1])),
    )


def apply_fault(edge: Emulator, step: Fault) -> None:
    match step:
        case Advance(ms):
            edge.advance(ms / 1000)
        case Partition(region, other):
            edge.partition(region, other)
        case Heal():
            edge.heal()
