from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import framework.http as fhttp
from framework import (
    BadRequest,
    Headers,
    HTTPError,
    KVOtherError,
    Request,
    Response,
    Router,
    handle_request,
    http_component,
)
from framework.http import split_uri, to_response

Result = tuple[int, dict[str, str], bytes]


@pytest.fixture
def router(monkeypatch: pytest.MonkeyPatch) -> Router[Any]:
    """A fresh default router, so that tests do not share registrations."""
    fresh: Router[Any] = Router()
    monkeypatch.setattr(fhttp, "default_router", fresh)
    return fresh


def call(
    method: str,
    uri: str,
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
) -> Result:
    status, out_headers, out_body = handle_request(method, uri, headers or [], body)
    assert len({k for k, _ in out_headers}) == len(out_headers), "no repeated header here"
    return status, dict(out_headers), out_body


def serve(handler: Callable[[Request], Any], route: str = "/x", methods: Any = None) -> None:
    http_component(route, methods)(handler)


# --- URIs, query strings, headers ------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "path", "query"),
    [
        ("/todos?a=1", "/todos", "a=1"),
        ("http://example.com:3000/todos/1?x=y#frag", "/todos/1", "x=y"),
        ("https://example.com", "/", ""),
        ("//double/slash?q", "//double/slash", "q"),  # a path, not a host
        ("", "/", ""),
        ("/a%20b", "/a%20b", ""),
    ],
)
def test_split_uri(uri: str, path: str, query: str) -> None:
    assert split_uri(uri) == (path, query)


def test_query_first_value_and_every_value() -> None:
    req = Request("get", "/search?tag=a&tag=b&q=hello%20world&empty=&plus=a+b")
    assert req.method == "GET"
    assert req.query == {"tag": "a", "q": "hello world", "empty": "", "plus": "a b"}
    assert req.query_list("tag") == ["a", "b"]
    assert req.query_list("missing") == []
    assert req.query_string == "tag=a&tag=b&q=hello%20world&empty=&plus=a+b"


def test_headers_are_case_insensitive_and_keep_repeats() -> None:
    req = Request("GET", "/", [("Content-Type", "text/plain"), ("X-Tag", "a"), ("x-tag", "b")])
    assert req.headers["content-type"] == "text/plain"
    assert req.headers["CONTENT-TYPE"] == "text/plain"
    assert "Content-type" in req.headers and "missing" not in req.headers
    assert req.headers.get("missing") is None
    assert req.headers["x-tag"] == "a" and req.headers.get_all("X-TAG") == ["a", "b"]
    assert sorted(req.headers) == ["content-type", "x-tag"] and len(req.headers) == 2


def test_headers_set_replaces_add_appends_delete_removes() -> None:
    headers = Headers({"A": "1"})
    headers.add("a", "2")
    assert headers.raw() == [("a", "1"), ("a", "2")]
    headers["A"] = "3"
    assert headers.get_all("a") == ["3"]
    del headers["a"]
    assert "a" not in headers and headers.raw() == []
    with pytest.raises(TypeError):
        headers.add("b", 1)  # type: ignore[arg-type]


def test_text_uses_the_declared_charset() -> None:
    latin = Request(
        "POST", "/", {"content-type": "text/plain; charset=latin-1"}, "é".encode("latin-1")
    )
    assert latin.text == "é"
    assert Request("POST", "/", None, "é".encode()).text == "é"
    assert Request("POST", "/", {"content-type": "text/plain; charset=nope"}, b"ok").text == "ok"


def test_json_parses_the_body() -> None:
    assert Request("POST", "/", body=b'{"a": [1, 2]}').json() == {"a": [1, 2]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "UTF-8"),
        (b"[" * 100_000, "JSON"),
    ],
)
def test_json_errors_are_bad_requests(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message) as info:
        Request("POST", "/", body=body).json()
    assert info.value.status == 400


def test_invalid_json_becomes_a_400_with_a_clear_json_error(router: Router[Any]) -> None:
    serve(lambda req: req.json(), methods=["POST"])
    status, headers, body = call("POST", "/x", b'{"a": }')
    assert status == 400 and headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert error.startswith("request body is not valid JSON") and "line 1, column 7" in error


