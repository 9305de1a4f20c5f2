"""The `edge` command: build, up, componentize, deploy, push, new."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from .errors import EdgeError
from .logs import console, setup_logging


def _add_manifest(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--file",
        dest="manifest",
        type=Path,
        default=None,
        help="the Spin manifest (default: ./spin.toml)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge", description="Python edge functions on WebAssembly, for Spin."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build", help="build the manifest's components (skips unchanged ones)")
    _add_manifest(build)
    build.add_argument("--force", action="store_true", help="rebuild even if nothing changed")
    build.add_argument("-c", "--component", action="append", help="build only this component")

    up = argparse.ArgumentParser(add_help=False)  # the flags of edge up, and of edge watch
    up.add_argument(
        "-f",
        "--file",
        dest="manifest",
        type=Path,
        default=None,
        help="the Spin manifest (default: ./spin.toml), or an OCI reference "
        "(REGISTRY/NAME:TAG or ...@sha256:...) of an app pushed with `edge push` or "
        "`spin registry push`: pulled (cached by digest) and run as it is",
    )
    up.add_argument("--listen", help="HOST:PORT to listen on (default 127.0.0.1:3000)")
    up.add_argument("--state-dir", type=Path, help="where stores live (default .edge)")
    up.add_argument("--regions", help="comma-separated region names")
    up.add_argument("--default-region", help="region for requests that name none")
    up.add_argument("--primary-region", help="region of the SQL primary (default: default region)")
    up.add_argument("--hrana-port", type=int, help="first Hrana port (default: listen port + 1)")
    up.add_argument(
        "--allowed-host",
        action="append",
        dest="allowed_hosts",
        help="a host name the admin API and Hrana answer besides loopback ones (repeatable)",
    )
    up.add_argument("--sql-write-timeout", help="how long a write waits for a cut-off primary (2s)")
    up.add_argument("--workers", type=int, help="serving processes (default: CPU count, max 4)")
    up.add_argument("--worker-timeout", help="replace a worker stuck this long (30s)")
    up.add_argument(
        "--deadline-ms", type=int, help="time limit per request (wall clock, host calls included)"
    )
    up.add_argument("--memory-limit-mb", type=int, help="memory limit per instance")
    up.add_argument(
        "--max-instance-reuse-count",
        metavar="N|A..B",
        help="requests one instance serves (default 1: a fresh instance per request, as Spin "
        "does for WASI P2 components); A..B draws a count per instance",
    )
    up.add_argument(
        "--idle-instance-timeout",
        metavar="T|A..B",
        help="how long a reused instance waits for its next request (1s)",
    )
    up.add_argument("--max-body-bytes", type=int, help="request body limit")
    up.add_argument("--body-timeout", help="time a whole request body may take (10s)")
    up.add_argument("--max-connections", type=int, help="open connections per worker (512)")
    up.add_argument("--log-level", help="debug, info, warning, error")
    up.add_argument(
        "--no-build",
        "--skip-build",
        action="store_true",
        help="serve the .wasm files as they are (with --watch: swap each when it changes)",
    )
    up.add_argument("--replication-lag", help="time for a write to reach other regions (1s)")
    up.add_argument("--jitter", help="random extra lag per change, up to this (200ms)")
    up.add_argument("--seed", type=int, help="seed of the jitter")
    up.add_argument("--redis-timeout", help="outbound Redis: connect and reply timeout (5s)")
    up.add_argument("--redis-port", type=int, help="port of the Redis server edge up starts")
    up.add_argument(
        "--origin",
        action="append",
        dest="origins",
        metavar="NAME=REGION",
        help="outbound HTTP to host NAME pays the round trip to REGION (repeatable)",
    )
    up.add_argument(
        "--trigger-regions",
        action="append",
        dest="trigger_regions",
        metavar="KEY=R1,R2",
        help="run a trigger only in these regions: KEY is redis:<channel> or "
        "cron:<component> (repeatable; default: every region)",
    )
    up.add_argument(
        "--runtime-config-file",
        type=Path,
        help='Spin runtime config: [sqlite_database.<label>] type = "libsql" goes remote',
    )
    up.add_argument(
        "--watch",
        action="store_true",
        help="rebuild a component when its [component.x.build] watch files change and swap it "
        "into the running server (state and requests in flight kept)",
    )
    up.add_argument(
        "-d",
        "--debounce",
        type=int,
        metavar="MS",
        help="watch mode: quiet time after a change before building (default 100)",
    )
    sub.add_parser("up", parents=[up], help="build what is stale and serve the app locally")
    sub.add_parser(
        "watch", parents=[up], help="edge up --watch: rebuild and swap components as files change"
    )

    for name, text in [
        ("partition", "cut REGION off from all regions (or only from OTHER)"),
        ("heal", "restore every link, the links of REGION, or the link REGION-OTHER"),
        ("lag", "set the replication lag of all links, of REGION's, or of REGION-OTHER"),
        ("status", "show regions, links and replication of a running `edge up`"),
    ]:
        cmd = sub.add_parser(name, help=text)
        if name == "lag":
            cmd.add_argument("lag", help="e.g. 500ms, 2s")
            cmd.add_argument("--jitter", help="also set the jitter")
        if name != "status":
            cmd.add_argument("region", nargs="?" if name != "partition" else None)
            cmd.add_argument("other", nargs="?")
        cmd.add_argument("--url", default=None, help="the edge up address (default from settings)")
        if name == "status":
            cmd.add_argument("--watch", action="store_true", help="keep the view up to date")

    cron = sub.add_parser("cron", help="cron jobs of a running `edge up`")
    cron_sub = cron.add_subparsers(dest="cron_command", required=True)
    cron_run = cron_sub.add_parser(
        "run", help="run COMPONENT's cron job now (exit status 1 if a run failed)"
    )
    cron_run.add_argument("component", help="the component of the [[trigger.cron]]")
    cron_run.add_argument("--region", help="only in this region (default: each of the job's)")
    cron_run.add_argument("--url", default=None, help="the edge up address (default from settings)")

    publish = sub.add_parser(
        "publish", help="publish MESSAGE on CHANNEL on the Redis server of a running `edge up`"
    )
    publish.add_argument("channel")
    publish.add_argument("message", help="the payload (UTF-8); - reads it from standard input")
    publish.add_argument("--url", default=None, help="the edge up address (default from settings)")

    comp = sub.add_parser(
        "componentize", help="build one Python module into a component (a build.command)"
    )
    comp.add_argument("module", help="the app module, e.g. app")
    comp.add_argument("-o", "--output", type=Path, required=True, help="the .wasm to write")
    comp.add_argument("--app-dir", type=Path, default=None, help="where the module lives")

    deploy = sub.add_parser(
        "deploy",
        help="build, check against Spin, and deploy to SpinKube regions or a Spin plugin",
        description="Build the app, check it against Spin, print the plan, then write the "
        "Kubernetes manifests of each region (or apply them), or hand the app to a Spin plugin. "
        "Where each region goes is in the deploy file (edge-deploy.toml beside spin.toml).",
    )
    _add_manifest(deploy)
    deploy.add_argument(
        "--to",
        nargs="+",
        metavar="TARGET",
        help="kubernetes | spin-cloud | akamai | plugin NAME (default: the deploy file's target)",
    )
    deploy.add_argument(
        "--deploy-file",
        type=Path,
        help="the deploy file (default: edge-deploy.toml beside spin.toml)",
    )
    deploy.add_argument(
        "--region", action="append", dest="regions", help="deploy only this region (repeatable)"
    )
    deploy.add_argument("--image", help="the app's OCI image, already pushed: REF@sha256:DIGEST")
    deploy.add_argument("--registry", help="push the app to this reference first (edge push)")
    deploy.add_argument(
        "--out", type=Path, help="folder of the written manifests (default: .edge/deploy)"
    )
    deploy.add_argument(
        "--apply",
        action="store_true",
        help="apply to each region's cluster with kubectl and wait until it is ready",
    )
    deploy.add_argument("--kubectl", help="the kubectl to run (default: $EDGE_KUBECTL, or PATH)")
    deploy.add_argument(
        "--wait-timeout", default="5m", help="how long --apply waits for each region (5m)"
    )
    deploy.add_argument(
        "--plan", action="store_true", help="print what would be deployed and changed, and stop"
    )
    deploy.add_argument("--state-dir", type=Path, help="where the deploy record lives (.edge)")
    deploy.add_argument(
        "plugin_args", nargs="*", metavar="-- ARGS", help="after --: passed to the Spin plugin"
    )

    new = sub.add_parser(
        "new",
        help="create an app from a template (edge new --list shows them)",
        description="Create directory NAME (or --dir) holding a Spin app made from TEMPLATE: "
        "spin.toml, the app module, a README and a test that passes as created.",
    )
    new.add_argument("template", nargs="?", help="the template, e.g. http-kv")
    new.add_argument("name", nargs="?", help="the application name (and component id), e.g. my-app")
    new.add_argument("--dir", type=Path, help="where to create it (default: ./NAME)")
    new.add_argument("--list", action="store_true", help="list the templates and stop")

    push = sub.add_parser(
        "push", help="build what is stale, then push the app to an OCI registry as Spin's artifact"
    )
    _add_manifest(push)
    push.add_argument("reference", help="REGISTRY/NAME:TAG, e.g. 127.0.0.1:5000/my-app:v1")
    push.add_argument(
        "--insecure",
        action="store_true",
        default=None,
        help="plain HTTP to the registry (default: only for loopback registries)",
    )
    return parser


def _cmd_build(args: argparse.Namespace) -> int:
    from .app.manifest import load
    from .build.incremental import build_manifest
    from .build.progress import progress_for

    manifest = load(args.manifest or Path("spin.toml"))
    build_manifest(manifest, force=args.force, only=args.component, progress=progress_for(console))
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    from .serve.supervisor import run_up
    from .settings import load_settings

    settings = load_settings(
        manifest=args.manifest,
        listen=args.listen,
        state_dir=args.state_dir,
        regions=args.regions,
        default_region=args.default_region,
        primary_region=args.primary_region,
        sql_write_timeout=args.sql_write_timeout,
        hrana_port=args.hrana_port,
        allowed_hosts=args.allowed_hosts,
        workers=args.workers,
        worker_timeout=args.worker_timeout,
        deadline_ms=args.deadline_ms,
        memory_limit_mb=args.memory_limit_mb,
        max_instance_reuse_count=args.max_instance_reuse_count,
        idle_instance_timeout=args.idle_instance_timeout,
        max_body_bytes=args.max_body_bytes,
        body_timeout=args.body_timeout,
        max_connections=args.max_connections,
        log_level=args.log_level,
        replication_lag=args.replication_lag,
        jitter=args.jitter,
        seed=args.seed,
        runtime_config_file=args.runtime_config_file,
        redis_timeout=args.redis_timeout,
        redis_port=args.redis_port,
        origins=args.origins,
        trigger_regions=args.trigger_regions,
        watch=args.watch or args.command == "watch" or None,
        watch_debounce_ms=args.debounce,
    )
    setup_logging(settings.log_level)
    build = not args.no_build
    if not settings.manifest.exists():
        from .deploy.oci import looks_like_reference, pull

        if looks_like_reference(settings.manifest):
            reference = str(settings.manifest)
            assert settings.cache_dir is not None  # filled by the settings' defaults
            settings.manifest = pull(reference, settings.cache_dir / "oci")
            console.print(
                f"[dim]pulled[/] {reference} [dim]into[/] {settings.manifest.parent}",
                highlight=False,
                soft_wrap=True,
            )
            build = False  # the pushed .wasm as it is: nothing to build
    if build and settings.watch:
        # Watch mode builds in the supervisor: a first build that fails is waited
        # on, and `build` also tells the watcher to rebuild (not only swap .wasm).
        return run_up(settings, build=True)
    if build:
        # Here rather than in the supervisor, to show the build's progress on a terminal.
        from .app.manifest import load
        from .build.incremental import build_manifest
        from .build.progress import progress_for

        build_manifest(load(settings.manifest), progress=progress_for(console))
    return run_up(settings, build=False)


def _cmd_componentize(args: argparse.Namespace) -> int:
    from .build.componentize import componentize

    def report(line: str) -> None:
        console.print(line, highlight=False, markup=False, soft_wrap=True)

    seconds = componentize(args.module, args.output, app_dir=args.app_dir, report=report)
    size = args.output.stat().st_size / 1e6
    console.print(f"built {args.output} ({size:.1f} MB) in {seconds:.1f} s")
    return 0


def _cmd_deploy(args: argparse.Namespace) -> int:
    import os

    from .app.variables import read_dotenv
    from .deploy.run import DeployOptions, deploy
    from .settings import load_settings

    settings = load_settings(manifest=args.manifest, state_dir=args.state_dir)
    options = DeployOptions(
        manifest_path=settings.manifest,
        deploy_file=args.deploy_file,
        to=args.to,
        regions=args.regions,
        image=args.image,
        registry=args.registry,
        out_dir=args.out,
        apply=args.apply,
        kubectl=args.kubectl,
        wait_timeout=args.wait_timeout,
        plan_only=args.plan,
        state_dir=settings.state_dir,
        plugin_args=list(args.plugin_args),
        env={**read_dotenv(Path(".env")), **os.environ},
        out=lambda line: print(line, flush=True),
        report=lambda line: console.print(line, highlight=False, markup=False, soft_wrap=True),
    )
    return deploy(options)


def _cmd_new(args: argparse.Namespace) -> int:
    from .templates import create_app, find_template, templates
    from .templates.messages import listing, next_steps

    if args.list:
        for line in listing(templates()):
            print(line)
        return 0
    if args.template is None or args.name is None:
        raise EdgeError("usage: edge new TEMPLATE NAME [--dir PATH] (or edge new --list)")
    created = create_app(find_template(args.template), args.name, args.dir)
    for line in next_steps(created):
        print(line)
    return 0


def _cmd_push(args: argparse.Namespace) -> int:
    from .app.manifest import load
    from .build.incremental import build_manifest
    from .build.progress import progress_for
    from .deploy.oci import push

    manifest = load(args.manifest or Path("spin.toml"))
    build_manifest(manifest, progress=progress_for(console))
    pushed = push(manifest, args.reference, insecure=args.insecure)
    print(pushed)  # on stdout, alone: REF@sha256:... for scripts (the rest is on stderr)
    return 0


def _admin(args: argparse.Namespace, method: str, path: str, body: dict | None = None) -> dict:
    import httpx

    from .settings import load_settings

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
    from .outbound.redis_address import redacted

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


def _cmd_fault(args: argparse.Namespace) -> int:
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


def _cmd_cron(args: argparse.Namespace) -> int:
    body = {"region": args.region} if args.region else {}
    data = _admin(args, "POST", f"/_edge/cron/{args.component}", body)
    table = Table("job", "region", "result", "time", title=f"cron {data['component']}, now")
    for run in data["runs"]:
        result = "[green]ok[/]" if run["ok"] else f"[red]failed[/]: {run['error']}"
        table.add_row(run["job"], run["region"], result, f"{run['seconds'] * 1e3:.1f} ms")
    console.print(table)
    return 0 if all(run["ok"] for run in data["runs"]) else 1


def _cmd_publish(args: argparse.Namespace) -> int:
    from .outbound.redis_address import redacted
    from .triggers.connect import publish

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


COMMANDS = {
    "build": _cmd_build,
    "up": _cmd_up,
    "watch": _cmd_up,
    "componentize": _cmd_componentize,
    "deploy": _cmd_deploy,
    "push": _cmd_push,
    "new": _cmd_new,
    "partition": _cmd_fault,
    "heal": _cmd_fault,
    "lag": _cmd_fault,
    "status": _cmd_fault,
    "cron": _cmd_cron,
    "publish": _cmd_publish,
}


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        code = COMMANDS[args.command](args)
    except EdgeError as exc:
        # escape: a message may quote TOML such as [[trigger.http]], which is no markup.
        # soft_wrap: a path or a traceback line stays whole when stderr is no terminal.
        console.print(
            f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True
        )
        code = 1
    except ValidationError as exc:
        console.print(f"[bold red]invalid settings:[/] {exc}", highlight=False)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
