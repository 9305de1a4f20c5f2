"""The check of every rendered object against `spinkube.schema.json`, before any is
written or applied."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from ..errors import EdgeError

SCHEMA_PATH = Path(__file__).with_name("spinkube.schema.json")


class SchemaError(EdgeError):
    """A rendered object that the schema refuses (a bug of the renderer or the input)."""


@cache
def schema() -> dict[str, Any]:
    return dict(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


@cache
def _validator(kind: str) -> Draft202012Validator:
    root = schema()
    if kind not in root["$defs"]:
        raise SchemaError(f"the schema knows no object of kind {kind!r}")
    return Draft202012Validator({**root, "$ref": f"#/$defs/{kind}"})


def problems(obj: dict[str, Any]) -> list[str]:
    """Why the schema refuses `obj` (none if it passes), each with its JSON path."""
    kind = obj.get("kind")
    if not isinstance(kind, str):
        return ["the object has no kind"]
    out = []
    for error in sorted(_validator(kind).iter_errors(obj), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in error.absolute_path) or "(the object)"
        # The message quotes the offending value; a Secret's values must not show.
        message = error.message if kind != "Secret" else f"{error.validator} failed"
        out.append(f"{kind} {obj.get('metadata', {}).get('name', '?')}: {where}: {message}")
    return out


def validate(objects: Iterable[dict[str, Any]], where: str) -> None:
    """SchemaError listing every problem of `objects` (the objects of `where`)."""
    found = [problem for obj in objects for problem in problems(obj)]
    if found:
        raise SchemaError(
            f"{where}: the rendered manifests do not pass the SpinKube schema "
            f"({SCHEMA_PATH.name}):\n" + "\n".join(f"  - {p}" for p in found)
        )
