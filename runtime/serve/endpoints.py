"""The Hrana URLs of a running `edge up`, listed in its state directory for every process."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

ENDPOINTS_FILE = "endpoints.json"


def endpoints_path(state_dir: Path) -> Path:
    """Where `edge up` lists its Hrana URLs, for the admin API of every process."""
    return state_dir / ENDPOINTS_FILE


def read_endpoints(state_dir: Path) -> dict[str, dict[str, str]]:
    """region -> database -> Hrana URL, as the running `edge up` wrote them ({} if none)."""
    try:
        data = json.loads(endpoints_path(state_dir).read_text())
    except (OSError, ValueError):
        return {}
    return {str(r): {str(k): str(v) for k, v in dbs.items()} for r, dbs in data.items()}


def endpoint_ports(state_dir: Path) -> set[int]:
    """The ports of the Hrana endpoints of the running `edge up`."""
    ports = set()
    for databases in read_endpoints(state_dir).values():
        for url in databases.values():
            port = urlsplit(url).port
            if port is not None:
                ports.add(port)
    return ports
