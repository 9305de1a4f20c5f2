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


@http_component("/kv/seq/:name", methods=["POST"])
def create_numbered(req: Request) -> Response:
    """Store the body under `<name>:<n>`, n from a counter key: the todo demo's old ids.

    Two regions that create at once both read the same counter and take the
    same n; last-writer-wins then keeps one of the two (the lost-writes checker
    is tested on it).
    """
    store = kv.open_default()
    name = req.params["name"]
    number = int(store.get(f"next:{name}") or b"1")
    while store.exists(f"{name}:{number}"):
        number += 1
    store.set(f"next:{name}", str(number + 1).encode())
    store.set(f"{name}:{number}", req.body)
    return Response(201, {"content-type": "text/plain"}, str(number))
