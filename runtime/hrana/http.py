"""Hrana over HTTP.

    GET  /health, /v1, /v2, /v3       200: liveness and version probes (no token needed)
    GET  /v3-protobuf                 404: the Protobuf encoding is not served
    POST /v1/execute  {"stmt"}        one statement on a fresh stream
    POST /v1/batch    {"batch"}       one batch on a fresh stream
    POST /v2/pipeline, /v3/pipeline   {"baton", "requests"}: requests on a stream kept by baton
    POST /v3/cursor   {"baton", "batch"}: a batch as newline-separated JSON cursor entries

A request the server refuses as a whole is a 4xx/5xx with `{"message", "code"}`
(400 malformed, 401 token, 404 database, 413 body, 503 stream limit, 500 bug);
inside a pipeline each request succeeds or fails on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .. import bodies
from ..bodies import read_body
from .errors import (
    BODY_TOO_LARGE,
    NOT_FOUND,
    STREAM_CLOSED,
    UNAUTHORIZED,
    HranaError,
    internal_error,
    proto_error,
)
from .ops import CONN_REQUESTS, Op, conn_op, cursor_op, sql_text_request
from .server import HranaServer
from .statements import SqlTexts
from .streams import HttpStream
from .wire import array, dumps, loads, obj, type_of

log = logging.getLogger("edge.hrana")

Handler = Callable[[HranaServer, Any], Awaitable[Response]]


def json_response(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


class BodyTooLarge(HranaError):
    def __init__(self, limit: int, *, drained: bool) -> None:
        super().__init__(f"request body larger than {limit} bytes", BODY_TOO_LARGE, 413)
        self.drained = drained


def error_response(exc: HranaError) -> Response:
    response = json_response(exc.to_json(), exc.status)
    if exc.code == UNAUTHORIZED:
        response.headers["www-authenticate"] = "Bearer"
    if isinstance(exc, BodyTooLarge) and not exc.drained:
        # The rest of the body is left unread, so this connection cannot carry
        # another request: say so, or a client would reuse it and fail.
        response.headers["connection"] = "close"
    return response


async def read_limited(request: Request, limit: int) -> bytes:
    try:
        return await read_body(request, limit)
    except bodies.BodyTooLarge as exc:
        raise BodyTooLarge(limit, drained=exc.drained) from None


def http_routes(server: HranaServer) -> list[Route]:
    def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            try:
                # The token first: nothing else is revealed.
                if not server.bearer_matches(request.headers.get("authorization")):
                    raise HranaError(
                        "missing or wrong token (Authorization: Bearer)", UNAUTHORIZED, 401
                    )
                body = loads(await read_limited(request, server.max_body_bytes))
                return await handler(server, body)
            except HranaError as exc:
                return error_response(exc)
            except Exception:
                log.exception("Hrana request %s failed", request.url.path)
                return error_response(internal_error())

        return serve

    async def probe(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def not_found(request: Request) -> Response:
        message = f"no Hrana endpoint {request.method} {request.url.path}"
        return error_response(HranaError(message, NOT_FOUND, 404))

    return [
        Route("/health", probe, methods=["GET"]),
        *(Route(f"/{v}", probe, methods=["GET"]) for v in ("v1", "v2", "v3")),
        Route("/v1/execute", endpoint(v1("execute")), methods=["POST"]),
        Route("/v1/batch", endpoint(v1("batch")), methods=["POST"]),
        Route("/v2/pipeline", endpoint(pipeline), methods=["POST"]),
        Route("/v3/pipeline", endpoint(pipeline), methods=["POST"]),
        Route("/v3/cursor", endpoint(cursor), methods=["POST"]),
        Route("/{path:path}", not_found, methods=["GET", "HEAD", "POST", "PUT", "DELETE"]),
    ]


async def _once(server: HranaServer, op: Op) -> Any:
    """An operation on a stream of its own, closed afterwards (HTTP v1's semantics)."""
    entry = server.batons.open()
    try:
        result = await entry.stream.run(op)
        await entry.stream.close()  # an unfinished transaction rolls back before we answer
    finally:
        server.batons.drop(entry)  # forgotten, even if this request was cancelled
    return result


def v1(kind: str) -> Handler:
    """`/v1/execute` or `/v1/batch`: the request body is the request, on a stream of its own."""

    async def handle(server: HranaServer, body: Any) -> Response:
        op = conn_op(kind, obj(body, "the body"), SqlTexts(0))
        return json_response({"result": (await _once(server, op))["result"]})

    return handle


def _baton(body: dict[str, Any]) -> str | None:
    baton = body.get("baton")
    if baton is not None and not isinstance(baton, str):
        raise proto_error("'baton' must be a string or null")
    return baton


def _stream_of(server: HranaServer, baton: str | None) -> HttpStream:
    return server.batons.open() if baton is None else server.batons.take(baton)


async def pipeline(server: HranaServer, body: Any) -> Response:
    msg = obj(body, "the body")
    baton = _baton(msg)
    requests = array(msg.get("requests"), "'requests'")
    entry = _stream_of(server, baton)
    try:
        results = [await _stream_request(entry, request) for request in requests]
    except BaseException:
        server.batons.drop(entry)  # cancelled (client gone): nothing may linger
        raise
    new_baton = server.batons.park(entry)
    return json_response({"baton": new_baton, "base_url": None, "results": results})


async def _stream_request(entry: HttpStream, request: Any) -> dict[str, Any]:
    try:
        kind = type_of(request, "a stream request")
        if kind == "close":
            await entry.stream.close()
            response: Any = {"type": "close"}
        elif entry.stream.closed:
            raise HranaError("the stream is closed", STREAM_CLOSED)
        elif kind in ("store_sql", "close_sql"):
            response = sql_text_request(kind, request, entry.sqls)
        elif kind in CONN_REQUESTS:
            response = await entry.stream.run(conn_op(kind, request, entry.sqls))
        else:
            raise proto_error(f"unknown stream request type {kind!r}")
        return {"type": "ok", "response": response}
    except HranaError as exc:
        return {"type": "error", "error": exc.to_json()}
    except Exception:
        log.exception("a Hrana pipeline request failed")
        return {"type": "error", "error": internal_error().to_json()}


async def cursor(server: HranaServer, body: Any) -> Response:
    msg = obj(body, "the body")
    entry = _stream_of(server, _baton(msg))
    try:
        entries = await entry.stream.run(cursor_op(msg, entry.sqls))
    except BaseException:
        server.batons.drop(entry)  # an HTTP error ends the stream, as the spec says
        raise
    head = {"baton": server.batons.park(entry), "base_url": None}
    lines = b"".join(dumps(line) + b"\n" for line in [head, *entries])
    return Response(lines, media_type="text/plain")
