"""An HTTP request and response, as handlers get and give them and as `fetch` returns them."""

from __future__ import annotations

import functools
import inspect
import json as _json
from collections.abc import Callable
from typing import Any, overload
from urllib.parse import parse_qsl, urlsplit

from .errors import BadRequest
from .headers import Headers, HeadersInit

Body = bytes | bytearray | memoryview | str

JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
BINARY_TYPE = "application/octet-stream"


class Request:
    """An incoming HTTP request.

    `path` is the raw (percent-encoded) path; `query` maps each query parameter
    to its first value (`query_list` gives all of them); `params` holds the
    route's `:name` parameters, percent-decoded; `path_info` is what a trailing
    `/...` matched (Spin's `spin-path-info`); `route` is the matched pattern.
    """

    def __init__(
        self,
        method: str,
        uri: str,
        headers: HeadersInit = None,
        body: bytes = b"",
        params: dict[str, str] | None = None,
    ) -> None:
        self.method = method.upper()
        self.uri = uri
        self.path, self.query_string = split_uri(uri)
        self._query_items = parse_qsl(self.query_string, keep_blank_values=True)
        self.query: dict[str, str] = {}
        for name, value in self._query_items:
            self.query.setdefault(name, value)
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.body = bytes(body)
        self.params: dict[str, str] = dict(params or {})
        self.route = ""
        self.path_info = ""

    def query_list(self, name: str) -> list[str]:
        """Every value of a repeated query parameter (`?tag=a&tag=b` -> ["a", "b"])."""
        return [v for k, v in self._query_items if k == name]

    @property
    def query_items(self) -> list[tuple[str, str]]:
        return list(self._query_items)

    @property
    def text(self) -> str:
        """The body decoded with the content-type's charset (UTF-8 by default)."""
        return decode_text(self.body, self.headers.get("content-type", ""))

    def json(self) -> Any:
        """The body parsed as JSON; raises `BadRequest` (-> 400) if it is not JSON."""
        if not self.body.strip():
            raise BadRequest("request body is empty; expected JSON")
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("request body is not valid UTF-8; expected JSON") from None
        try:
            return _json.loads(text)
        except _json.JSONDecodeError as exc:
            raise BadRequest(
                f"request body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from None
        except (ValueError, RecursionError):  # e.g. a huge integer, absurd nesting
            raise BadRequest("request body is not acceptable JSON") from None

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri}>"


class _BuildOrRead:
    """A name that builds a `Response` on the class and reads one on an instance."""

    def __init__(
        self, build: Callable[..., Response], read: Callable[[Response], Any], *, call: bool
    ) -> None:
        self._build, self._read, self._call = build, read, call
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Response]) -> Callable[..., Response]: ...
    @overload
    def __get__(self, obj: Response, owner: type[Response]) -> Any: ...
    def __get__(self, obj: Response | None, owner: type[Response]) -> Any:
        if obj is None:
            return functools.partial(self._build, owner)
        return functools.partial(self._read, obj) if self._call else self._read(obj)


class Response:
    """An HTTP response: `Response(status, headers, body)`, status first.

    A `str` body is sent as UTF-8 and, without a content-type, as text/plain.
    """

    def __init__(self, status: int = 200, headers: HeadersInit = None, body: Body = b"") -> None:
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError(f"HTTP status must be an int from 100 to 599, got {status!r}")
        self.status = status
        self.headers = Headers(headers)
        if isinstance(body, str):
            self.body = body.encode("utf-8")
            if "content-type" not in self.headers:
                self.headers["content-type"] = TEXT_TYPE
        elif isinstance(body, bytes | bytearray | memoryview):
            self.body = bytes(body)
        else:
            raise TypeError(f"response body must be bytes or str, not {type(body).__name__}")

    def _build_json(cls, obj: Any, status: int = 200, headers: HeadersInit = None) -> Response:
        """`obj` as compact UTF-8 JSON (strict: NaN and infinities are refused)."""
        body = _json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return cls._typed(status, headers, body.encode("utf-8"), JSON_TYPE)

    def _build_text(cls, text: str, status: int = 200, headers: HeadersInit = None) -> Response:
        return cls._typed(status, headers, text.encode("utf-8"), TEXT_TYPE)

    def _parse_json(self) -> Any:
        """The body parsed as JSON (a response from `fetch`); ValueError if it is not."""
        return _json.loads(self.body.decode("utf-8"))

    def _decode_text(self) -> str:
        """The body decoded with the content-type's charset (UTF-8 by default)."""
        return decode_text(self.body, self.headers.get("content-type", ""))

    # On the class these build a response (`Response.json({"ok": True})`); on a
    # response, such as one `fetch` returned, they read it (`resp.json()`, `resp.text`).
    json = _BuildOrRead(_build_json, _parse_json, call=True)
    text = _BuildOrRead(_build_text, _decode_text, call=False)

    @classmethod
    def html(cls, html: str, status: int = 200, headers: HeadersInit = None) -> Response:
        return cls._typed(status, headers, html.encode("utf-8"), HTML_TYPE)

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Response:
        return cls(status, {"location": location})

    @classmethod
    def _typed(cls, status: int, headers: HeadersInit, body: bytes, ctype: str) -> Response:
        response = cls(status, headers, body)
        if "content-type" not in response.headers:
            response.headers["content-type"] = ctype
        return response

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self.body)} bytes>"


def error_response(status: int, message: str, headers: HeadersInit = None) -> Response:
    """The framework's error shape: JSON {"error": message}."""
    response = Response.json({"error": message}, status=status, headers=headers)
    response.headers["content-type"] = JSON_TYPE
    return response


def to_response(value: object) -> Response:
    """Convert what a handler returned into a Response."""
    if isinstance(value, Response):
        return value
    if value is None:
        return Response(204)
    if isinstance(value, dict | list):
        return Response.json(value)
    if isinstance(value, str):
        return Response.text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return Response(200, {"content-type": BINARY_TYPE}, value)
    if inspect.iscoroutine(value):
        value.close()  # avoid "never awaited" noise; the message below explains
        raise TypeError("async handlers are not supported: define the handler with def")
    raise TypeError(
        f"a handler returned {type(value).__name__}; return a Response, dict, list, "
        "str, bytes or None"
    )


# --- parsing helpers -----------------------------------------------------------


def split_uri(uri: str) -> tuple[str, str]:
    """(path, query string) of a full URL (`http://h/p?q`) or an origin form (`/p?q`)."""
    uri = uri.partition("#")[0]
    if uri.startswith("/"):
        # Not urlsplit: it would read the "//a" of a path "//a/b" as a host.
        path, _, query = uri.partition("?")
        return path, query
    if "://" in uri:
        parts = urlsplit(uri)
        return parts.path or "/", parts.query
    path, _, query = uri.partition("?")
    return "/" + path, query


def _charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "charset" and value:
            return value.strip().strip('"')
    return None


def decode_text(body: bytes, content_type: str) -> str:
    """`body` decoded with the content type's charset (UTF-8 by default)."""
    charset = _charset(content_type) or "utf-8"
    try:
        return body.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        return body.decode("utf-8", errors="replace")
