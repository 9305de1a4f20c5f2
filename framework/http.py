"""The `@http_component` decorator and the request dispatcher; requests, responses, `fetch`.

`handle_request` is what both of the component's exports call (Spin's
`wasi:http/incoming-handler` and the local runtime's `edge:runtime/dispatch`),
so an app behaves the same on Spin and under `edge up`. Request and Response
live in `framework.messages`, the outbound client in `framework.client`; both
are named here too, where apps look for them.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload
from urllib.parse import unquote

from .client import DEFAULT_MAX_RESPONSE_BYTES, fetch, send
from .errors import HTTPError
from .messages import (
    Request,
    Response,
    decode_text,
    error_response,
    split_uri,
    to_response,
)
from .routing import MethodNotAllowed, NotFound, Router

Handler = Callable[[Request], Any]
F = TypeVar("F", bound=Callable[..., Any])

# Statuses whose responses never carry a body (RFC 9110).
_BODYLESS = frozenset({204, 304})


# --- registration ------------------------------------------------------------

default_router: Router[Handler] = Router()


@overload
def http_component(route: F) -> F: ...


@overload
def http_component(
    route: str = "/...",
    methods: Iterable[str] | str | None = None,
    *,
    router: Router[Handler] | None = None,
) -> Callable[[F], F]: ...


def http_component(
    route: str | F = "/...",
    methods: Iterable[str] | str | None = None,
    *,
    router: Router[Handler] | None = None,
) -> F | Callable[[F], F]:
    """Register a handler for a route (Spin syntax) and methods (None: all).

    `@http_component("/todos/:id", methods=["GET"])`; used bare,
    `@http_component` registers the function for every path (`/...`).
    """
    if callable(route):  # bare @http_component
        default_router.add("/...", route)
        return route
    target = default_router if router is None else router

    def register(func: F) -> F:
        target.add(route, func, methods)
        return func

    return register


# --- dispatch ----------------------------------------------------------------


def handle_request(
    method: str,
    uri: str,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    router: Router[Handler] | None = None,
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Route one request and run its handler; always returns a response.

    Handler exceptions become a generic JSON 500 (the traceback goes to
    stderr, nothing of it to the client), except `HTTPError`, which becomes
    its own status and {"error": message}. HEAD responses lose their body.
    """
    method = method.upper()
    try:
        request = Request(method, uri, headers, body)
        response = _dispatch(router or default_router, request)
    except Exception:  # a bug outside any handler: still answer
        _log_exception(f"{method} {uri}: error while dispatching")
        response = error_response(500, "internal server error")
    return response_tuple(response, method)


def _dispatch(router: Router[Handler], request: Request) -> Response:
    result = router.resolve(request.method, request.path)
    if isinstance(result, NotFound):
        return error_response(404, "not found")
    if isinstance(result, MethodNotAllowed):
        return error_response(405, "method not allowed", {"allow": result.allow_header})
    request.params = {name: unquote(value) for name, value in result.params.items()}
    request.route = result.route
    request.path_info = result.path_info
    handler = result.handler
    try:
        return to_response(handler(request))
    except HTTPError as exc:
        if not 100 <= exc.status <= 599:
            _log_exception(f"{request.method} {request.path}: HTTPError with a bad status")
            return error_response(500, "internal server error")
        return error_response(exc.status, exc.message, exc.headers)
    except Exception:
        name = getattr(handler, "__qualname__", repr(handler))
        _log_exception(f"{request.method} {request.path}: unhandled exception in {name}")
        return error_response(500, "internal server error")


def response_tuple(response: Response, method: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) as sent: no body for HEAD, 1xx, 204 and 304."""
    # The host frames the body: a content-length that disagrees with what is
    # written makes wasi-http's outgoing-body.finish fail, so never pass one on.
    headers = [(k, v) for k, v in response.headers.raw() if k != "content-length"]
    body = response.body
    if method == "HEAD" or response.status in _BODYLESS or response.status < 200:
        body = b""
    return response.status, headers, body


def _log_exception(context: str) -> None:
    sys.stderr.write(f"edge: {context}\n{traceback.format_exc()}")
    sys.stderr.flush()


__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "Request",
    "Response",
    "decode_text",
    "error_response",
    "fetch",
    "handle_request",
    "http_component",
    "response_tuple",
    "send",
    "split_uri",
    "to_response",
]
