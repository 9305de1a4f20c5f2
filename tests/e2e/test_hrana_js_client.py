"""@libsql/client, the JS libSQL client, against the Hrana endpoints of a real
`edge up` (tests/hrana_js: pinned, installed by tools/install-node-tools.sh;
without Node >= 20 or the install these tests skip)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libsql_client
import pytest

from .edgeup import EdgeUp, wait_for

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parents[1] / "hrana_js"


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("node not found (run tools/install-node-tools.sh)")
    version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=60)
    if int(version.stdout.strip().lstrip("v").split(".")[0] or 0) < 20:
        pytest.skip(f"{found} is {version.stdout.strip()}; these tests need Node >= 20")
    if not (HERE / "node_modules" / "@libsql" / "client").is_dir():
        pytest.skip("@libsql/client is not installed: run tools/install-node-tools.sh")
    return found


@pytest.fixture(scope="module")
def up(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeUp]:
    state = tmp_path_factory.mktemp("hrana-js") / "state"
    server = EdgeUp(built["sqlprobe"], state, "--workers", "2", "--jitter", "0")
    yield server
    server.stop()


def probe(node: str, scenario: str, url: str) -> dict[str, Any]:
    done = subprocess.run(
        [node, str(HERE / "probe.mjs"), scenario, url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=HERE,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def primary(up: EdgeUp) -> libsql_client.ClientSync:
    return libsql_client.create_client_sync(up.database_urls()["us-east"].replace("http", "ws"))


def writable(up: EdgeUp) -> bool:
    with primary(up) as db:
        try:
            db.execute("INSERT INTO js_log VALUES ('probe')")
            return True
        except libsql_client.LibsqlError as exc:
            assert "locked" in str(exc), exc
            return False


def url_of(up: EdgeUp, region: str, scheme: str) -> str:
    return up.database_urls()[region].replace("http", scheme)


@pytest.mark.parametrize("scheme", ["http", "ws"])
def test_column_types(node: str, up: EdgeUp, scheme: str) -> None:
    seen = probe(node, "types", url_of(up, "eu-west", scheme))
    assert seen["columns"] == ["id", "at", "x", "y"]
    assert seen["columnTypes"] == ["INTEGER", "VARCHAR(8)", "", ""]


@pytest.mark.parametrize("scheme", ["http", "ws"])
@pytest.mark.parametrize("region", ["eu-west", "us-east"])
def test_read_transactions_refuse_writes(node: str, up: EdgeUp, scheme: str, region: str) -> None:
    with primary(up) as db:
        db.execute("CREATE TABLE IF NOT EXISTS js_log (v TEXT)")
        db.execute("DELETE FROM js_log")
    seen = probe(node, "read", url_of(up, region, scheme))
    assert seen["counted"] == 0
    assert seen["insert"] is not None and seen["insert"]["code"] == "SQLITE_READONLY", seen
    assert seen["batch"] is not None and seen["batch"]["code"] == "SQLITE_READONLY", seen
    assert seen["rows"] == ["after"]


@pytest.mark.parametrize("region", ["eu-west", "us-east"])
def test_a_closed_client_leaves_nothing_applied_and_no_lock(
    node: str, up: EdgeUp, region: str
) -> None:
    url = url_of(up, region, "ws")
    for _ in range(5):
        probe(node, "vanish", url)  # the INSERT's reply never read
        probe(node, "close", url)  # tx.close() then client.close(), replies not read
        wait_for(lambda: writable(up), timeout=12, what="the write lock to be released")
    with primary(up) as db:
        rows = db.execute("SELECT count(*) FROM js_log WHERE v IN ('vanished', 'closed')").rows
    assert rows[0][0] == 0
