"""The regions explorer: its page at /_edge/ui and the read-only endpoints it reads.

    GET  /_edge/ui              the page (files of serve/explorer/, no build step)
    GET  /_edge/kv/keys         ?store=&prefix=&contains=&limit=  keys side by side
                                per region (present/deleted, size, preview, LWW stamp),
                                `differs` when the regions' values disagree
    GET  /_edge/kv/value        ?store=&key=&region=  one whole value, base64
    GET  /_edge/kv/pending      ?store=&limit=  per link, the changes not yet delivered
    GET  /_edge/sql/tables      ?database=  tables and their row counts per region
    POST /_edge/sql/query       {"database", "region", "sql"}: one read on that region's
                                copy (stale on a lagging replica), columns and rows

Like the rest of /_edge/, behind the guard (serve.guard) and loopback_only. The
page runs only scripts and styles of its own (a Content-Security-Policy), and
reaches nothing but this server, by relative URLs. With an admin token, the
page's files (static, no state) load without it; the page asks for the token
(or takes it from `#token=` in its URL), keeps it in the tab's sessionStorage
and sends it as `Authorization: Bearer` on every call, the event stream too.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..regions.control import ControlFile
from ..wasm.thread import WasmThread
from . import explorer_kv
from .admin import json_body, loopback_only
from .explorer_sql import QueryRefused, SqlReader
from .host import EdgeHost

UI_PATH = "/_edge/ui"
PAGE_DIR = Path(__file__).parent / "explorer"
_FILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(html|js|css|svg)$")
_TYPES = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
}
# No inline script or style, nothing from elsewhere, never framed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def page_file(name: str) -> Response:
    """A file of the page, with its headers; 404 for any other name."""
    match = _FILE_NAME.match(name)
    path = PAGE_DIR / name
    if match is None or not path.is_file():
        return JSONResponse({"error": f"no file {name!r} in the explorer"}, status_code=404)
    return Response(path.read_bytes(), media_type=_TYPES[match[1]], headers=PAGE_HEADERS)


def page_paths() -> list[str]:
    """The URL of the page and of each of its files."""
    names = sorted(p.name for p in PAGE_DIR.iterdir() if _FILE_NAME.match(p.name))
    return [UI_PATH, *(f"{UI_PATH}/{name}" for name in names if name != "index.html")]


def explorer_routes(host: EdgeHost, wasm: WasmThread, control: ControlFile) -> list[Route]:
    registries = {name: region.stores for name, region in host.regions.items()}
    kv_labels = host.kv_labels()
    reader = SqlReader(registries, host.sql_labels())

    def store_of(request: Request) -> str:
        store = request.query_params.get("store", "default")
        explorer_kv.check_store(registries, kv_labels, store)
        return store

    async def on_wasm_thread(call: Any, *args: Any) -> Any:
        # The stores' connections belong to the wasm thread: read them there.
        return await asyncio.wrap_future(wasm.submit(call, *args))

    async def page(request: Request) -> Response:
        return page_file("index.html")

    async def asset(request: Request) -> Response:
        return page_file(request.path_params["name"])

    async def slash(request: Request) -> Response:
        return RedirectResponse(UI_PATH, status_code=308)

    async def kv_keys(request: Request) -> Response:
        params = request.query_params
        store = store_of(request)
        limit = explorer_kv.check_limit(params.get("limit"), 200)
        answer = await on_wasm_thread(
            explorer_kv.list_keys,
            registries,
            store,
            params.get("prefix", ""),
            params.get("contains", ""),
            limit,
        )
        return JSONResponse(answer)

    async def kv_value(request: Request) -> Response:
        params = request.query_params
        store = store_of(request)
        key, region = params.get("key"), params.get("region")
        if key is None or region is None:
            raise ValueError("say which value: ?store=&key=&region=")
        answer = await on_wasm_thread(explorer_kv.read_value, registries, store, key, region)
        return JSONResponse(answer)

    async def kv_pending(request: Request) -> Response:
        store = store_of(request)
        limit = explorer_kv.check_limit(request.query_params.get("limit"), 100)
        network = control.load()
        answer = await on_wasm_thread(explorer_kv.pending, registries, store, network, limit)
        return JSONResponse(answer)

    async def sql_tables(request: Request) -> Response:
        label = request.query_params.get("database", "default")
        return JSONResponse(await asyncio.to_thread(reader.tables, label))

    async def sql_query(request: Request) -> Response:
        data = await json_body(request)
        label, region, sql = data.get("database", "default"), data.get("region"), data.get("sql")
        if not isinstance(label, str) or not isinstance(region, str):
            raise TypeError('say where: {"database": "default", "region": "eu-west", "sql": ...}')
        if not isinstance(sql, str):
            raise TypeError('"sql" must be a statement, as a string')
        try:
            answer = await asyncio.to_thread(reader.query, label, region, sql)
        except QueryRefused as exc:
            return JSONResponse({"error": str(exc), "code": exc.code}, status_code=400)
        return JSONResponse(answer)

    return [
        Route(UI_PATH, loopback_only(page), methods=["GET"]),
        Route(UI_PATH + "/", loopback_only(slash), methods=["GET"]),
        Route(UI_PATH + "/{name}", loopback_only(asset), methods=["GET"]),
        Route("/_edge/kv/keys", loopback_only(kv_keys), methods=["GET"]),
        Route("/_edge/kv/value", loopback_only(kv_value), methods=["GET"]),
        Route("/_edge/kv/pending", loopback_only(kv_pending), methods=["GET"]),
        Route("/_edge/sql/tables", loopback_only(sql_tables), methods=["GET"]),
        Route("/_edge/sql/query", loopback_only(sql_query), methods=["POST"]),
    ]
