"""The Redis server `edge up` and the Emulator start for an app that names none.

Spin apps get their Redis address from a variable, by convention
`redis_address` (`variables.get("redis_address")`, and
`allowed_outbound_hosts = ["{{ redis_address }}"]`). When the app declares
that variable and neither a provider (`SPIN_VARIABLE_REDIS_ADDRESS`, `.env`)
nor a default gives it a value, the local runtime starts a real server on
loopback (Debian's `redis-server`, or `valkey-server`, as
tools/install-redis.sh installs) with its data under the state directory,
and that is the variable's value. On Spin the same app uses the address it
is given.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from ..app.model import Manifest
from ..errors import EdgeError

ADDRESS_VARIABLE = "redis_address"
SERVER_BINARIES = ("redis-server", "valkey-server")
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
_PR_SET_PDEATHSIG = 1


class RedisServerError(EdgeError):
    """The embedded Redis server could not be started."""


def wants_embedded(manifest: Manifest, provided: Callable[[str], str | None]) -> bool:
    """Whether the app declares `redis_address` and nothing gives it a value."""
    decl = manifest.variables.get(ADDRESS_VARIABLE)
    return decl is not None and decl.default is None and provided(ADDRESS_VARIABLE) is None


def find_server(explicit: str | None = None) -> str:
    """The server binary: `explicit`, else redis-server or valkey-server on PATH."""
    for name in (explicit,) if explicit else SERVER_BINARIES:
        found = shutil.which(name)
        if found:
            return found
    wanted = explicit or " or ".join(SERVER_BINARIES)
    raise RedisServerError(
        f"no {wanted} found: run tools/install-redis.sh (Debian's redis-server), or set "
        f"SPIN_VARIABLE_{ADDRESS_VARIABLE.upper()} to the address of a Redis you run"
    )


class EmbeddedRedis:
    """A redis-server on 127.0.0.1 with its data in `data_dir`; dies with this process."""

    def __init__(self, data_dir: Path, *, port: int | None = None, binary: str | None = None):
        self.data_dir = Path(data_dir)
        self.requested_port = port
        self.binary = binary
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        if self.port is None:
            raise RedisServerError("the embedded Redis server is not running")
        return f"redis://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> str:
        binary = find_server(self.binary)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port = self.requested_port or _free_port()
        config = self.data_dir / "redis.conf"
        config.write_text(_config(self.data_dir, port), encoding="utf-8")
        log_path = self.data_dir / "redis.log"
        self._process = subprocess.Popen(
            [binary, str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        self.port = port
        try:
            _wait_ready(port, self._process, log_path)
        except BaseException:
            self.stop()
            raise
        return self.address

    def stop(self) -> None:
        """Shut the server down (it saves its data first); idempotent."""
        process, self._process = self._process, None
        self.port = None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _config(data_dir: Path, port: int) -> str:
    # Loopback only, no protected-mode surprises, data kept across restarts.
    return "\n".join(
        [
            "bind 127.0.0.1",
            f"port {port}",
            "protected-mode yes",
            "daemonize no",
            f'dir "{data_dir.resolve()}"',
            "dbfilename dump.rdb",
            "save 60 1",
            f'logfile "{(data_dir / "redis.log").resolve()}"',
            "",
        ]
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RedisServerError(
                f"redis-server exited with status {process.returncode}:\n{_tail(log_path)}"
            )
        if _answers_ping(port):
            return
        time.sleep(0.05)
    raise RedisServerError(f"redis-server did not start within {START_TIMEOUT:g} s")


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _die_with_parent() -> None:
    # Linux: the server gets SIGTERM when the process that started it dies,
    # so a killed `edge up` leaves no server behind.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    # A group of its own: Ctrl-C in the terminal goes to edge up only, which
    # then stops the server in order (it saves its data).
    os.setpgrp()
