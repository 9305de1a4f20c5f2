"""Where one outbound HTTP request of a component may go, as Spin decides it.

No wasm and no sockets here: `runtime.wasm.bindings.http` reads the request's
target off the guest's wasi:http resource, asks `HttpPolicy.decide`, and
carries the decision out.

- A request without an authority ("/api/x"), or to `self.alt`, is a self
  request: allowed by a `self` (or `*`) host rule of an http(s) or `*`
  scheme, whatever the port, and routed by the app's router. Never by the
  request's Host header (Spin's CVE-2024-32980): the host sends it to its own
  in-process endpoint, not to an address the request names.
- `<component>.spin.internal` is service chaining: checked against the list
  like any host, then run in-process by that component, in the same region.
- Anything else goes to the network if the list allows `scheme://host:port`
  (no scheme: https, wasmtime's default). A host named by `--origin NAME=REGION`
  pays the latency matrix's round trip from the caller's region to that one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from ..app.outbound import SERVICE_CHAINING_SUFFIX, AllowedHosts
from ..app.urls import UrlError, outbound_url

log = logging.getLogger("edge.http")

SELF_ALT = "self.alt"
# Chained requests that call further ones: how deep before it is called a loop.
MAX_CHAIN_DEPTH = 10


@dataclass(frozen=True)
class Target:
    """What a guest's outgoing request names (wasi:http's fields, as they are)."""

    method: str
    scheme: str | None  # None: not set (wasmtime then uses https)
    authority: str | None  # None: a relative, self request
    path: str

    def origin(self) -> str:
        """scheme://authority, for checks and for logs (the path may hold secrets)."""
        return f"{self.scheme or 'https'}://{self.authority}" if self.authority else "self"


@dataclass(frozen=True)
class Decision:
    """`route` is "network", "self", "chain" or "refuse" (then `error` is the error-code)."""

    route: str
    component: str | None = None  # the chained component
    delay: float = 0.0  # seconds of emulated round trip to pay first
    error: str = ""
    reason: str = ""


class HttpPolicy:
    """One component's outbound HTTP rules, in one region."""

    def __init__(
        self,
        component_id: str,
        allowed: Callable[[], AllowedHosts],
        component_ids: Collection[str],
        origins: Mapping[str, str] | None = None,
        round_trip: Callable[[str], float] | None = None,
    ) -> None:
        """`allowed` gives the resolved allow-list (templates rendered on first use);
        `origins` maps host names to the region they are in, and `round_trip`
        gives the seconds a round trip from this region to a region costs."""
        self.component_id = component_id
        self._allowed = allowed
        self._components = frozenset(component_ids)
        self._origins = dict(origins or {})
        self._round_trip = round_trip

    @classmethod
    def for_component(
        cls,
        component_id: str,
        entries: list[str],
        lookup: Callable[[str], str],
        component_ids: Collection[str],
        origins: Mapping[str, str] | None = None,
        round_trip: Callable[[str], float] | None = None,
    ) -> HttpPolicy:
        resolved: list[AllowedHosts] = []

        def allowed() -> AllowedHosts:
            if not resolved:  # a failure is retried at the next request, as Spin does
                resolved.append(AllowedHosts.resolve(entries, lookup, list(component_ids)))
            return resolved[0]

        return cls(component_id, allowed, component_ids, origins, round_trip)

    def decide(self, target: Target, depth: int = 0) -> Decision:
        try:
            allowed = self._allowed()
        except Exception as exc:  # a template variable without a value
            return self._refuse(target, "configuration-error", f"allowed_outbound_hosts: {exc}")
        host = _host_of(target.authority)
        if target.authority is None or host == SELF_ALT:
            if not allowed.allows_relative(["http", "https"]):
                return self._refuse(target, "HTTP-request-denied", "no http://self rule")
            return self._chain(target, "self", None, depth)
        if not allowed.allows(f"{target.origin()}/", "https"):
            return self._refuse(target, "HTTP-request-denied", "not in allowed_outbound_hosts")
        if host is not None and host.endswith(SERVICE_CHAINING_SUFFIX):
            component = host[: -len(SERVICE_CHAINING_SUFFIX)]
            if component not in self._components:
                return self._refuse(target, "destination-not-found", "no such component")
            return self._chain(target, "chain", component, depth)
        region = self._origins.get(host or "")
        delay = self._round_trip(region) if region and self._round_trip else 0.0
        return Decision("network", delay=delay)

    def _chain(self, target: Target, route: str, component: str | None, depth: int) -> Decision:
        if depth >= MAX_CHAIN_DEPTH:
            return self._refuse(
                target, "loop-detected", f"{depth} self or chained requests deep already"
            )
        return Decision(route, component=component)

    def _refuse(self, target: Target, error: str, reason: str) -> Decision:
        log.info(
            "outbound HTTP refused (%s, %s): component %r: %s %s",
            error,
            reason,
            self.component_id,
            target.method,
            target.origin(),
        )
        return Decision("refuse", error=error, reason=reason)


def _host_of(authority: str | None) -> str | None:
    """The host name of an authority, lower case; None if it has none or is not one."""
    if authority is None:
        return None
    try:
        host = outbound_url(f"http://{authority}/", "http").host
    except UrlError:
        return None
    return host.lower() if host is not None else None
