"""Watch mode's probe: an answer the tests rewrite, and a key-value store that outlives it."""

import time

from framework import HTTPError, Request, Response, http_component, kv

ANSWER = "answer-1"


@http_component("/answer", methods=["GET"])
def answer(req: Request) -> Response:
    return Response(200, {"content-type": "text/plain"}, ANSWER)


@http_component("/slow", methods=["GET"])
def slow(req: Request) -> Response:
    """The answer after `?ms=` milliseconds: a request still running when a swap comes."""
    time.sleep(int(req.query.get("ms", "1000")) / 1000)
    return Response(200, {"content-type": "text/plain"}, ANSWER)


@http_component("/kv/:key", methods=["PUT"])
def put_value(req: Request) -> Response:
    kv.open_default().set(req.params["key"], req.body)
    return Response(200, {"content-type": "text/plain"}, "stored")


@http_component("/kv/:key", methods=["GET"])
def get_value(req: Request) -> Response:
    value = kv.open_default().get(req.params["key"])
    if value is None:
        raise HTTPError(404, "no such key")
    return Response(200, {"content-type": "application/octet-stream"}, value)
