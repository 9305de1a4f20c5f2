"""The commands that talk to a running `edge up` through its admin API: partition, heal,
lag, status (tables of links, backlogs, replicas and triggers), cron run, publish."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.table import Table

from ..errors import EdgeError
from ..logs import console


def _admin(args: argparse.Namespace, method: str, path: str, body: dict | None = None) -> dict:
    import httpx

    from ..settings import load_settings

    settings = load_settings()
    url = args.url or "http://" + settings.listen
    token = settings.admin_secret
    headers = {"authorization": f"Bearer {token}"} if token else {}
    try:
        resp = httpx.request(method, url.rstrip("/") + path, json=body, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise EdgeError(f"no edge up answering at {url}: {exc}") from None
    data = resp.json()
    if resp.status_code >= 400:
        raise EdgeError(data.get("error", resp.text))
    return dict(data)


def _agreement(agree: bool) -> str:
    return "[green]replicas agree[/]" if agree else "[yellow]replicas differ[/]"


def status_view(data: dict[str, Any]) -> Group:
    """Tables of links, key-value backlogs and SQL replicas, from GET /_edge/replication."""
    links = Table("link", "latency", "lag", "jitter", "state", title="links", title_justify="left")
    for item in data["links"]:
        links.add_row(
            " - ".join(item["regions"]),
            f"{item['latency_ms']:g} ms",
            f"{item['lag_ms']:g} ms",
            f"{item['jitter_ms']:g} ms",
            "[red]partitioned[/]" if item["partitioned"] else "[green]up[/]",
        )
    parts: list[Table] = [links]
    for store in data.get("kv", []):
        agree = _agreement(store["replicas_agree"])
        table = Table("from", "to", "backlog", "last applied", "link", title_justify="left")
        table.title = f"kv {store['store']!r}: {agree}"
        for link in store["links"]:
            table.add_row(
                link["from"],
                link["to"],
                str(link["backlog"]),
                str(link["last_applied_seq"]),
                "[red]cut[/]" if link["partitioned"] else "up",
            )
        parts.append(table)
    now = data.get("now", time.time())
    for db in data.get("sql", []):
        agree = _agreement(db["replicas_agree"])
        table = Table("region", "role", "state", "synced", "link to primary", title_justify="left")
        table.title = f"sql {db['database']!r}, primary {db['primary']}: {agree}"
        for entry in db["regions"]:
            if entry["role"] == "primary":
                table.add_row(entry["region"], "primary", "", "", "")
                continue
            synced = entry.get("synced_at")
            table.add_row(
                entry["region"],
                "replica",
                "current" if entry["current"] else "[yellow]behind[/]",
                "never" if synced is None else f"{max(0.0, now - synced):.1f} s ago",
                "[red]cut[/]" if entry["partitioned"] else f"up, lag {entry['lag_ms']:g} ms",
            )
        parts.append(table)
    return Group(*parts)


def _ago(now: float, when: float | None) -> str:
    if when is None:
        return "never"
    seconds = now - when
    return f"{seconds:.1f} s ago" if seconds >= 0 else f"in {-seconds:.1f} s"


def triggers_view(data: dict[str, Any]) -> list[Table]:
    """Tables of the Redis subscriptions and of each trigger's runs per region
    (from GET /_edge/triggers); none for an app without triggers."""
    from ..outbound.redis_address import redacted

    now = data.get("now", time.time())
    tables: list[Table] = []
    if data.get("redis"):
        servers = Table(
            "server", "channels", "subscription", "reconnects", "last error",
            title="redis", title_justify="left",
        )  # fmt: skip
        for server in data["redis"]:
            state = "[green]subscribed[/]" if server["connected"] else "[red]not subscribed[/]"
            servers.add_row(
                redacted(server["address"]),
                ", ".join(server["channels"]),
                f"{state} {_ago(now, server['since'])}" if server["since"] else state,
                str(server["reconnects"]),
                server["last_error"] or "",
            )
        tables.append(servers)
    if data.get("triggers"):
        runs = Table(
            "trigger", "region", "runs", "failures", "last run", "next run",
            title="triggers", title_justify="left",
        )  # fmt: skip
        errors = Table("trigger", "region", "last error", title_justify="left")
        errors.title = "last errors"
        for trigger in data["triggers"]:
            kind = trigger["kind"]
            name = f"{kind} {trigger['channel'] if kind == 'redis' else trigger['job']}"
            name += f" -> {trigger['component']}"
            for entry in trigger["regions"]:
                count = str(entry["runs"])
                extra = [f"{entry[k]} {k}" for k in ("skipped", "dropped") if entry[k]]
                if extra:
                    count += f" ({', '.join(extra)})"
                last = entry["last_run"]
                last_text = "never"
                if last is not None:
                    how = "ok" if last["ok"] else "[red]failed[/]"
                    last_text = f"{_ago(now, last['at'])}, {how}"
                next_text = _ago(now, entry["next_run"]) if kind == "cron" else ""
                runs.add_row(
                    name, entry["region"], count, str(entry["failures"]), last_text, next_text
                )
                failure = entry["last_failure"]
                if failure is not None:
                    errors.add_row(name, entry["region"], (failure["error"] or "")[:300])
        tables.append(runs)
        if errors.row_count:
            tables.append(errors)
    return tables


def _status(args: argparse.Namespace) -> Group:
    view = status_view(_admin(args, "GET", "/_edge/replication"))
    tables = triggers_view(_admin(args, "GET", "/_edge/triggers"))
    return Group(*view.renderables, *tables) if tables else view


def cmd_fault(args: argparse.Namespace) -> int:
    body = {"region": getattr(args, "region", None), "other": getattr(args, "other", None)}
    if args.command == "lag":
        body |= {"lag": args.lag, "jitter": args.jitter}
    if args.command == "status":
        if not args.watch:
            console.print(_status(args))
            return 0
        with Live(console=console, auto_refresh=False) as live:
            while True:
                live.update(_status(args), refresh=True)
                time.sleep(0.5)
    console.print(status_view(_admin(args, "POST", f"/_edge/{args.command}", body)))
    return 0


def cmd_cron(args: argparse.Namespace) -> int:
    body = {"region": args.region} if args.region else {}
    data = _admin(args, "POST", f"/_edge/cron/{args.component}", body)
    table = Table("job", "region", "result", "time", title=f"cron {data['component']}, now")
    for run in data["runs"]:
        result = "[green]ok[/]" if run["ok"] else f"[red]failed[/]: {run['error']}"
        table.add_row(run["job"], run["region"], result, f"{run['seconds'] * 1e3:.1f} ms")
    console.print(table)
    return 0 if all(run["ok"] for run in data["runs"]) else 1


def cmd_publish(args: argparse.Namespace) -> int:
    from ..outbound.redis_address import redacted
    from ..triggers.connect import publish

    payload = sys.stdin.buffer.read() if args.message == "-" else args.message.encode()
    data = _admin(args, "GET", "/_edge/triggers")
    servers = data.get("redis", [])
    addresses = [s["address"] for s in servers if args.channel in s["channels"]]
    if not addresses:
        if len(servers) != 1:
            raise EdgeError(
                f"no Redis trigger of the app listens on {args.channel!r}, and the app has "
                f"{len(servers) or 'no'} Redis servers to choose from"
            )
        addresses = [servers[0]["address"]]
    for address in addresses:
        try:
            receivers = publish(address, args.channel, payload)
        except Exception as exc:  # redis-py's errors, or OSError
            raise EdgeError(f"cannot publish at {redacted(address)}: {exc}") from None
        console.print(
            f"published {len(payload)} bytes on {args.channel!r} at {redacted(address)}: "
            f"{receivers} subscriber{'s' if receivers != 1 else ''}",
            highlight=False,
        )
    return 0
