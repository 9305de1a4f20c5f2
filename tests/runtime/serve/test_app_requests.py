"""The region an app request is served in, read from its raw ASGI headers."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from runtime.serve.app_requests import UnknownRegion, pick_region

HOST: Any = SimpleNamespace(regions=["us-east", "eu-west"], default_region="us-east")


@pytest.mark.parametrize(
    ("headers", "region"),
    [
        ([(b"host", b"eu-west.localhost:3000")], "eu-west"),
        ([(b"host", b"EU-WEST.localhost.")], "eu-west"),
        ([(b"host", b"localhost:3000")], "us-east"),
        ([(b"host", b"[::1]:3000")], "us-east"),
        ([(b"host", b"[::1")], "us-east"),  # malformed: the default, not a crash
        ([], "us-east"),
        ([(b"host", b"localhost"), (b"x-edge-region", b"eu-west")], "eu-west"),
    ],
)
def test_region_from_header_or_host_name(headers: list[tuple[bytes, bytes]], region: str) -> None:
    assert pick_region(headers, HOST) == region


@pytest.mark.parametrize(
    "headers",
    [[(b"x-edge-region", b"mars")], [(b"host", b"mars.localhost:3000")]],
)
def test_unknown_region_is_refused(headers: list[tuple[bytes, bytes]]) -> None:
    with pytest.raises(UnknownRegion, match="mars"):
        pick_region(headers, HOST)
