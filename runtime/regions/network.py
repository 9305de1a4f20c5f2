"""The emulated network between regions: latency, replication lag, partitions.

Everything here is data and arithmetic: no sockets, no sleeping. Delivery times
are a pure function of the write's time, the link's settings and a seed, so a
run on the virtual clock is the same every time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

# One-way latency in seconds between the default regions (rough public figures).
DEFAULT_LATENCY = {
    frozenset({"us-east", "eu-west"}): 0.040,
    frozenset({"us-east", "ap-south"}): 0.110,
    frozenset({"eu-west", "ap-south"}): 0.070,
}
FALLBACK_LATENCY = 0.060
DEFAULT_LAG = 1.0
DEFAULT_JITTER = 0.2


def link(a: str, b: str) -> frozenset[str]:
    if a == b:
        raise ValueError(f"a link joins two different regions, not {a!r} to itself")
    return frozenset({a, b})


def _name(pair: frozenset[str]) -> str:
    return "|".join(sorted(pair))


@dataclass
class Network:
    regions: list[str]
    lag: float = DEFAULT_LAG
    jitter: float = DEFAULT_JITTER
    seed: int = 0
    link_lag: dict[frozenset[str], float] = field(default_factory=dict)
    latency_matrix: dict[frozenset[str], float] = field(default_factory=dict)
    cut: set[frozenset[str]] = field(default_factory=set)
    # When each link last came back up; a change waits for it (it was "resent").
    up_since: dict[frozenset[str], float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(set(self.regions)) != len(self.regions) or not self.regions:
            raise ValueError(f"regions must be distinct and non-empty: {self.regions}")
        if self.lag < 0 or self.jitter < 0:
            raise ValueError("lag and jitter cannot be negative")

    def _check(self, *names: str) -> None:
        for name in names:
            if name not in self.regions:
                raise KeyError(f"unknown region {name!r}; regions are {', '.join(self.regions)}")

    def links(self) -> list[frozenset[str]]:
        return [link(a, b) for a, b in combinations(self.regions, 2)]

    # --- settings -----------------------------------------------------------------

    def latency(self, a: str, b: str) -> float:
        """One-way network latency between two regions (0 within a region)."""
        if a == b:
            return 0.0
        pair = link(a, b)
        return self.latency_matrix.get(pair, DEFAULT_LATENCY.get(pair, FALLBACK_LATENCY))

    def replication_lag(self, a: str, b: str) -> float:
        return self.link_lag.get(link(a, b), self.lag)

    def set_lag(
        self, lag: float, a: str | None = None, b: str | None = None, jitter: float | None = None
    ) -> None:
        """The lag of every link, of every link of region `a`, or of the link a-b."""
        if lag < 0:
            raise ValueError("lag cannot be negative")
        if jitter is not None:
            if jitter < 0:
                raise ValueError("jitter cannot be negative")
            self.jitter = jitter
        if a is None:
            self.lag = lag
            self.link_lag.clear()
            return
        for pair in self._links_of(a, b):
            self.link_lag[pair] = lag

    # --- faults ---------------------------------------------------------------------

    def partition(self, a: str, b: str | None = None) -> None:
        """Cut region `a` off from every other region, or only the link a-b."""
        self.cut |= self._links_of(a, b)

    def heal(self, now: float, a: str | None = None, b: str | None = None) -> None:
        """Restore every link, the links of `a`, or the link a-b."""
        healed = set(self.cut) if a is None else self._links_of(a, b) & self.cut
        for pair in healed:
            self.cut.discard(pair)
            self.up_since[pair] = now

    def _links_of(self, a: str | None, b: str | None) -> set[frozenset[str]]:
        """Every link, every link of region `a`, or the link a-b."""
        if a is None:
            return set(self.links())
        self._check(a)
        if b is None:
            return {link(a, other) for other in self.regions if other != a}
        self._check(b)
        return {link(a, b)}

    def cut_names(self) -> list[str]:
        """The cut links as "a-b", sorted."""
        return sorted("-".join(sorted(pair)) for pair in self.cut)

    def is_up(self, a: str, b: str) -> bool:
        return a == b or link(a, b) not in self.cut

    def partitioned(self, region: str) -> bool:
        """True when the region cannot reach any other region."""
        return all(not self.is_up(region, other) for other in self.regions if other != region)

    # --- delivery -------------------------------------------------------------------

    def jitter_for(self, src: str, dst: str, seq: int) -> float:
        if self.jitter == 0:
            return 0.0
        digest = hashlib.blake2b(f"{self.seed}:{src}:{dst}:{seq}".encode(), digest_size=8)
        return self.jitter * int.from_bytes(digest.digest(), "big") / 2**64

    def delivery_time(self, src: str, dst: str, written_at: float, seq: int) -> float:
        """When the change `seq` that `src` wrote at `written_at` reaches `dst`."""
        sent = max(written_at, self.up_since.get(link(src, dst), written_at))
        return sent + self.replication_lag(src, dst) + self.jitter_for(src, dst, seq)

    # --- persistence (shared by the processes of `edge up`) --------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "regions": self.regions,
            "lag": self.lag,
            "jitter": self.jitter,
            "seed": self.seed,
            "link_lag": {_name(k): v for k, v in self.link_lag.items()},
            "latency": {_name(k): v for k, v in self.latency_matrix.items()},
            "cut": sorted(_name(k) for k in self.cut),
            "up_since": {_name(k): v for k, v in self.up_since.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Network:
        def pair(name: str) -> frozenset[str]:
            a, b = name.split("|")
            return link(a, b)

        return cls(
            regions=list(data["regions"]),
            lag=float(data["lag"]),
            jitter=float(data["jitter"]),
            seed=int(data["seed"]),
            link_lag={pair(k): float(v) for k, v in data.get("link_lag", {}).items()},
            latency_matrix={pair(k): float(v) for k, v in data.get("latency", {}).items()},
            cut={pair(k) for k in data.get("cut", [])},
            up_since={pair(k): float(v) for k, v in data.get("up_since", {}).items()},
        )

    def describe(self) -> list[dict[str, Any]]:
        """Per link: its regions, latency, lag and whether it is cut (for /_edge/)."""
        return [
            {
                "regions": sorted(pair),
                "latency_ms": round(self.latency(*sorted(pair)) * 1000, 3),
                "lag_ms": round(self.replication_lag(*sorted(pair)) * 1000, 3),
                "jitter_ms": round(self.jitter * 1000, 3),
                "partitioned": pair in self.cut,
            }
            for pair in self.links()
        ]
