"""The smallest edge app: no stores, two routes."""

from framework import Request, Response, http_component


@http_component("/hello", methods=["GET"])
def hello(req: Request) -> dict[str, str]:
    name = req.query.get("name", "world")
    return {"message": f"hello, {name}"}


@http_component("/echo/...", methods=["POST"])
def echo(req: Request) -> Response:
    # Sends the body back unchanged, with the path below /echo as a header.
    headers = {"content-type": req.headers.get("content-type", "application/octet-stream")}
    headers["x-echo-path"] = req.path.removeprefix("/echo") or "/"
    return Response(200, headers, req.body)
