"""Outbound HTTP from a handler, through `wasi:http/outgoing-handler` (which Spin provides).

    from framework.http import Request, fetch, send

    resp = fetch("https://api.example.com/items?page=2", timeout=2.0)
    resp.status, resp.headers["content-type"], resp.json()
    send(Request("POST", "https://api.example.com/items", {"x-trace": "1"}, b"{}"))

The URL must be allowed by the component's `allowed_outbound_hosts`, else
`HTTPRequestDenied` is raised and no connection is made. A relative URL
("/api/users") is a self request, routed by the app's own router (allowed by
`http://self`); `http://<component>.spin.internal/...` calls another component
of the app (service chaining, allowed by `http://*.spin.internal`).

Both bodies are streamed through wasi:io, not copied whole at once; a response
body longer than `max_response_bytes` (10 MiB by default, Fermyon Cloud's body
limit) raises instead of being cut short. `timeout` bounds the whole exchange,
connecting, sending, waiting and reading, and raises `HTTPTimeoutError`. Without
one the host's bounds apply: under `edge up`, what is left of the handler's
deadline; on Spin, Spin's own.

Only the component calls these: the wasi:http bindings exist only inside it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from ._bindings import err_type, wit_import
from .errors import HTTPRequestDenied, HTTPTimeoutError, OutboundHTTPError
from .headers import HeadersInit
from .messages import Request, Response

DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
_READ = 64 * 1024
_WRITE = 64 * 1024
_NS = 1_000_000_000
_NEAR_DEADLINE = _NS // 20  # a host timeout this close to our deadline is that deadline

# wasi:http's error-code cases; componentize-py names their classes
# ErrorCode_<each part capitalised> ("HTTP-request-denied" -> HttpRequestDenied).
ERROR_CODES = (
    "DNS-timeout",
    "DNS-error",
    "destination-not-found",
    "destination-unavailable",
    "destination-IP-prohibited",
    "destination-IP-unroutable",
    "connection-refused",
    "connection-terminated",
    "connection-timeout",
    "connection-read-timeout",
    "connection-write-timeout",
    "connection-limit-reached",
    "TLS-protocol-error",
    "TLS-certificate-error",
    "TLS-alert-received",
    "HTTP-request-denied",
    "HTTP-request-length-required",
    "HTTP-request-body-size",
    "HTTP-request-method-invalid",
    "HTTP-request-URI-invalid",
    "HTTP-request-URI-too-long",
    "HTTP-request-header-section-size",
    "HTTP-request-header-size",
    "HTTP-request-trailer-section-size",
    "HTTP-request-trailer-size",
    "HTTP-response-incomplete",
    "HTTP-response-header-section-size",
    "HTTP-response-header-size",
    "HTTP-response-body-size",
    "HTTP-response-trailer-section-size",
    "HTTP-response-trailer-size",
    "HTTP-response-transfer-coding",
    "HTTP-response-content-coding",
    "HTTP-response-timeout",
    "HTTP-upgrade-failed",
    "HTTP-protocol-error",
    "loop-detected",
    "configuration-error",
    "internal-error",
)
_CODE_OF_CLASS = {
    "ErrorCode_" + "".join(part.capitalize() for part in code.split("-")): code
    for code in ERROR_CODES
}
_TIMEOUT_CODES = frozenset(
    {
        "DNS-timeout",
        "connection-timeout",
        "connection-read-timeout",
        "connection-write-timeout",
        "HTTP-response-timeout",
    }
)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")


def fetch(
    url: str,
    method: str = "GET",
    headers: HeadersInit = None,
    body: bytes | bytearray | memoryview | str | None = None,
    timeout: float | None = None,
    *,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> Response:
    """Send one request and return the whole response (see the module's text)."""
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
    return send(
        Request(method, url, headers, data), timeout=timeout, max_response_bytes=max_response_bytes
    )


def send(
    request: Request,
    *,
    timeout: float | None = None,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> Response:
    """Send `request` (its `uri` a full URL, or a path for a self request)."""
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return _Exchange(request, timeout, max_response_bytes).run()


def make_fields(headers: Iterable[tuple[str, str]], kind: str) -> Any:
    """wasi:http fields of `headers`; a header the host refuses is dropped, and said so."""
    types = wit_import("wasi_http_types")
    entries = [(name, value.encode("utf-8")) for name, value in headers]
    try:
        return types.Fields.from_list(entries)
    except err_type():
        pass
    # Some header was refused (invalid, or forbidden such as `connection`):
    # keep the others and say which one was dropped.
    fields = types.Fields()
    for name, value in entries:
        try:
            fields.append(name, value)
        except err_type() as exc:
            why = type(getattr(exc, "value", None)).__name__.removeprefix("HeaderError_")
            sys.stderr.write(f"edge: dropped {kind} header {name!r} ({why})\n")
    return fields


def header_text(value: bytes) -> str:
    # Header values should be UTF-8 (usually ASCII); latin-1 keeps any other bytes.
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


class _Exchange:
    """One request and its response, every wait bounded by the deadline if there is one."""

    def __init__(self, request: Request, timeout: float | None, limit: int) -> None:
        self.request = request
        self.timeout = timeout
        self.limit = limit
        self.types = wit_import("wasi_http_types")
        self.streams = wit_import("streams")
        self.poll = wit_import("poll")
        self.clock = wit_import("monotonic_clock")
        self.Err: Any = err_type()
        self.what = f"{request.method} {request.uri}"
        self.deadline = None if timeout is None else self.clock.now() + int(timeout * _NS)

    def run(self) -> Response:
        outgoing = self._outgoing()
        body = outgoing.body()  # taken before `handle`, which takes the request
        try:
            future = wit_import("outgoing_handler").handle(outgoing, self._options())
        except self.Err as exc:
            body.__exit__(None, None, None)
            raise self._failure(exc.value) from None
        with future:
            self._send_body(body)
            response = self._response(future)
        with response:
            status = response.status()
            with response.headers() as fields:  # a child of the response
                headers = [(name, header_text(value)) for name, value in fields.entries()]
            content = self._read_body(response)
        return Response(status, headers, content)

    def _outgoing(self) -> Any:
        t = self.types
        parts = urlsplit(self.request.uri)
        headers = self.request.headers.raw()
        method = self.request.method
        body = self.request.body
        if "content-length" not in self.request.headers and (body or method in _BODY_METHODS):
            # Known in advance, so say it: not every server reads a chunked body.
            headers = [*headers, ("content-length", str(len(body)))]
        outgoing = t.OutgoingRequest(make_fields(headers, "request"))
        if method in _METHODS:
            outgoing.set_method(getattr(t, f"Method_{method.capitalize()}")())
        else:
            outgoing.set_method(t.Method_Other(method))
        if parts.netloc:  # else a self request: no scheme, no authority
            if parts.username is not None:
                raise ValueError(f"{self.what}: credentials in the URL are not supported")
            scheme = parts.scheme.lower()
            if scheme == "http":
                outgoing.set_scheme(t.Scheme_Http())
            elif scheme == "https":
                outgoing.set_scheme(t.Scheme_Https())
            else:
                outgoing.set_scheme(t.Scheme_Other(scheme))
            outgoing.set_authority(parts.netloc)
        elif parts.scheme:
            raise ValueError(f"{self.what}: not a URL (no host) nor a path")
        path = parts.path or "/"
        outgoing.set_path_with_query(f"{path}?{parts.query}" if parts.query else path)
        return outgoing

    def _options(self) -> Any:
        if self.timeout is None:
            return None
        options = self.types.RequestOptions()
        ns = int(self.timeout * _NS)
        for setter in (
            options.set_connect_timeout,
            options.set_first_byte_timeout,
            options.set_between_bytes_timeout,
        ):
            # A host may not support one of them; the deadline still holds.
            with contextlib.suppress(self.Err):
                setter(ns)
        return options

    def _send_body(self, body: Any) -> None:
        data = memoryview(self.request.body)
        stream = body.write()  # a child of the body: dropped before finish
        try:
            sent = 0
            while sent < len(data):
                permit = stream.check_write()
                if permit == 0:
                    self._wait(stream.subscribe(), "sending the request body")
                    continue
                piece = bytes(data[sent : sent + min(permit, _WRITE)])
                stream.write(piece)
                sent += len(piece)
            stream.flush()
            while stream.check_write() == 0:  # 0 until the flush is done
                self._wait(stream.subscribe(), "sending the request body")
        except self.Err:
            # The upstream stopped reading (it answered early, or failed): what
            # it said, or why it failed, comes with the response.
            stream.__exit__(None, None, None)
            body.__exit__(None, None, None)
            return
        stream.__exit__(None, None, None)
        try:
            self.types.OutgoingBody.finish(body, None)
        except self.Err as exc:
            raise self._failure(exc.value) from None

    def _response(self, future: Any) -> Any:
        self._wait(future.subscribe(), "waiting for the response")
        result = future.get()
        if result is None or isinstance(result, self.Err):
            raise OutboundHTTPError(f"{self.what}: the host gave no response", url=self.request.uri)
        outcome = result.value
        if isinstance(outcome, self.Err):
            raise self._failure(outcome.value)
        return outcome.value

    def _read_body(self, response: Any) -> bytes:
        incoming = response.consume()
        chunks: list[bytes] = []
        size = 0
        try:
            with incoming.stream() as stream:  # a child of the body: dropped before finish
                while True:
                    try:
                        chunk = stream.read(_READ)
                    except self.Err as exc:
                        if isinstance(exc.value, self.streams.StreamError_Closed):
                            break
                        raise self._stream_failure(exc.value) from None
                    if not chunk:
                        self._wait(stream.subscribe(), "reading the response body")
                        continue
                    size += len(chunk)
                    if size > self.limit:
                        raise OutboundHTTPError(
                            f"{self.what}: the response body is longer than {self.limit} bytes "
                            "(raise max_response_bytes to accept more)",
                            "HTTP-response-body-size",
                            self.request.uri,
                        )
                    chunks.append(chunk)
        except BaseException:
            incoming.__exit__(None, None, None)
            raise
        with self.types.IncomingBody.finish(incoming):  # drop the future-trailers at once
            pass
        return b"".join(chunks)

    def _wait(self, pollable: Any, doing: str) -> None:
        """Block on `pollable` (and drop it), but not past the deadline."""
        with pollable:
            if self.deadline is None:
                pollable.block()
                return
            left = self.deadline - self.clock.now()
            if left > 0:
                with self.clock.subscribe_duration(left) as timer:
                    if 0 in self.poll.poll([pollable, timer]):
                        return
        raise HTTPTimeoutError(
            f"{self.what}: timed out after {self.timeout} s while {doing}",
            "HTTP-response-timeout",
            self.request.uri,
        )

    def _stream_failure(self, error: Any) -> OutboundHTTPError:
        if isinstance(error, self.streams.StreamError_LastOperationFailed):
            code = self.types.http_error_code(error.value)
            error.value.__exit__(None, None, None)
            if code is not None:
                return self._failure(code)
        return OutboundHTTPError(
            f"{self.what}: the connection failed while reading the response body",
            "HTTP-response-incomplete",
            self.request.uri,
        )

    def _failure(self, code: Any) -> OutboundHTTPError:
        """The exception for a wasi:http error-code value."""
        name = _CODE_OF_CLASS.get(type(code).__name__, type(code).__name__)
        detail = getattr(code, "value", None)
        text = f"{self.what}: {name}" + (f" ({detail})" if detail not in (None, "") else "")
        if name == "HTTP-request-denied":
            return HTTPRequestDenied(
                f"{text}: allowed_outbound_hosts does not allow this URL", name, self.request.uri
            )
        if name in _TIMEOUT_CODES:
            if self.deadline is not None and self.clock.now() >= self.deadline - _NEAR_DEADLINE:
                # The host was given the same bound as our own deadline and fired
                # first: the caller's timeout is what ran out.
                text = f"{self.what}: timed out after {self.timeout} s ({name})"
            return HTTPTimeoutError(text, name, self.request.uri)
        return OutboundHTTPError(text, name, self.request.uri)
