"""Property: whatever the interleaving of writes, deletes, time, partitions and heals,
once the network heals and replication settles, every region serves the
last-writer-wins result of the acknowledged writes, and all replicas are equal.

Drives the real kvprobe component through a fresh Emulator (fresh state
directory) for every example, on the virtual clock.
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

pytestmark = pytest.mark.e2e

REGIONS = ["us-east", "eu-west", "ap-south"]
KEYS = ["a", "b", "c"]


@dataclass(frozen=True)
class Write:
    region: str
    key: str
    value: bytes | None  # None: a delete


Step = Write | Fault

regions = st.sampled_from(REGIONS)
keys = st.sampled_from(KEYS)
writes = st.builds(Write, regions, keys, st.binary(min_size=0, max_size=8))
deletes = st.builds(Write, regions, keys, st.none())
steps = st.lists(
    st.one_of(
        writes,
        writes,
        deletes,
        advances(3000),
        advances(3000),
        partitions(REGIONS),
        st.just(Heal()),
    ),
    min_size=1,
    max_size=30,
)


@dataclass(frozen=True)
class Acked:
    """An acknowledged write as the writer's replica stored it."""

    key: str
    value: bytes | None
    hlc: int
    origin: str


def _run(manifest: Path, history: list[Step], seed: int) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="edge-prop-") as state,
        Emulator(
            manifest,
            regions=REGIONS,
            state_dir=state,
            build=False,
            replication_lag="1s",
            jitter="200ms",
            seed=seed,
        ) as edge,
    ):
        acked: list[Acked] = []
        for step in history:
            match step:
                case Write(region, key, value):
                    client = edge.client(region)
                    if value is None:
                        assert client.delete(f"/kv/{key}").status_code == 204
                    else:
                        assert client.put(f"/kv/{key}", content=value).status_code == 200
                    entry = edge.host.regions[region].stores.kv("default").entry(key)
                    assert entry is not None and entry.origin == region
                    assert entry.value == value and entry.tombstone == (value is None)
                    acked.append(Acked(key, value, entry.hlc, entry.origin))
                case Advance() | Partition() | Heal():
                    apply_fault(edge, step)

        edge.heal()
        edge.settle()

        winners: dict[str, Acked] = {}
        for write in acked:
            best = winners.get(write.key)
            if best is None or (write.hlc, write.origin) > (best.hlc, best.origin):
                winners[write.key] = write
        live = sorted(k for k, w in winners.items() if w.value is not None)
        for region in REGIONS:
            client = edge.client(region)
            for key in KEYS:
                got = client.get(f"/kv/{key}")
                winner = winners.get(key)
                if winner is None or winner.value is None:
                    assert got.status_code == 404, (region, key, got.content, winner)
                else:
                    assert got.status_code == 200, (region, key, winner)
                    assert got.content == winner.value, (region, key, got.content, winner)
            assert client.get("/kv").json() == live, region
        assert edge.replicas_agree("default")
        assert edge.replicator.pending() == 0


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(history=steps, seed=st.integers(min_value=0, max_value=2**16))
def test_acknowledged_writes_converge_to_last_writer_wins(
    built: dict[str, Path], history: list[Step], seed: int
) -> None:
    _run(built["kvprobe"], history, seed)


def test_concurrent_writes_in_a_partition_converge(built: dict[str, Path]) -> None:
    """A fixed, hand-written history: the same key written on both sides of a cut."""
    history: list[Step] = [
        Write("us-east", "a", b"one"),
        Partition("us-east", None),
        Write("us-east", "a", b"us"),
        Advance(5),
        Write("eu-west", "a", b"eu"),
        Write("ap-south", "b", None),
        Advance(2500),
        Partition("eu-west", "ap-south"),
        Write("ap-south", "a", b"ap"),
        Heal(),
    ]
    _run(built["kvprobe"], history, seed=1)
