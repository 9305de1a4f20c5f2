"""Hrana values <-> SQLite values, exactly.

    {"type": "null"}                      None
    {"type": "integer", "value": "-42"}   int, the full signed 64-bit range, as a decimal string
    {"type": "float", "value": 1.5}       float (JSON doubles round-trip exactly)
    {"type": "text", "value": "..."}      str
    {"type": "blob", "base64": "..."}     bytes (standard alphabet; padding optional on input)

A value that does not fit (an integer outside 64 bits, text with a lone
surrogate, malformed base64, an unknown type) is an `ARGS_INVALID` error, never
a silently different value.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

from ..stores import SqlValue
from ..stores.sql import INT64_MAX, INT64_MIN
from .errors import args_error
from .wire import Infinite

_DECIMAL = re.compile(r"-?[0-9]{1,30}")


def decode_value(raw: object) -> SqlValue:
    if not isinstance(raw, dict):
        raise args_error("a value must be a JSON object with a 'type'")
    kind = raw.get("type")
    if kind == "null":
        return None
    if kind == "integer":
        return _integer(raw.get("value"))
    if kind == "float":
        value = raw.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise args_error("a float value must be a JSON number")
        try:
            return float(value)
        except OverflowError:
            raise args_error("a float value is out of the range of a double") from None
    if kind == "text":
        text = raw.get("value")
        if not isinstance(text, str):
            raise args_error("a text value must be a JSON string")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise args_error("a text value is not valid Unicode (lone surrogate)") from None
        return text
    if kind == "blob":
        return _blob(raw.get("base64"))
    raise args_error(f"unknown value type {kind!r}")


def _integer(value: object) -> int:
    # The spec says a decimal string; a JSON integer is accepted too.
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DECIMAL.fullmatch(value):
        number = int(value)
    else:
        raise args_error('an integer value must be a decimal string such as "-42"')
    if not INT64_MIN <= number <= INT64_MAX:
        raise args_error(f"integer {value} is out of the signed 64-bit range")
    return number


def _blob(data: object) -> bytes:
    if not isinstance(data, str):
        raise args_error("a blob value needs its bytes as a base64 string in 'base64'")
    unpadded = data.rstrip("=")
    if len(data) - len(unpadded) > 2:
        raise args_error("a blob value is not valid base64 (too much padding)")
    try:
        return base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise args_error("a blob value is not valid base64") from None


def encode_value(value: object) -> dict[str, Any]:
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):  # not from SQLite, but an int subclass all the same
        return {"type": "integer", "value": str(int(value))}
    if isinstance(value, int):
        return {"type": "integer", "value": str(value)}
    if isinstance(value, float):
        if math.isinf(value):
            return {"type": "float", "value": Infinite(value < 0)}
        if math.isnan(value):  # SQLite stores NaN as NULL; nothing else produces one
            return {"type": "null"}
        return {"type": "float", "value": value}
    if isinstance(value, str):
        return {"type": "text", "value": value}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "blob", "base64": base64.b64encode(value).decode("ascii")}
    raise TypeError(f"not an SQLite value: {type(value).__name__}")
