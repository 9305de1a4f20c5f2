"""`wasi:http/outgoing-handler.handle`, filtered by `allowed_outbound_hosts` as Spin does.

wasmtime-py's wasi:http is native and has no hook, so the host defines the one
function `handle` itself (shadowing the native one in the guest's linker) and
keeps every other wasi:http function and resource native. To read the
request's target, rewrite it and finally send it, it calls the native
functions through the helper component of `runtime.wasm.http_helper`, one
instance per store, made on the store's first outbound request.

A refused request is dropped here, so no connection is ever made, and
`handle` returns the error (`HTTP-request-denied`; Spin returns it from the
response future instead, which the framework's client treats the same). Self
requests and service chaining are pointed at the host's in-process endpoint
(`runtime.outbound.chain_server`). Every request's transport timeouts are
bounded by what is left of the handler's deadline, so a hung upstream frees
the guest in time to answer.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from wasmtime.component import Variant

from ...outbound.http_policy import Decision, Target
from ...stores.events import clip
from ..http_helper import NativeHttp
from .context import CallContext, current

log = logging.getLogger("edge.http")

HANDLER_PREFIX = "wasi:http/outgoing-handler@"
_TIMEOUTS = ("connect-timeout", "first-byte-timeout", "between-bytes-timeout")
# Transport timeouts end this long before the deadline, so that the guest
# still has time to turn the failure into an answer of its own.
_ANSWER_MARGIN = 0.1
_MIN_TIMEOUT = 0.01


def add_to_linker(root: Any, import_name: str) -> None:
    """Shadow `handle` of `import_name`, the exact outgoing-handler name a component imports."""
    with root.add_instance(import_name) as handler:
        handler.add_func("handle", _handle)


def _handle(store: Any, request: Any, options: Any) -> Any:
    context = current()
    services = context.services
    if context.native_http is None:
        context.native_http = NativeHttp.instantiate(context.http_helper, store)
    native: NativeHttp = context.native_http
    target = _target(native, request)
    policy = services.http_policy
    if policy is None:
        _report(context, target, Decision("refuse", error="HTTP-request-denied"))
        return _refuse(store, request, options, "HTTP-request-denied")
    decision = policy.decide(target, context.chain_depth)
    _report(context, target, decision)
    if decision.route == "refuse":
        return _refuse(store, request, options, decision.error)
    if decision.route in ("self", "chain"):
        chain = services.chain
        native.call("set-scheme", request, Variant("HTTP"))
        native.call("set-authority", request, chain.address())
        path = chain.path(services.region, decision.component, context.chain_depth + 1, target.path)
        native.call("set-path-with-query", request, path)
    if decision.delay > 0:
        services.sleep(decision.delay)
    options = _bounded(native, options, context.deadline)
    return native.call("handle", request, options)


def _report(context: CallContext, target: Target, decision: Decision) -> None:
    """The request as it leaves (the response is the guest's, read from wasmtime's future).

    Without its query, which may hold an API key: the feed is for people, not for secrets.
    """
    if not context.reporting:
        return
    # Nor the authority's user information, which a raw wasi:http call may set.
    host = (target.authority or "").rpartition("@")[2]
    where = f"{target.scheme or 'https'}://{host}" if target.authority else ""
    path, query, _ = target.path.partition("?")
    fields: dict[str, Any] = {
        "method": clip(target.method),
        "url": clip(where + path + ("?…" if query else "")),
        "route": decision.route,
    }
    if decision.component:
        fields["to"] = decision.component
    if decision.error:
        fields["error"] = decision.error
    if decision.delay > 0:
        fields["delay_ms"] = round(decision.delay * 1e3, 3)
    context.report("outbound.http", fields)


def _target(native: NativeHttp, request: Any) -> Target:
    method = native.call("method", request)
    scheme = native.call("scheme", request)
    name = method.payload if method.tag == "other" else method.tag.upper()
    if scheme is None:
        scheme_text = None
    else:
        scheme_text = scheme.payload if scheme.tag == "other" else scheme.tag.lower()
    return Target(
        name,
        scheme_text,
        native.call("authority", request),
        native.call("path-with-query", request) or "/",
    )


def _refuse(store: Any, request: Any, options: Any, error: str) -> Variant:
    # Dropping the request here is what guarantees that nothing is sent.
    request.drop(store)
    if options is not None:
        options.drop(store)
    return Variant(error)


def _bounded(native: NativeHttp, options: Any, deadline: float) -> Any:
    """The request's options with each timeout at most what is left of the deadline."""
    if deadline == float("inf"):
        return options
    left = max(_MIN_TIMEOUT, deadline - time.monotonic() - _ANSWER_MARGIN)
    bound = int(left * 1e9)
    if options is None:
        options = native.call("new-options")
    for name in _TIMEOUTS:
        current_ns = native.call(name, options)
        wanted = bound if current_ns is None else min(current_ns, bound)
        try:
            native.call(f"set-{name}", options, wanted)
        except Exception:  # a timeout this host does not support: the deadline still holds
            log.debug("could not set %s on an outbound request", name)
    return options
