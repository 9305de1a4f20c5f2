"""Host implementations of the WIT interfaces a component imports, one module each.

Bindings translate between WIT values and the stores; they hold no state of
their own beyond the per-call `CallContext`.
"""

from __future__ import annotations

from collections.abc import Callable

from wasmtime import component as wc

from . import clocks, http, keyvalue, redis, sqlite, variables
from .context import CallContext, Grants, HostServices, current, entered

__all__ = [
    "CallContext",
    "Grants",
    "HostServices",
    "current",
    "entered",
    "link",
    "shadow_outgoing_handler",
    "shadow_wall_clock",
]


def link(linker: wc.Linker) -> None:
    """Add WASI, wasi:http and every Spin interface the world imports."""
    linker.add_wasip2()
    linker.add_wasi_http()
    with linker.root() as root:
        keyvalue.add_to_linker(root)
        sqlite.add_to_linker(root)
        variables.add_to_linker(root)
        redis.add_to_linker(root)


def shadow_outgoing_handler(linker: wc.Linker, import_names: set[str]) -> None:
    """Put the host's filtering `handle` in front of wasmtime's for these names.

    The exact name the component imports is needed (componentize-py's
    `@0.2.9`): a shadow under another version is never looked up.
    """
    linker.allow_shadowing = True
    with linker.root() as root:
        for name in sorted(import_names):
            http.add_to_linker(root, name)


def shadow_wall_clock(linker: wc.Linker, import_names: set[str], now: Callable[[], float]) -> None:
    """Answer `wasi:clocks/wall-clock` with `now()` (Unix seconds) for these names."""
    linker.allow_shadowing = True
    with linker.root() as root:
        for name in sorted(import_names):
            clocks.add_to_linker(root, name, now)
