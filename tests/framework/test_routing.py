from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from framework.routing import MethodNotAllowed, NotFound, Route, RouteMatch, Router


def build(*routes: str | tuple[str, list[str] | None]) -> Router[str]:
    router: Router[str] = Router()
    for item in routes:
        pattern, methods = (item, None) if isinstance(item, str) else item
        router.add(pattern, pattern if methods is None else f"{pattern} {methods}", methods)
    return router


def winner(router: Router[str], path: str, method: str = "GET") -> str | None:
    found = router.match(method, path)
    return None if found is None else found.route


# --- syntax -------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    ["todos", "", "/a/.../b", "/a/*/b", "/a//b", "/a/:", "/a/:1x", "/a/:id/:id", "/a?x=1"],
)
def test_invalid_routes_are_refused_with_the_route_in_the_message(pattern: str) -> None:
    with pytest.raises(ValueError, match="route"):
        Route.parse(pattern)


def test_trailing_slash_and_star_forms_are_normalised() -> None:
    assert Route.parse("/todos/").segments == ("todos",)
    star, dots = Route.parse("/files/*"), Route.parse("/files/...")
    assert star.wildcard and dots.wildcard and star.segments == dots.segments == ("files",)
    assert Route.parse("/").segments == () and not Route.parse("/").wildcard


# --- matching (the examples of Spin's HTTP trigger documentation) -----------------------


def test_exact_route_matches_only_itself() -> None:
    router = build("/cart", "/cart/checkout")
    assert winner(router, "/cart") == "/cart"
    assert winner(router, "/cart/checkout") == "/cart/checkout"
    assert winner(router, "/cart/other") is None
    assert winner(router, "/cartx") is None


def test_a_trailing_slash_on_the_path_is_tolerated() -> None:
    assert winner(build("/cart"), "/cart/") == "/cart"


@pytest.mark.parametrize(
    ("path", "matches"),
    [
        ("/users/1/edit", True),
        ("/users/alice/edit", True),
        ("/users", False),
        ("/users/1", False),
        ("/users/1/edit/cart", False),
        ("/users//edit", False),  # a parameter never matches an empty segment
    ],
)
def test_single_segment_parameter(path: str, matches: bool) -> None:
    found = build("/users/:userid/edit").match("GET", path)
    assert (found is not None) == matches
    if found is not None:
        assert found.params == {"userid": path.split("/")[2]}


@pytest.mark.parametrize("path", ["/users", "/users/", "/users/1", "/users/1/edit"])
def test_trailing_wildcard_matches_prefix_and_below(path: str) -> None:
    assert winner(build("/users/..."), path) == "/users/..."


def test_trailing_wildcard_does_not_match_a_longer_segment() -> None:
    assert winner(build("/users/..."), "/usersx") is None


@pytest.mark.parametrize("path", ["/", "/a", "/a/b/c", "/favicon.ico"])
def test_root_wildcard_matches_everything(path: str) -> None:
    assert winner(build("/..."), path) == "/..."


def test_root_route_matches_only_root() -> None:
    router = build("/")
    assert winner(router, "/") == "/"
    assert winner(router, "/a") is None


@pytest.mark.parametrize(
    ("path", "info"),
    [
        ("/foo", ""),
        ("/foo/", "/"),
        ("/foo/bar", "/bar"),
        ("/foo/bar/", "/bar/"),
        ("/foo/a/b", "/a/b"),
    ],
)
def test_path_info_is_what_the_wildcard_matched_as_spin_reports_it(path: str, info: str) -> None:
    found = build("/foo/...").match("GET", path)
    assert found is not None and found.path_info == info


def test_parameters_are_returned_raw() -> None:
    found = build("/files/:name").match("GET", "/files/a%20b")
    assert found is not None and found.params == {"name": "a%20b"}


# --- precedence ------------------------------------------------------------------


SPIN_DOC_ROUTES = ["/users/...", "/users/admin", "/..."]


@pytest.mark.parametrize("order", list(itertools.permutations(SPIN_DOC_ROUTES)))
def test_spin_overlapping_routes_example_regardless_of_order(order: tuple[str, ...]) -> None:
    router = build(*order)
    assert winner(router, "/users/1") == "/users/..."
    assert winner(router, "/users/admin") == "/users/admin"
    assert winner(router, "/shop/cart") == "/..."
    assert winner(router, "/users") == "/users/..."


@pytest.mark.parametrize(
    "order", list(itertools.permutations(["/one/...", "/one/two/...", "/one/two/three/..."]))
)
def test_longest_wildcard_prefix_wins(order: tuple[str, ...]) -> None:
    router = build(*order)
    assert winner(router, "/one/two/three/four") == "/one/two/three/..."
    assert winner(router, "/one/two") == "/one/two/..."
    assert winner(router, "/one/x") == "/one/..."


