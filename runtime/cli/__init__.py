"""The `edge` command: build, up, componentize, deploy, push, new, and the admin commands."""

from __future__ import annotations

import sys

from pydantic import ValidationError
from rich.markup import escape

from ..errors import EdgeError
from ..logs import console
from .admin import cmd_cron, cmd_fault, cmd_publish, status_view, triggers_view
from .commands import cmd_build, cmd_componentize, cmd_deploy, cmd_new, cmd_push, cmd_up
from .parser import build_parser

__all__ = ["build_parser", "main", "status_view", "triggers_view"]

COMMANDS = {
    "build": cmd_build,
    "up": cmd_up,
    "watch": cmd_up,
    "componentize": cmd_componentize,
    "deploy": cmd_deploy,
    "push": cmd_push,
    "new": cmd_new,
    "partition": cmd_fault,
    "heal": cmd_fault,
    "lag": cmd_fault,
    "status": cmd_fault,
    "cron": cmd_cron,
    "publish": cmd_publish,
}


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
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
