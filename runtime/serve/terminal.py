"""What `edge up` shows on its terminal: where things are, then what happens, live.

The banner's URL lines name the app, each region, the explorer and the state
directory. The live status reads the event log (runtime.stores.events) in the
process attached to the terminal and prints one short line per request and
per replication or network event, whichever process it happened in. On a
terminal it is the whole story, and the workers log no line per request of
their own; when the output goes to a file or a pipe (`terminal_feed()` is
false) the workers' log lines stay as they were and the status prints only
what is rare and worth a look: network changes, conflicts, builds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from ..logs import console as default_console
from ..settings import Settings
from ..stores.events import Event, EventLog

log = logging.getLogger("edge.status")

POLL_SECONDS = 0.2
READ_BATCH = 1000
QUIET_KINDS = frozenset({"network", "kv.conflict", "build"})


def terminal_feed() -> bool:
    """Whether the live status is the terminal's record of requests (the output is a tty)."""
    return default_console.is_terminal


def region_url(public_url: str, region: str) -> str:
    """A region's own URL (`http://eu-west.localhost:3000`) where host names can carry it."""
    scheme, _, hostport = public_url.rstrip("/").partition("://")
    return f"{scheme}://{region}.{hostport}" if hostport.startswith("localhost") else public_url


def url_lines(settings: Settings, public_url: str) -> list[str]:
    """The banner's lines of addresses: app, regions, explorer and its feed, state."""
    default = settings.default_region or settings.regions[0]
    width = max(len(r) for r in settings.regions)
    lines = [f"app:      {public_url}"]
    for name in settings.regions:
        mark = " (default)" if name == default else ""
        lines.append(f"  {name:<{width}}  {region_url(public_url, name)}{mark}")
    lines.append(f"explorer: {public_url}/_edge/ui (live events: {public_url}/_edge/events)")
    return lines


class LiveStatus:
    """A thread that prints the event log's new events to the terminal."""

    def __init__(
        self,
        state_dir: Path,
        *,
        full: bool | None = None,
        out: Console | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.full = terminal_feed() if full is None else full
        self.out = out or default_console
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-status", daemon=True)

    def start(self) -> LiveStatus:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        try:
            events = EventLog.in_state_dir(self.state_dir)
        except Exception:
            log.exception("the live status cannot read the event log")
            return
        try:
            cursor = events.last_id()  # what happens from now on
            while not self._stop.wait(self.poll_seconds):
                try:
                    batch = events.after(cursor, READ_BATCH)
                except Exception:  # a locked file: look again at the next tick
                    continue
                if batch:
                    cursor = batch[-1].id
                    for line in self.lines(batch):
                        self.out.print(line, highlight=False, soft_wrap=True)
        finally:
            events.close()

    def lines(self, events: Iterable[Event]) -> list[Text]:
        """The lines for `events`: a run of KV changes on one link is one line."""
        shown = [e for e in events if self.full or e.kind in QUIET_KINDS]
        out: list[Text] = []
        i = 0
        while i < len(shown):
            event = shown[i]
            if event.kind in ("kv.sent", "kv.applied"):
                j = i
                while j + 1 < len(shown) and _same_link(shown[j + 1], event):
                    j += 1
                out.append(self._kv_line(shown[i : j + 1]))
                i = j + 1
                continue
            line = self._line(event)
            if line is not None:
                out.append(line)
            i += 1
        return out

    def _stamp(self, event: Event) -> Text:
        return Text(time.strftime("%H:%M:%S ", time.localtime(event.at)), style="dim")

    def _line(self, event: Event) -> Text | None:
        f = event.fields
        text = self._stamp(event)
        if event.kind == "request":
            text.append(f"{f['method']} {f['path']} ")
            text.append(str(f["status"]), style=_status_style(int(f["status"])))
            text.append(f" {f['ms']:.1f} ms ", style="dim")
            text.append(str(f["region"]), style="cyan")
        elif event.kind == "kv.conflict":
            text.append(f"kv {f['store']}: conflict on {f['key']!r} in {f['region']}: ", "yellow")
            text.append(f"kept {_value(f['winner'])}, dropped {_value(f['loser'])}")
        elif event.kind == "sql.synced":
            text.append(f"sql {f['database']}: {f['region']} replica synced ", style="magenta")
            text.append(f"({f['pages']} pages, {f['ms']:.1f} ms)", style="dim")
        elif event.kind == "network":
            text.append(f"network: {_network(f)}", style="bold")
        elif event.kind == "build":
            ok = f.get("status") != "failed"
            text.append(f"build {f.get('component')}: {f.get('status')}", "green" if ok else "red")
            if f.get("ms") is not None:
                text.append(f" ({f['ms']:.0f} ms)", style="dim")
            if f.get("error"):
                text.append(f"\n{f['error']}")
        elif event.kind == "outbound.http":
            # Written when the request leaves, before its handler's own line.
            refused = f["route"] == "refuse"
            text.append(f"{f['component']} in {f['region']} -> {f['method']} {f['url']} ", "dim")
            text.append(
                f"refused: {f.get('error')}" if refused else f["route"], "red" if refused else "dim"
            )
        elif event.kind == "outbound.redis":
            subject = f" {f['key']}" if f["key"] else ""
            text.append(f"{f['component']} in {f['region']} -> redis {f['op']}{subject} ", "dim")
            if f["ok"]:
                text.append(f"at {f['address']} {f['ms']:.1f} ms", style="dim")
            else:
                text.append(f"at {f['address']} failed: {f.get('error')}", style="red")
        else:
            return None  # trigger runs: the worker's log has a line for each already
        return text

    def _kv_line(self, run: list[Event]) -> Text:
        first = run[0].fields
        verb = "sent" if run[0].kind == "kv.sent" else "applied"
        text = self._stamp(run[0])
        what = repr(first["key"]) if len(run) == 1 else f"{len(run)} changes"
        text.append(f"kv {first['store']}: {what} {first['from']} -> {first['to']} {verb}", "blue")
        return text


def _same_link(event: Event, other: Event) -> bool:
    a, b = event.fields, other.fields
    return event.kind == other.kind and all(a.get(k) == b.get(k) for k in ("store", "from", "to"))


def _status_style(status: int) -> str:
    return (
        "green" if status < 300 else "cyan" if status < 400 else "yellow" if status < 500 else "red"
    )


def _value(version: dict[str, Any]) -> str:
    value = version.get("value") or {}
    if version.get("deleted"):
        shown = "(deleted)"
    elif value.get("text") is not None:
        text = value["text"]
        shown = repr(text if len(text) <= 40 else text[:40] + "...")
    else:
        shown = f"{value.get('size', 0)} bytes"
    return f"{shown} ({version.get('region')})"


def _network(fields: dict[str, Any]) -> str:
    action, region, other = fields.get("action"), fields.get("region"), fields.get("other")
    where = "every link" if region is None else region if other is None else f"{region} <-> {other}"
    links = fields.get("links", [])
    cut = ["<->".join(link["regions"]) for link in links if link.get("partitioned")]
    state = f"; cut: {', '.join(cut)}" if cut else "; every link up"
    if action == "lag" and links:
        lags = sorted({link["lag_ms"] for link in links})
        state += f"; lag {', '.join(f'{lag:g}' for lag in lags)} ms"
    return f"{action} {where}{state}"
