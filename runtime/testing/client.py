"""Requests to one region of an Emulator, with the basic httpx API, and their responses."""

from __future__ import annotations

import json as jsonlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ..serve.admin import REGION_HEADER
from ..serve.host import EdgeHost


@dataclass
class TestResponse:
    status_code: int
    headers: dict[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class Client:
    """Requests to one region of an Emulator; mirrors the basic httpx API."""

    def __init__(self, host: EdgeHost, region: str, after: Callable[[], None]) -> None:
        self.host = host
        self.region = region
        self._after = after  # what the Emulator does after each request

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> TestResponse:
        sent = {k.lower(): v for k, v in (headers or {}).items()}
        body = b""
        if json is not None:
            body = jsonlib.dumps(json).encode()
            sent.setdefault("content-type", "application/json")
        elif content is not None:
            body = content.encode() if isinstance(content, str) else content
        if params:
            path += ("&" if "?" in path else "?") + urlencode(params)
        sent.setdefault("host", "localhost")
        sent["content-length"] = str(len(body))
        url = f"http://{sent['host']}{path}"
        resp = self.host.handle(
            self.region, method.upper(), url, list(sent.items()), body, "127.0.0.1:40000"
        )
        self._after()
        merged: dict[str, str] = {}
        for k, v in resp.headers:
            merged[k.lower()] = f"{merged[k.lower()]}, {v}" if k.lower() in merged else v
        merged[REGION_HEADER] = self.region  # as `edge up` answers
        return TestResponse(resp.status, merged, resp.body)

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> TestResponse:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> TestResponse:
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> TestResponse:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> TestResponse:
        return self.request("DELETE", path, **kw)
