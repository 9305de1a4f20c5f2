"""Host implementations of the WIT interfaces a component imports, one module each.

Bindings translate between WIT values and the stores; they hold no state of
their own beyond the per-call `CallContext`.
"""

from __future__ import annotations

from wasmtime import component as wc

from . import keyvalue, redis, sqlite, variables
from .context import CallContext, Grants, HostServices, current, entered

__all__ = ["CallContext", "Grants", "HostServices", "current", "entered", "link"]


def link(linker: wc.Linker) -> None:
    """Add WASI, wasi:http types and every Spin interface the world imports."""
    linker.add_wasip2()
    linker.add_wasi_http()
    with linker.root() as root:
        keyvalue.add_to_linker(root)
        sqlite.add_to_linker(root)
        variables.add_to_linker(root)
        redis.add_to_linker(root)
