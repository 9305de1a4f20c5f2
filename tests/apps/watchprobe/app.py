"""Watch mode's probe: an answer the tests rewrite, and a key-value store that outlives it."""

from framework import HTTPError, Request, Response, http_component, kv

ANSWER = "answer-1"


@http_component("/answer", methods=["GET"])
def answer(req: Request) -> Response:
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