def test_params_are_decoded_and_path_is_raw(router: Router[Any]) -> None:
    seen: dict[str, Any] = {}

    def handler(req: Request) -> None:
        seen.update(path=req.path, params=req.params, route=req.route, info=req.path_info)

    serve(handler, "/files/:name/...")
    assert call("GET", "/files/a%20b/c/d")[0] == 204
    assert seen == {
        "path": "/files/a%20b/c/d",
        "params": {"name": "a b"},
        "route": "/files/:name/...",
        "info": "/c/d",
    }


# --- return values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status", "ctype", "body"),
    [
        ({"a": 1, "é": "ü"}, 200, "application/json", '{"a":1,"é":"ü"}'.encode()),
        ([1, "two"], 200, "application/json", b'[1,"two"]'),
        ("héllo", 200, "text/plain; charset=utf-8", "héllo".encode()),
        (b"\x00\x01", 200, "application/octet-stream", b"\x00\x01"),
        (bytearray(b"ab"), 200, "application/octet-stream", b"ab"),
        (None, 204, None, b""),
        (Response(201, {"X-A": "b"}, b"made"), 201, None, b"made"),
    ],
)
def test_return_values_are_converted(
    router: Router[Any], value: object, status: int, ctype: str | None, body: bytes
) -> None:
    serve(lambda req: value)
    got_status, headers, got_body = call("GET", "/x")
    assert (got_status, headers.get("content-type"), got_body) == (status, ctype, body)


