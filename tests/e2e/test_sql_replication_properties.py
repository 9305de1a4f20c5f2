"""Property: under any interleaving of writes, reads, time, partitions and heals, every
read in a region is exactly some earlier state of the primary, reads in a region
never go back in time, a region reads its own acknowledged writes, a failed write
leaves no trace, and after heal and settle every replica equals the primary.

The probe table only grows (one row per acknowledged write, in commit order), so
"an earlier state of the primary" is a prefix of the final table. Drives the real
sqlprobe component through a fresh Emulator per example, on the virtual clock.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.testing import Emulator

from .fault_steps import Advance, Fault, Heal, Partition, advances, apply_fault, partitions
from .test_regions_sql import REGIONS, SCHEMA, insert, rows, sql

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Write:
    region: str


@dataclass(frozen=True)
class Read:
    region: str


Step = Write | Read | Fault

regions = st.sampled_from(REGIONS)
steps = st.lists(
    st.one_of(
        st.builds(Write, regions),
        st.builds(Read, regions),
        st.builds(Read, regions),
        advances(2500),
        partitions(REGIONS),
        st.just(Heal()),
    ),
    min_size=1,
    max_size=30,
)


def _run(manifest: Path, history: list[Step], primary: str, seed: int) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="edge-sqlprop-") as state,
        Emulator(
            manifest,
            regions=REGIONS,
            state_dir=state,
            build=False,
            replication_lag="1s",
            jitter="300ms",
            seed=seed,
            primary_region=primary,
        ) as edge,
    ):
        assert "error" not in sql(edge.client(primary), SCHEMA)
        edge.settle()
        acked: list[tuple[str, int]] = []  # (region, n) in commit order
        failed: list[int] = []
        seen = {region: 0 for region in REGIONS}  # rows each region has read (monotonic)
        own = {region: 0 for region in REGIONS}  # rows up to the region's last own write
        reads: list[tuple[str, list[list[object]]]] = []
        for n, step in enumerate(history):
            match step:
                case Write(region):
                    result = insert(edge.client(region), n)
                    if "error" in result:
                        assert "cannot reach the primary" in result["error"], result
                        failed.append(n)
                    else:
                        acked.append((region, n))
                        own[region] = len(acked)
                    # Every region may read at once: a replica (or the primary).
                    got = rows(edge.client(region))
                    reads.append((region, got))
                    assert len(got) >= own[region], (region, got, acked)
                    assert len(got) >= seen[region], "read went back in time"
                    seen[region] = len(got)
                case Read(region):
                    got = rows(edge.client(region))
                    reads.append((region, got))
                    assert len(got) >= seen[region], "read went back in time"
                    assert len(got) >= own[region], "lost its own write"
                    seen[region] = len(got)
                case Advance() | Partition() | Heal():
                    apply_fault(edge, step)

        edge.heal()
        edge.settle()
        final = [[i + 1, region, n] for i, (region, n) in enumerate(acked)]
        for region, got in reads:
            assert got == final[: len(got)], (region, got, final)
        for region in REGIONS:
            assert rows(edge.client(region)) == final, region
        assert not set(failed) & {n for _, n in acked}
        assert edge.replicas_agree("default")
        assert edge.replicator.pending() == 0
        # The recorded history says the same, by database state rather than rows.
        edge.check_read_your_writes()
        edge.check_monotonic_reads()
        edge.check_convergence(settle=False)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(history=steps, primary=regions, seed=st.integers(min_value=0, max_value=3))
def test_every_read_is_an_earlier_state_of_the_primary(
    built: dict[str, Path], history: list[Step], primary: str, seed: int
) -> None:
    _run(built["sqlprobe"], history, primary, seed)