@pytest.mark.parametrize(
    "order", list(itertools.permutations(["/users/...", "/users/:id", "/users/admin", "/..."]))
)
def test_literal_beats_parameter_beats_wildcard(order: tuple[str, ...]) -> None:
    router = build(*order)
    assert winner(router, "/users/admin") == "/users/admin"
    assert winner(router, "/users/7") == "/users/:id"
    assert winner(router, "/users/7/posts") == "/users/..."


def test_exact_route_beats_the_wildcard_for_the_prefix_itself() -> None:
    router = build("/users/...", "/users")
    assert winner(router, "/users") == "/users"
    assert winner(router, "/users/1") == "/users/..."


def test_leftmost_difference_decides() -> None:
    assert winner(build("/:x/b", "/a/..."), "/a/b") == "/a/..."
    assert winner(build("/:x/b", "/a/:y"), "/a/b") == "/a/:y"


def test_same_shape_routes_must_serve_different_methods() -> None:
    with pytest.raises(ValueError, match="overlaps '/a/:x'"):
        build("/a/:x", "/a/:y")


PATTERNS = ["/", "/...", "/a", "/a/...", "/a/:p", "/a/b", "/a/b/...", "/:p/b", "/a/:p/c", "/:p"]


@given(
    st.lists(st.sampled_from(PATTERNS), min_size=1, unique=True).flatmap(st.permutations),
    st.lists(st.sampled_from(["a", "b", "c", "x"]), max_size=4),
    st.randoms(),
)
def test_winner_does_not_depend_on_registration_order(
    patterns: list[str], segments: list[str], rnd: object
) -> None:
    path = "/" + "/".join(segments)
    shuffled = list(patterns)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert winner(build(*patterns), path) == winner(build(*shuffled), path)


# --- methods -------------------------------------------------------------------------


def test_methods_on_one_route_and_405_lists_them() -> None:
    router = build(("/todos", ["GET"]), ("/todos", ["POST"]))
    get, post = router.match("GET", "/todos"), router.match("post", "/todos")
    assert get is not None and get.handler == "/todos ['GET']"
    assert post is not None and post.handler == "/todos ['POST']"
    result = router.resolve("DELETE", "/todos")
    assert isinstance(result, MethodNotAllowed)
    assert result.allow_header == "GET, HEAD, POST"
    assert router.match("DELETE", "/todos") is None


def test_404_when_no_route_matches_the_path() -> None:
    assert isinstance(build(("/todos", ["GET"])).resolve("GET", "/nope"), NotFound)


def test_405_allow_is_the_union_over_matching_routes() -> None:
    router = build(("/items/:id", ["PUT"]), ("/items/...", ["POST"]), ("/other", ["GET"]))
    result = router.resolve("DELETE", "/items/3")
    assert isinstance(result, MethodNotAllowed) and result.allow == ("POST", "PUT")


def test_a_less_specific_route_serves_methods_the_specific_one_lacks() -> None:
    router = build(("/todos/:id", ["GET"]), "/...")
    found = router.match("POST", "/todos/1")
    assert found is not None and found.route == "/..."
    found = router.match("GET", "/todos/1")
    assert found is not None and found.route == "/todos/:id"


def test_head_falls_back_to_get_and_says_so() -> None:
    found = build(("/page", ["GET"])).match("HEAD", "/page")
    assert isinstance(found, RouteMatch)
    assert found.handler == "/page ['GET']" and found.method == "GET"


def test_explicit_head_handler_wins_over_the_get_fallback() -> None:
    router = build(("/page", ["GET"]), ("/page", ["HEAD"]))
    found = router.match("HEAD", "/page")
    assert found is not None and found.handler == "/page ['HEAD']" and found.method == "HEAD"


def test_any_method_route_serves_every_method() -> None:
    router = build("/hook")
    for method in ("GET", "POST", "PROPFIND", "HEAD"):
        found = router.match(method, "/hook")
        assert found is not None and found.method == method


def test_registering_the_same_method_twice_is_an_error() -> None:
    router = build(("/todos", ["GET", "POST"]))
    with pytest.raises(ValueError, match="POST"):
        router.add("/todos", "again", ["POST"])
    with pytest.raises(ValueError, match="overlaps"):
        router.add("/todos/", "slash", ["GET"])  # the same path, spelled differently
    with pytest.raises(ValueError):
        router.add("/todos", "all", None)
    router.add("/todos", "delete", ["DELETE"])  # a new method is fine
    assert router.routes == [("/todos", frozenset({"GET", "POST", "DELETE"}))]


def test_same_shape_with_other_names_counts_as_the_same_path() -> None:
    router = build(("/a/:x", ["GET"]))
    with pytest.raises(ValueError):
        router.add("/a/:y", "y", ["GET"])
    router.add("/a/:y", "y", ["PUT"])
    found = router.match("PUT", "/a/1")
    assert found is not None and found.params == {"y": "1"}


@pytest.mark.parametrize("methods", [[], ["G ET"], [""], [1]])
def test_invalid_methods_are_refused(methods: list[object]) -> None:
    with pytest.raises(ValueError):
        Router().add("/x", "h", methods)  # type: ignore[arg-type]
