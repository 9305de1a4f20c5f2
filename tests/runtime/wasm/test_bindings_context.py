"""The per-call resource table: SQL connections close with the call, KV stores do not."""

from __future__ import annotations

import pytest

from runtime.wasm.bindings.context import CallContext, Grants, HostServices, current, entered


class Closable:
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def _context() -> CallContext:
    services = HostServices(
        grants=Grants("c", frozenset({"default"}), frozenset()),
        open_kv=lambda label: None,
        connect_sql=lambda label: None,
        resolve_variable=lambda name: "",
    )
    return CallContext(services)


def test_close_releases_owned_resources_only() -> None:
    ctx = _context()
    shared, owned = Closable(), Closable()
    ctx.add_resource(shared, 1, owned=False)
    handle = ctx.add_resource(owned, 2, owned=True)
    assert handle.owned
    ctx.close()
    assert (shared.closed, owned.closed) == (0, 1)
    assert ctx.resources == {}


def test_dropped_resource_is_closed_once() -> None:
    ctx = _context()
    conn = Closable()
    rep = ctx.add_resource(conn, 2, owned=True).rep
    ctx.drop_resource(rep)
    ctx.close()
    assert conn.closed == 1


def test_reps_are_unique_across_contexts() -> None:
    a, b = _context(), _context()
    reps = {a.add_resource(Closable(), 1, owned=False).rep for _ in range(5)}
    reps |= {b.add_resource(Closable(), 1, owned=False).rep for _ in range(5)}
    assert len(reps) == 10


def test_current_is_set_only_inside_a_call() -> None:
    ctx = _context()
    with pytest.raises(RuntimeError):
        current()
    with entered(ctx):
        assert current() is ctx
    with pytest.raises(RuntimeError):
        current()
