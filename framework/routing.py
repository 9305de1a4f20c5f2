"""Spin's HTTP route syntax and matching, shared by the guest and the local host.

Route syntax (as in Spin's manifest):

- ``/todos`` is exact: it matches ``/todos`` (and ``/todos/``) only;
- ``:name`` is a single-segment parameter: ``/todos/:id`` matches ``/todos/7``;
- a trailing ``/...`` (or ``/*``, which Spin also accepts) matches the prefix
  itself and everything below it: ``/todos/...`` matches ``/todos``,
  ``/todos/7`` and ``/todos/7/tags``; ``/...`` matches every path.

Precedence, when several routes match a path. Spin's documentation ("Resolving
Overlapping Routes", spinframework.dev/http-trigger) says the route with the
longest matching prefix wins, so exact matches beat wildcard matches; Spin's
router (``spin_http_routes`` on ``routefinder``) ranks segment by segment from
the left, a literal segment above a ``:param`` above a wildcard. Here every
route gets a key with one rank per segment (literal 0, parameter 1, trailing
wildcard 2) and the lowest key wins (tuples compare left to right, and a
route that ends where another continues with its wildcard wins). So:

- ``/users/admin`` beats ``/users/:id`` beats ``/users/...`` beats ``/...``;
- ``/users`` beats ``/users/...`` for the path ``/users``;
- ``/a/...`` beats ``/:x/b`` for ``/a/b`` (the leftmost difference decides).

The result never depends on registration order: two routes of the same shape
(``/a/:x`` and ``/a/:y``, or ``/a`` and ``/a/``) must serve different methods,
and `Router.add` refuses the second otherwise, since it could never be reached.

Methods: a route may serve some methods or all (``methods=None``). The most
specific route that serves the request's method wins; a less specific route
serving the method is used when a more specific one does not (as Starlette
does). If routes match the path but none serves the method, the result is a
405 whose ``allow`` lists what they do serve.

HEAD: a route without an explicit HEAD (or any-method) handler answers HEAD
with its GET handler; the caller must then send the headers without the body.
``RouteMatch.method`` says which method's handler was chosen.

Matching is on the raw (still percent-encoded) path, as Spin does; parameter
values are returned raw too, and decoding them is the caller's choice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

H = TypeVar("H")

_LITERAL, _PARAM, _WILDCARD = 0, 1, 2
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_METHOD_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")


@dataclass(frozen=True)
class Route:
    """A parsed route pattern."""

    pattern: str
    segments: tuple[str, ...]  # literals, and parameters as ":name"
    wildcard: bool

    @classmethod
    def parse(cls, pattern: str) -> Route:
        if not isinstance(pattern, str) or not pattern.startswith("/"):
            raise ValueError(f"route {pattern!r} must be a string starting with '/'")
        body, wildcard = pattern, False
        for suffix in ("/...", "/*"):
            if body.endswith(suffix):
                body, wildcard = body[: -len(suffix)], True
                break
        # Spin ignores one trailing slash on a route ("/todos/" is "/todos").
        body = body.removesuffix("/")
        segments = tuple(body.split("/")[1:]) if body else ()
        names: set[str] = set()
        for seg in segments:
            if seg in ("", "...", "*") or "?" in seg or "#" in seg:
                raise ValueError(
                    f"route {pattern!r} has an invalid segment {seg!r} "
                    "(a wildcard may only end a route, as '/...')"
                )
            if seg.startswith(":"):
                name = seg[1:]
                if not _PARAM_NAME.match(name):
                    raise ValueError(f"route {pattern!r} has an invalid parameter name {seg!r}")
                if name in names:
                    raise ValueError(f"route {pattern!r} uses the parameter {seg!r} twice")
                names.add(name)
        return cls(pattern, segments, wildcard)

    @property
    def key(self) -> tuple[int, ...]:
        """Precedence key: the smallest key among matching routes wins."""
        ranks = tuple(_PARAM if s.startswith(":") else _LITERAL for s in self.segments)
        return ranks + ((_WILDCARD,) if self.wildcard else ())

    @property
    def canonical(self) -> str:
        """The pattern with parameter names erased: equal for same-shape routes."""
        shape = "".join("/:" if s.startswith(":") else "/" + s for s in self.segments)
        return shape + ("/..." if self.wildcard else "")

    def match(self, path: str) -> tuple[dict[str, str], str] | None:
        """(raw params, path info) if `path` matches, else None."""
        parts, trailing_slash = split_path(path)
        n = len(self.segments)
        if len(parts) < n or (len(parts) > n and not self.wildcard):
            return None
        params: dict[str, str] = {}
        for seg, part in zip(self.segments, parts, strict=False):
            if seg.startswith(":"):
                if not part:
                    return None
                params[seg[1:]] = part
            elif seg != part:
                return None
        # Spin's `spin-path-info`: what the wildcard matched, keeping a trailing slash.
        info = "".join("/" + p for p in parts[n:]) if self.wildcard else ""
        if self.wildcard and trailing_slash:
            info += "/"
        return params, info


def split_path(path: str) -> tuple[list[str], bool]:
    """Path segments (without the leading one) and whether a trailing slash was cut."""
    if not path.startswith("/"):
        path = "/" + path
    parts = path.split("/")[1:]
    if parts and parts[-1] == "":
        return parts[:-1], True
    return parts, False


def normalize_methods(methods: str | Iterable[str] | None) -> frozenset[str] | None:
    """Upper-cased method names; None means every method."""
    if methods is None:
        return None
    items = [methods] if isinstance(methods, str) else list(methods)
    if not items:
        raise ValueError("methods must not be empty (use None for every method)")
    out = set()
    for m in items:
        if not isinstance(m, str) or not _METHOD_TOKEN.match(m):
            raise ValueError(f"invalid HTTP method {m!r}")
        out.add(m.upper())
    return frozenset(out)


@dataclass(frozen=True)
class RouteMatch(Generic[H]):
    """The route chosen for a request."""

    handler: H
    route: str  # the pattern as registered, e.g. "/todos/:id"
    params: dict[str, str]  # raw (percent-encoded) parameter values
    path_info: str  # the part matched by a trailing wildcard, as Spin's spin-path-info
    method: str  # the method whose handler was chosen ("GET" for a HEAD fallback)


@dataclass(frozen=True)
class NotFound:
    """No route matches the path (404)."""


@dataclass(frozen=True)
class MethodNotAllowed:
    """Routes match the path but none serves the method (405)."""

    allow: tuple[str, ...]

    @property
    def allow_header(self) -> str:
        return ", ".join(self.allow)


@dataclass
class _Entry(Generic[H]):
    route: Route
    handlers: dict[str | None, H] = field(default_factory=dict)  # None: every method


class Router(Generic[H]):
    """Routes -> handlers per method, matched by Spin's rules (see module doc)."""

    def __init__(self) -> None:
        self._entries: list[_Entry[H]] = []  # sorted by precedence key

    def add(self, pattern: str, handler: H, methods: str | Iterable[str] | None = None) -> None:
        """Register `handler` for `pattern`; ValueError on a route/method registered twice."""
        route = Route.parse(pattern)
        wanted = normalize_methods(methods)
        keys: list[str | None] = [None] if wanted is None else list(sorted(wanted))
        entry = next((e for e in self._entries if e.route.pattern == route.pattern), None)
        for other in self._entries:
            if other.route.canonical != route.canonical:
                continue
            taken = set(other.handlers)
            if wanted is None and taken or None in taken or taken & set(keys):
                raise ValueError(
                    f"route {pattern!r} overlaps {other.route.pattern!r} for the same "
                    f"methods ({_describe(taken)}): each method of a path needs one handler"
                )
        if entry is None:
            entry = _Entry(route)
            self._entries.append(entry)
            self._entries.sort(key=lambda e: e.route.key)
        for k in keys:
            entry.handlers[k] = handler

    @property
    def routes(self) -> list[tuple[str, frozenset[str] | None]]:
        """(pattern, methods or None) in precedence order."""
        return [
            (e.route.pattern, None if None in e.handlers else frozenset(_only_str(e.handlers)))
            for e in self._entries
        ]

    def resolve(self, method: str, path: str) -> RouteMatch[H] | NotFound | MethodNotAllowed:
        """The handler for `method` on `path`, or why there is none."""
        method = method.upper()
        allow: set[str] = set()
        matched_path = False
        for entry in self._entries:
            found = entry.route.match(path)
            if found is None:
                continue
            matched_path = True
            params, info = found
            chosen = _pick(entry.handlers, method)
            if chosen is not None:
                used, handler = chosen
                return RouteMatch(handler, entry.route.pattern, params, info, used)
            allow.update(_only_str(entry.handlers))
        if not matched_path:
            return NotFound()
        if "GET" in allow:
            allow.add("HEAD")
        return MethodNotAllowed(tuple(sorted(allow)))

    def match(self, method: str, path: str) -> RouteMatch[H] | None:
        """The match for `method` on `path`, or None (use `resolve` to tell 404 from 405)."""
        result = self.resolve(method, path)
        return result if isinstance(result, RouteMatch) else None


def _pick(handlers: dict[str | None, H], method: str) -> tuple[str, H] | None:
    if method in handlers:
        return method, handlers[method]
    if None in handlers:
        return method, handlers[None]
    if method == "HEAD" and "GET" in handlers:
        return "GET", handlers["GET"]
    return None


def _only_str(keys: Iterable[str | None]) -> set[str]:
    return {k for k in keys if k is not None}


def _describe(methods: set[str | None]) -> str:
    return "every method" if None in methods else ", ".join(sorted(_only_str(methods)))
