"""Testing edge apps in process: the real components, the real stores, no server.

    with Emulator("examples/todo/spin.toml") as edge:
        client = edge.client()
        assert client.post("/todos", json={"title": "x"}).status_code == 201

Requests go through the same `EdgeHost` that `edge up` serves (Spin routing and
headers, fresh instance per request, deadlines), on the calling thread.
"""

from __future__ import annotations

import json as jsonlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from .build import build_manifest
from .engine import WasmEngine
from .host import EdgeHost, HostLimits
from .manifest import load

DEFAULT_REGIONS = ["us-east", "eu-west", "ap-south"]


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

    def __init__(self, emulator: Emulator, region: str) -> None:
        self.emulator = emulator
        self.region = region

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
        resp = self.emulator.host.handle(
            self.region, method.upper(), url, list(sent.items()), body, "127.0.0.1:40000"
        )
        merged: dict[str, str] = {}
        for k, v in resp.headers:
            merged[k.lower()] = f"{merged[k.lower()]}, {v}" if k.lower() in merged else v
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


class Emulator:
    def __init__(
        self,
        manifest: str | Path = "spin.toml",
        *,
        regions: list[str] | None = None,
        state_dir: str | Path | None = None,
        deadline_ms: int = 5000,
        memory_limit_mb: int = 256,
        build: bool = True,
        env: Mapping[str, str] | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.manifest = load(manifest)
        if build:
            build_manifest(self.manifest, report=lambda line: None)
        self._tmp = None if state_dir is not None else tempfile.TemporaryDirectory(prefix="edge-")
        self.state_dir = Path(state_dir) if state_dir is not None else Path(self._tmp.name)  # type: ignore[union-attr]
        self.regions = list(regions or DEFAULT_REGIONS)
        self.host = EdgeHost(
            self.manifest,
            state_dir=self.state_dir,
            regions=self.regions,
            limits=HostLimits(
                deadline_ms=deadline_ms,
                memory_limit_bytes=memory_limit_mb * 1024 * 1024,
                pool_size=1,
            ),
            engine=WasmEngine(cache_dir),
            env=env,
        )

    def client(self, region: str | None = None) -> Client:
        name = region or self.regions[0]
        if name not in self.host.regions:
            raise KeyError(f"unknown region {name!r}; regions are {self.regions}")
        return Client(self, name)

    def close(self) -> None:
        self.host.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
