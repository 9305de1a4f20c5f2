"""The component's exports; imported only inside the component.

The entry module that `edge componentize` generates imports the user's app
(which registers its handlers) and then this module's `IncomingHandler` and
`Dispatch`, which componentize-py requires at the top level of that module.

- `IncomingHandler` implements `wasi:http/incoming-handler@0.2.0`, which Spin calls;
- `Dispatch` implements `edge:runtime/dispatch`, which the local runtime calls.

Both go through `framework.http.handle_request`, so routing and error handling
are the same on Spin and under `edge up`.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

# Imported here, at build time, so that the modules framework.kv, .turso and
# .variables load lazily are already in the pre-initialised snapshot.
import wit_world.exports  # type: ignore[import-not-found]
from componentize_py_types import Err, Ok  # type: ignore[import-not-found]
from wit_world.exports import dispatch  # type: ignore[import-not-found]
from wit_world.imports import (  # type: ignore[import-not-found]  # noqa: F401
    key_value,
    monotonic_clock,
    outgoing_handler,
    poll,
    sqlite,
    streams,
    variables,
)
from wit_world.imports import wasi_http_types as wasi_http  # type: ignore[import-not-found]

from .client import header_text, make_fields
from .http import error_response, handle_request, response_tuple
from .routing import Router

READ_CHUNK = 64 * 1024
WRITE_CHUNK = 4096  # wasi:io's blocking-write-and-flush takes at most 4096 bytes
BODY_PIECE = 256 * 1024  # dispatch's body pieces; keep in step with runtime/wasm/body.py

_METHODS = {
    "Method_Get": "GET",
    "Method_Head": "HEAD",
    "Method_Post": "POST",
    "Method_Put": "PUT",
    "Method_Delete": "DELETE",
    "Method_Connect": "CONNECT",
    "Method_Options": "OPTIONS",
    "Method_Trace": "TRACE",
    "Method_Patch": "PATCH",
}


class IncomingHandler(wit_world.exports.IncomingHandler):
    """Spin's entry point: a wasi-http request in, a response through the outparam."""

    def handle(
        self,
        request: wasi_http.IncomingRequest,
        response_out: wasi_http.ResponseOutparam,
    ) -> None:
        try:
            method = method_name(request.method())
            uri = request_uri(request)
            headers = request_headers(request)
            body = read_body(request)
        except Exception:
            _log("could not read the request")
            failed = error_response(400, "could not read the request")
            status, out_headers, out_body = response_tuple(failed, "GET")
        else:
            status, out_headers, out_body = handle_request(method, uri, headers, body)
        send_response(response_out, status, out_headers, out_body)


class Dispatch(wit_world.exports.Dispatch):
    """The local runtime's entry point: plain records in and out, bodies in pieces."""

    def write_body(self, piece: bytes) -> None:
        _bodies.incoming += piece

    def handle(self, req: dispatch.Request) -> dispatch.Response:
        body = req.body
        if _bodies.incoming:
            _bodies.incoming += body
            body, _bodies.incoming = bytes(_bodies.incoming), bytearray()
        status, headers, out = handle_request(req.method, req.uri, list(req.headers), body)
        _bodies.outgoing, _bodies.sent = memoryview(out), BODY_PIECE
        return dispatch.Response(
            status=status, headers=headers, body=out[:BODY_PIECE], body_size=len(out)
        )

    def read_body(self, max: int) -> bytes:
        start = _bodies.sent
        _bodies.sent = start + min(max, BODY_PIECE)
        return _bodies.outgoing[start : _bodies.sent].tobytes()


class _Bodies:
    """What `Dispatch` holds between its calls (an instance serves one request)."""

    def __init__(self) -> None:
        self.incoming = bytearray()  # the request body's pieces so far
        self.outgoing = memoryview(b"")  # the response body
        self.sent = 0  # how much of it the host has


_bodies = _Bodies()


def method_name(method: object) -> str:
    """A generated `Method_*` variant as a method name ("GET", or Method_Other's text)."""
    kind = type(method).__name__
    if kind == "Method_Other":
        return str(getattr(method, "value", "")).upper()
    return _METHODS.get(kind, "GET")


def request_uri(request: wasi_http.IncomingRequest) -> str:
    """The full URL when scheme and authority are known, else the path and query."""
    path = request.path_with_query() or "/"
    authority = request.authority()
    if not authority:
        return path
    scheme = request.scheme()
    kind = type(scheme).__name__
    if kind == "Scheme_Https":
        name = "https"
    elif kind == "Scheme_Other":
        name = str(scheme.value)
    else:
        name = "http"
    return f"{name}://{authority}{path}"


def request_headers(request: wasi_http.IncomingRequest) -> list[tuple[str, str]]:
    # The fields are a child of the request: drop them before the request goes.
    with request.headers() as fields:
        entries = fields.entries()
    return [(name, header_text(value)) for name, value in entries]


def read_body(request: wasi_http.IncomingRequest) -> bytes:
    """The whole request body, read until the stream reports it is closed."""
    body = request.consume()
    chunks: list[bytes] = []
    with body.stream() as stream:  # a child of the body: dropped before finish
        while True:
            try:
                chunks.append(stream.blocking_read(READ_CHUNK))
            except Err as exc:
                if isinstance(exc.value, streams.StreamError_Closed):
                    break
                raise
    with wasi_http.IncomingBody.finish(body):  # drop the future-trailers at once
        pass
    return b"".join(chunks)


def send_response(
    response_out: wasi_http.ResponseOutparam,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
) -> None:
    try:
        response, outgoing = _outgoing(status, headers)
    except Exception:  # never leave the outparam unset: Spin would answer for us
        _log(f"could not build a {status} response; sending a 500")
        fallback = error_response(500, "internal server error")
        status, headers, body = response_tuple(fallback, "GET")
        response, outgoing = _outgoing(status, headers)
    wasi_http.ResponseOutparam.set(response_out, Ok(response))
    try:
        with outgoing.write() as stream:  # a child of the body: dropped before finish
            for start in range(0, len(body), WRITE_CHUNK):
                stream.blocking_write_and_flush(body[start : start + WRITE_CHUNK])
    except Err:
        _log("could not write the response body (did the client go away?)")
        return  # dropping an unfinished body tells the host it is incomplete
    wasi_http.OutgoingBody.finish(outgoing, None)


def _outgoing(
    status: int, headers: list[tuple[str, str]]
) -> tuple[wasi_http.OutgoingResponse, wasi_http.OutgoingBody]:
    response = wasi_http.OutgoingResponse(make_fields(headers, "response"))  # takes the fields
    response.set_status_code(status)
    # Take the body before ResponseOutparam.set, which takes the response.
    return response, response.body()


def _log(context: str) -> None:
    sys.stderr.write(f"edge: {context}\n{traceback.format_exc()}")
    sys.stderr.flush()


def _warm_up() -> None:
    """Run the request path once while the component is being built.

    componentize-py snapshots the interpreter after this module loads, so
    whatever the first request would have initialised lazily (caches, method
    lookups, the JSON encoder) is already done in every fresh instance.
    """
    router: Router[Any] = Router()
    router.add("/warm/:id", lambda req: {"id": req.params["id"], "q": req.query, "j": req.json()})
    handle_request(
        "POST",
        "http://localhost/warm/1?x=1&y=2",
        [("content-type", "application/json"), ("host", "localhost")],
        b'{"a": [1, 2.5, "s", null, true]}',
        router=router,
    )
    handle_request("GET", "/missing", [], b"", router=router)


_warm_up()
