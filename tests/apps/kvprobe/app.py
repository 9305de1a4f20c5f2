"""A raw key-value probe for replication tests: values in and out, byte for byte."""

from framework import HTTPError, Request, Response, http_component, kv


@http_component("/kv", methods=["GET"])
def list_keys(req: Request) -> list[str]:
    return sorted(kv.open_default().keys())


@http_component("/kv/:key", methods=["GET"])
def get_value(req: Request) -> Response:
    value = kv.open_default().get(req.params["key"])
    if value is None:
        raise HTTPError(404, "no such key")
    return Response(200, {"content-type": "application/octet-stream"}, value)


@http_component("/kv/:key", methods=["PUT"])
def put_value(req: Request) -> Response:
    kv.open_default().set(req.params["key"], req.body)
    return Response(200, {"content-type": "text/plain"}, "stored")


@http_component("/kv/:key", methods=["DELETE"])
def delete_value(req: Request) -> Response:
    kv.open_default().delete(req.params["key"])
    return Response(204)