def test_unsupported_return_type_is_a_500_explained_on_stderr(
    router: Router[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    serve(lambda req: 42)
    status, _, body = call("GET", "/x")
    assert status == 500 and json.loads(body) == {"error": "internal server error"}
    assert "a handler returned int" in capsys.readouterr().err


# --- errors ------------------------------------------------------------------------------


def test_handler_exception_is_a_generic_500_with_the_traceback_on_stderr(
    router: Router[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(req: Request) -> None:
        raise RuntimeError("secret password=hunter2")

    serve(broken)
    status, headers, body = call("GET", "/x")
    assert status == 500 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": "internal server error"}
    assert b"hunter2" not in body and b"RuntimeError" not in body
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "RuntimeError: secret password=hunter2" in err and "broken" in err


def test_uncaught_framework_errors_are_generic_500s(
    router: Router[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    def storage(req: Request) -> None:
        raise KVOtherError("disk I/O error at /var/lib/edge/kv.db")

    serve(storage)
    status, _, body = call("GET", "/x")
    assert status == 500 and json.loads(body) == {"error": "internal server error"}
    assert "KVOtherError: disk I/O error" in capsys.readouterr().err


def test_http_error_sets_status_message_and_headers(router: Router[Any]) -> None:
    def teapot(req: Request) -> None:
        raise HTTPError(418, "short and stout", headers={"retry-after": "5"})

    serve(teapot)
    status, headers, body = call("GET", "/x")
    assert status == 418 and json.loads(body) == {"error": "short and stout"}
    assert headers["retry-after"] == "5" and headers["content-type"] == "application/json"


def test_http_error_without_message_uses_the_reason_phrase() -> None:
    assert HTTPError(404).message == "Not Found"
    assert str(HTTPError(409, "taken")) == "taken"


def test_http_error_with_an_impossible_status_is_a_500(router: Router[Any]) -> None:
    def bad(req: Request) -> None:
        raise HTTPError(1000, "nope")

    serve(bad)
    assert call("GET", "/x")[0] == 500


def test_404_and_405_are_json_and_405_has_allow(router: Router[Any]) -> None:
    serve(lambda req: "ok", "/only-get", ["GET"])
    status, headers, body = call("GET", "/elsewhere")
    assert status == 404 and json.loads(body) == {"error": "not found"}
    assert headers["content-type"] == "application/json"
    status, headers, body = call("DELETE", "/only-get")
    assert status == 405 and json.loads(body) == {"error": "method not allowed"}
    assert headers["allow"] == "GET, HEAD"


# --- HEAD and body-less statuses ----------------------------------------------------------


def test_head_runs_the_get_handler_without_sending_the_body(router: Router[Any]) -> None:
    methods: list[str] = []

    def page(req: Request) -> Response:
        methods.append(req.method)
        return Response(200, {"content-length": "5", "x-a": "1"}, "hello")

    serve(page, "/page", ["GET"])
    status, headers, body = call("HEAD", "/page")
    assert (status, body) == (200, b"")
    assert headers["x-a"] == "1" and headers["content-type"] == "text/plain; charset=utf-8"
    assert "content-length" not in headers  # the host frames the (empty) body
    assert methods == ["HEAD"]  # the handler sees the real method


def test_no_body_is_sent_with_204_or_304(router: Router[Any]) -> None:
    serve(lambda req: Response(int(req.query["s"]), body="ignored"))
    assert call("GET", "/x?s=204")[::2] == (204, b"")
    assert call("GET", "/x?s=304")[::2] == (304, b"")
    assert call("GET", "/x?s=200")[::2] == (200, b"ignored")


# --- Response -------------------------------------------------------------------------


def test_response_takes_status_first_and_encodes_str() -> None:
    response = Response(201, {"X-Id": "7"}, "créé")
    assert response.status == 201 and response.body == "créé".encode()
    assert response.headers["x-id"] == "7"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert Response(200, {"content-type": "text/csv"}, "a,b").headers["content-type"] == "text/csv"
    assert Response().status == 200 and Response().body == b""


def test_response_constructors() -> None:
    made = Response.json({"id": 1}, status=201, headers={"location": "/x/1"})
    assert (made.status, made.body) == (201, b'{"id":1}')
    assert made.headers["content-type"] == "application/json"
    assert made.headers["location"] == "/x/1"
    assert Response.html("<p>").headers["content-type"] == "text/html; charset=utf-8"
    moved = Response.redirect("/new", 301)
    assert (moved.status, moved.headers["location"]) == (301, "/new")


@pytest.mark.parametrize("status", [99, 600, True, "200"])
def test_response_refuses_impossible_statuses(status: object) -> None:
    with pytest.raises(ValueError, match="status"):
        Response(status)  # type: ignore[arg-type]


def test_response_refuses_other_body_types_and_nan() -> None:
    with pytest.raises(TypeError, match="bytes or str"):
        Response(200, None, 12)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Response.json({"x": float("nan")})


def test_async_handlers_are_refused_clearly() -> None:
    async def handler() -> None:
        return None

    with pytest.raises(TypeError, match="async handlers are not supported"):
        to_response(handler())


# --- registration ------------------------------------------------------------------------


def test_several_handlers_per_app_with_methods(router: Router[Any]) -> None:
    @http_component("/todos", methods=["GET"])
    def list_todos(req: Request) -> list[str]:
        return ["a"]

    @http_component("/todos", methods="POST")
    def create(req: Request) -> Response:
        return Response.json(req.json(), status=201)

    @http_component("/todos/:id")
    def one(req: Request) -> dict[str, str]:
        return {"id": req.params["id"]}

    assert list_todos.__name__ == "list_todos"  # the decorator returns the function
    assert call("GET", "/todos")[::2] == (200, b'["a"]')
    assert call("POST", "/todos", b'{"t":1}')[::2] == (201, b'{"t":1}')
    assert call("PATCH", "/todos/9")[::2] == (200, b'{"id":"9"}')
    assert call("PUT", "/todos")[1]["allow"] == "GET, HEAD, POST"


def test_bare_decorator_serves_every_path(router: Router[Any]) -> None:
    @http_component
    def everything(req: Request) -> str:
        return req.path

    assert call("GET", "/any/where")[::2] == (200, b"/any/where")


def test_explicit_router_argument(router: Router[Any]) -> None:
    mine: Router[Any] = Router()
    http_component("/mine", router=mine)(lambda req: "mine")
    assert handle_request("GET", "/mine", [], b"", router=mine)[0] == 200
    assert call("GET", "/mine")[0] == 404  # the default router did not get it


def test_importing_framework_does_not_load_the_bindings() -> None:
    code = (
        "import sys, framework; "
        "print('wit_world' in sys.modules, 'componentize_py_types' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.split() == ["False", "False"]


def test_response_json_and_text_build_on_the_class_and_read_on_an_instance() -> None:
    built = Response.json({"a": [1, "é"]}, status=201)
    assert (built.status, built.body) == (201, '{"a":[1,"é"]}'.encode())
    assert built.json() == {"a": [1, "é"]}
    text = Response.text("hé", headers={"x": "1"})
    assert text.text == "hé" and text.headers["content-type"].startswith("text/plain")
    latin = Response(200, {"content-type": "text/plain; charset=latin-1"}, "é".encode("latin-1"))
    assert latin.text == "é"
    with pytest.raises(ValueError):
        Response(200, {}, b"not json").json()
