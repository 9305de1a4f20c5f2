"""The hello example: no bindings, query strings, wildcard routes, raw bodies."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.testing import Emulator

pytestmark = pytest.mark.e2e


def test_hello_and_echo(built: dict[str, Path], tmp_path: Path) -> None:
    with Emulator(built["hello"], regions=["us-east"], state_dir=tmp_path, build=False) as edge:
        client = edge.client()
        assert client.get("/hello").json() == {"message": "hello, world"}
        assert client.get("/hello", params={"name": "edge"}).json() == {"message": "hello, edge"}
        body = bytes(range(256)) * 64
        echoed = client.post("/echo/a/b", content=body, headers={"content-type": "x/bin"})
        assert echoed.status_code == 200
        assert echoed.content == body
        assert echoed.headers["x-echo-path"] == "/a/b"
        assert echoed.headers["content-type"] == "x/bin"
        assert client.get("/echo/a").status_code == 405
        assert client.request("HEAD", "/hello").content == b""
