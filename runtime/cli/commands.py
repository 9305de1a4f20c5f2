"""The commands that build, run and ship an app: build, up and watch, componentize, deploy,
push, new. Each imports what it needs when it runs, so that `edge --help` stays fast."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EdgeError
from ..logs import console, setup_logging

if TYPE_CHECKING:
    from ..app.model import Manifest


def _build(path: Path | None, **options: Any) -> Manifest:
    """The manifest at `path` (default ./spin.toml), what is stale in it built,
    with the build's progress on the terminal."""
    from ..app.manifest import load
    from ..build.incremental import build_manifest
    from ..build.progress import progress_for

    manifest = load(path or Path("spin.toml"))
    build_manifest(manifest, progress=progress_for(console), **options)
    return manifest


def cmd_build(args: argparse.Namespace) -> int:
    _build(args.manifest, force=args.force, only=args.component)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from ..serve.supervisor import run_up
    from ..settings import load_settings

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
        from ..deploy.oci import looks_like_reference, pull

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
        _build(settings.manifest)
    return run_up(settings, build=False)


def cmd_componentize(args: argparse.Namespace) -> int:
    from ..build.componentize import componentize

    def report(line: str) -> None:
        console.print(line, highlight=False, markup=False, soft_wrap=True)

    seconds = componentize(args.module, args.output, app_dir=args.app_dir, report=report)
    size = args.output.stat().st_size / 1e6
    console.print(f"built {args.output} ({size:.1f} MB) in {seconds:.1f} s")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    import os

    from ..app.variables import read_dotenv
    from ..deploy.run import DeployOptions, deploy
    from ..settings import load_settings

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


def cmd_new(args: argparse.Namespace) -> int:
    from ..templates import create_app, find_template, templates
    from ..templates.messages import listing, next_steps

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


def cmd_push(args: argparse.Namespace) -> int:
    from ..deploy.oci import push

    manifest = _build(args.manifest)
    pushed = push(manifest, args.reference, insecure=args.insecure)
    print(pushed)  # on stdout, alone: REF@sha256:... for scripts (the rest is on stderr)
    return 0
