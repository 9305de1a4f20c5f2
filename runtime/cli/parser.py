"""The `edge` command's arguments: one subparser per command, with its flags and help."""

from __future__ import annotations

import argparse
from pathlib import Path


def _add_manifest(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--file",
        dest="manifest",
        type=Path,
        default=None,
        help="the Spin manifest (default: ./spin.toml)",
    )


def build_parser() -> argparse.ArgumentParser:
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
