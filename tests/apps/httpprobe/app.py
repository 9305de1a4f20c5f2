"""A probe of outbound HTTP: POST what to fetch, get back what came back.

    POST /fetch  {"url": "http://127.0.0.1:8080/x", "method": "POST", "body": "hi"}
    -> {"status": 200, "headers": {...}, "size": 2, "sha256": "...", "text": "hi"}

`send_bytes: N` sends N bytes of a known pattern instead of `body`. A failure
is reported as {"error": {"type": ..., "code": ..., "message": ...}}.
`POST /raw` makes the request through the wasi:http bindings directly, not the
framework, to show that the host's allow-list does not depend on the client.
`POST /noop` parses the same JSON as `/fetch` and answers {}: the baseline of
bench/outbound.py (a request to this component that makes no outbound call).
Every route also answers as a target of self and chained requests (`/hello`).
"""

import hashlib
from typing import Any

from framework import OutboundHTTPError, Request, http_component, variables
from framework.http import DEFAULT_MAX_RESPONSE_BYTES, fetch


def pattern(size: int) -> bytes:
    block = bytes(range(256))
    return (block * (size // 256 + 1))[:size]


def _report(resp: Any) -> dict[str, Any]:
    body = resp.body
    out: dict[str, Any] = {
        "status": resp.status,
        "headers": {name: resp.headers[name] for name in resp.headers},
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    if len(body) <= 4096:
        out["text"] = resp.text
    return out


@http_component("/fetch", methods=["POST"])
@http_component("/locked/fetch", methods=["POST"])  # the component without a list
def do_fetch(req: Request) -> dict[str, Any]:
    spec = req.json()
    body: bytes | str | None = spec.get("body")
    if "send_bytes" in spec:
        body = pattern(spec["send_bytes"])
    try:
        resp = fetch(
            spec["url"],
            method=spec.get("method", "GET"),
            headers=spec.get("headers"),
            body=body,
            timeout=spec.get("timeout"),
            max_response_bytes=spec.get("max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES),
        )
    except OutboundHTTPError as exc:
        return {"error": {"type": type(exc).__name__, "code": exc.code, "message": str(exc)}}
    return _report(resp)


@http_component("/noop", methods=["POST"])
def noop(req: Request) -> dict[str, Any]:
    req.json()  # what /fetch does before its request, and nothing else
    return {}


@http_component("/raw", methods=["POST"])
def raw(req: Request) -> dict[str, Any]:
    from componentize_py_types import Err
    from wit_world.imports import outgoing_handler
    from wit_world.imports import wasi_http_types as t

    authority = req.json()["authority"]
    outgoing = t.OutgoingRequest(t.Fields())
    outgoing.set_scheme(t.Scheme_Http())
    outgoing.set_authority(authority)
    outgoing.set_path_with_query("/raw")
    try:
        future = outgoing_handler.handle(outgoing, None)
    except Err as exc:
        return {"error": type(exc.value).__name__}
    with future:
        with future.subscribe() as pollable:
            pollable.block()
        result = future.get()
    outcome = result.value
    if isinstance(outcome, Err):
        return {"error": type(outcome.value).__name__}
    with outcome.value as response:
        return {"status": response.status()}


@http_component("/loop")
def loop(req: Request) -> dict[str, Any]:
    """Calls itself until the host says it is a loop."""
    try:
        return fetch("/loop").json()
    except OutboundHTTPError as exc:
        return {"error": {"type": type(exc).__name__, "code": exc.code}}


@http_component("/...")
def hello(req: Request) -> dict[str, Any]:
    """What a self or chained request looked like when it arrived."""
    return {
        "component": variables.get("whoami"),
        "method": req.method,
        "path": req.path,
        "query": req.query,
        "headers": {name: req.headers[name] for name in req.headers},
        "size": len(req.body),
        "sha256": hashlib.sha256(req.body).hexdigest(),
    }
