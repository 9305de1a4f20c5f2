"""JSON on the wire, and reading typed fields out of decoded messages.

Only standard JSON is accepted: `NaN` and `Infinity` are not JSON and are
refused, as are bodies that are not UTF-8 or nest too deeply for the parser.
SQLite can store an infinite REAL, which JSON cannot spell as a constant, so
it goes out as the number `1e999` (and `-1e999`), which every JSON parser
that reads doubles turns back into infinity.
"""

from __future__ import annotations

import json
import math
import secrets
from typing import Any

from .errors import proto_error

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
UINT32_MAX = 2**32 - 1

# A placeholder no client can guess, replaced after encoding by a bare number.
_INF_TOKEN = f"\x00hrana-inf-{secrets.token_hex(16)}"


class Infinite:
    """An infinite float on its way out; see the module docstring."""

    def __init__(self, negative: bool) -> None:
        self.negative = negative


def _placeholder(obj: object) -> str:
    if isinstance(obj, Infinite):
        return _INF_TOKEN + ("-" if obj.negative else "+")
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def dumps(message: Any) -> bytes:
    return dumps_text(message).encode("utf-8")


def dumps_text(message: Any) -> str:
    text = json.dumps(
        message, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_placeholder
    )
    if "hrana-inf-" in text:
        escaped = json.dumps(_INF_TOKEN)[:-1]  # the quoted token without its closing quote
        text = text.replace(escaped + '+"', "1e999").replace(escaped + '-"', "-1e999")
    return text


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(data: bytes | str) -> Any:
    """Strict JSON; anything else is a protocol error."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text, parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise proto_error("the message is not valid UTF-8") from None
    except RecursionError:
        raise proto_error("the message nests too deeply") from None
    except ValueError as exc:
        raise proto_error(f"the message is not valid JSON: {exc}") from None


def is_finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def obj(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise proto_error(f"{what} must be a JSON object")
    return value


def array(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise proto_error(f"{what} must be a JSON array")
    return value


def integer(value: object, what: str, low: int = INT32_MIN, high: int = INT32_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise proto_error(f"{what} must be an integer from {low} to {high}")
    return value


def int32(msg: dict[str, Any], field: str) -> int:
    return integer(msg.get(field), f"{field!r}")


def opt_int32(msg: dict[str, Any], field: str) -> int | None:
    value = msg.get(field)
    return None if value is None else integer(value, f"{field!r}")


def opt_str(msg: dict[str, Any], field: str) -> str | None:
    value = msg.get(field)
    if value is not None and not isinstance(value, str):
        raise proto_error(f"{field!r} must be a string")
    return value


def req_str(msg: dict[str, Any], field: str) -> str:
    value = opt_str(msg, field)
    if value is None:
        raise proto_error(f"{field!r} is required")
    return value


def type_of(msg: object, what: str) -> str:
    kind = obj(msg, what).get("type")
    if not isinstance(kind, str):
        raise proto_error(f"{what} needs a string 'type'")
    return kind
