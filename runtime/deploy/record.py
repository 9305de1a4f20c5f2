"""The record of the last deploy to a target, and what changed since.

After a deploy writes or applies its manifests (or a plugin's deploy
succeeds), what it sent is kept in `<state dir>/deploy/last-<target>.json`:
the artifact and, per region, the rendered objects with every secret value
replaced by where it comes from (`<secret from EDGE_SQL_TOKEN_DEFAULT>`). So a
changed URL, image or replica count shows in the next plan; a changed secret
value cannot, as none is kept.
"""

from __future__ import annotations

import difflib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import EdgeError

RECORD_VERSION = 1


def record_path(state_dir: Path, target: str) -> Path:
    safe = target.replace("/", "-").replace(":", "-")
    return state_dir / "deploy" / f"last-{safe}.json"


def load_record(path: Path) -> dict[str, Any] | None:
    """The last deploy's record, or None if there is none (or it cannot be read)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
        return None
    return data


def save_record(path: Path, record: dict[str, Any]) -> None:
    record = {"version": RECORD_VERSION, "at": datetime.now(UTC).isoformat(), **record}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(record, out, indent=2, sort_keys=True)
            out.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise EdgeError(f"cannot write the deploy record {path}: {exc.strerror or exc}") from None


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif (
        isinstance(value, list)
        and value
        and all(isinstance(x, dict) and "name" in x for x in value)
    ):
        for item in value:  # lists of named entries (spec.variables) by name, not position
            _flatten(
                {k: v for k, v in item.items() if k != "name"}, f"{prefix}[{item['name']}]", out
            )
    else:
        out[prefix] = value


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else json.dumps(value)


def object_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Lines saying how `new` differs from `old`, field by field."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    _flatten(old, "", before)
    _flatten(new, "", after)
    lines = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        if a == b:
            continue
        if key not in before:
            lines.append(f"+ {key}: {_show(b)}")
        elif key not in after:
            lines.append(f"- {key}: {_show(a)}")
        elif isinstance(a, str) and isinstance(b, str) and ("\n" in a or "\n" in b):
            lines.append(f"~ {key}:")
            diff = difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
            lines += [f"    {line}" for line in diff if not line.startswith(("---", "+++", "@@"))]
        else:
            lines.append(f"~ {key}: {_show(a)} -> {_show(b)}")
    return lines


def _key(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}"


def changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """What would change from the record `old` to `new` (same shape), as lines."""
    if old is None:
        return ["no earlier deploy recorded here: everything is new"]
    lines: list[str] = []
    for key in ("image", "components", "plugin"):
        a, b = old.get("artifact", {}).get(key), new.get("artifact", {}).get(key)
        if a != b:
            if isinstance(a, dict) or isinstance(b, dict):
                for cid in sorted(set(a or {}) | set(b or {})):
                    x, y = (a or {}).get(cid), (b or {}).get(cid)
                    if x != y:
                        lines.append(f"component {cid}: {x or '(none)'} -> {y or '(none)'}")
            else:
                lines.append(f"{key}: {a or '(none)'} -> {b or '(none)'}")
    if "variables" in new or "variables" in old:
        for line in object_changes(old.get("variables", {}), new.get("variables", {})):
            lines.append(f"variables: {line}")
    old_regions = old.get("regions", {})
    new_regions = new.get("regions", {})
    for region in new_regions:
        if region not in old_regions:
            lines.append(f"{region}: new region (nothing deployed there before)")
            continue
        before = {_key(o): o for o in old_regions[region].get("objects", [])}
        after = {_key(o): o for o in new_regions[region].get("objects", [])}
        for where in ("context", "namespace"):
            a, b = old_regions[region].get(where), new_regions[region].get(where)
            if a != b:
                lines.append(f"{region}: {where} {a} -> {b} (a different cluster or namespace)")
        for key, obj in after.items():
            if key not in before:
                lines.append(f"{region}: + {key} (new)")
                continue
            diff = object_changes(before[key], obj)
            if diff:
                lines.append(f"{region}: {key}:")
                lines += [f"    {line}" for line in diff]
        for key in before:
            if key not in after:
                lines.append(
                    f"{region}: - {key} (no longer written; it stays in the cluster until "
                    "deleted with kubectl)"
                )
    for region in old_regions:
        if region not in new_regions:
            lines.append(
                f"{region}: not in this deploy (what was deployed there stays until deleted)"
            )
    return lines or ["nothing: the same as the last deploy"]
