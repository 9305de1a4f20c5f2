"""The emulated network: settings, partitions and deterministic delivery times."""

from __future__ import annotations

import pytest

from runtime.regions.clock import VirtualClock
from runtime.regions.network import Network, link

REGIONS = ["us-east", "eu-west", "ap-south"]


def test_virtual_clock_moves_only_forward() -> None:
    clock = VirtualClock(100.0)
    clock.advance(1.5)
    clock.advance_to(50.0)
    assert clock.now() == 101.5
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_lag_per_network_region_and_link() -> None:
    net = Network(REGIONS, lag=1.0, jitter=0)
    net.set_lag(0.5, "us-east", "eu-west")
    assert net.replication_lag("eu-west", "us-east") == 0.5
    assert net.replication_lag("us-east", "ap-south") == 1.0
    net.set_lag(3.0, "ap-south")
    assert net.replication_lag("eu-west", "ap-south") == 3.0
    net.set_lag(2.0)
    assert {
        net.replication_lag(a, b) for a, b in [("us-east", "eu-west"), ("eu-west", "ap-south")]
    } == {2.0}


def test_partition_and_heal() -> None:
    net = Network(REGIONS)
    net.partition("eu-west")
    assert net.partitioned("eu-west")
    assert not net.is_up("us-east", "eu-west") and net.is_up("us-east", "ap-south")
    net.heal(10.0, "eu-west", "us-east")
    assert net.is_up("us-east", "eu-west") and not net.is_up("eu-west", "ap-south")
    net.heal(11.0)
    assert not net.cut
    assert net.up_since[link("eu-west", "ap-south")] == 11.0
    net.partition("us-east", "ap-south")
    assert net.is_up("us-east", "eu-west") and not net.is_up("ap-south", "us-east")
    with pytest.raises(KeyError, match="mars"):
        net.partition("mars")


def test_delivery_is_deterministic_for_a_seed() -> None:
    a, b = Network(REGIONS, seed=7), Network(REGIONS, seed=7)
    times = [a.delivery_time("us-east", "eu-west", 100.0, seq) for seq in range(50)]
    assert times == [b.delivery_time("us-east", "eu-west", 100.0, seq) for seq in range(50)]
    assert all(101.0 <= t <= 101.2 for t in times)
    assert len(set(times)) > 40  # jitter varies per change
    other = Network(REGIONS, seed=8)
    assert times != [other.delivery_time("us-east", "eu-west", 100.0, s) for s in range(50)]


def test_changes_written_during_a_partition_leave_at_heal() -> None:
    net = Network(REGIONS, lag=1.0, jitter=0)
    net.partition("eu-west")
    net.heal(50.0)
    assert net.delivery_time("us-east", "eu-west", 10.0, 1) == 51.0
    assert net.delivery_time("us-east", "eu-west", 60.0, 2) == 61.0


def test_round_trip_through_dict() -> None:
    net = Network(REGIONS, lag=0.3, jitter=0.1, seed=3)
    net.set_lag(2.0, "us-east", "ap-south")
    net.partition("eu-west")
    net.heal(5.0, "eu-west", "us-east")
    again = Network.from_dict(net.to_dict())
    assert again == net
    described = {tuple(d["regions"]): d for d in again.describe()}
    assert described[("ap-south", "us-east")]["lag_ms"] == 2000
    assert described[("ap-south", "eu-west")]["partitioned"] is True
    assert described[("eu-west", "us-east")]["latency_ms"] == 40
