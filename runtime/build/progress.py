"""How `edge build` tells what it is doing, kept apart from the building.

`build_manifest` calls a `BuildProgress`: `PlainProgress` writes a line per
event (logs, CI, a pipe); `LiveProgress` keeps a live line per component with
its elapsed seconds while componentize-py runs, on a terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
from rich.text import Text

Report = Callable[[str], None]


class BuildProgress(Protocol):
    def building(self, component: str, workdir: Path) -> AbstractContextManager[None]:
        """Around the build command: a live display lasts as long as it runs."""

    def built(self, component: str, output: Path, seconds: float) -> None: ...

    def up_to_date(self, component: str, output: Path) -> None: ...

    def note(self, component: str, line: str) -> None:
        """Something the build said that the person should see (a warning)."""


def built_line(component: str, output: Path, seconds: float) -> str:
    size_mb = output.stat().st_size / 1e6
    return f"built {component} ({size_mb:.1f} MB) in {seconds:.1f} s"


def up_to_date_line(component: str) -> str:
    return f"{component} is up to date"


class PlainProgress:
    """A line per event, through `report`."""

    def __init__(self, report: Report = print) -> None:
        self.report = report

    @contextmanager
    def building(self, component: str, workdir: Path) -> Iterator[None]:
        self.report(f"building {component} in {workdir} ...")
        yield

    def built(self, component: str, output: Path, seconds: float) -> None:
        self.report(built_line(component, output, seconds))

    def up_to_date(self, component: str, output: Path) -> None:
        self.report(up_to_date_line(component))

    def note(self, component: str, line: str) -> None:
        self.report(f"{component}: {line}")


class _Seconds(ProgressColumn):
    """Elapsed whole seconds: a build takes tens of them, not hours."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.elapsed or 0:.0f} s", style="cyan")


class LiveProgress:
    """A live line per component being built (rich), then its result line."""

    def __init__(self, console: Console) -> None:
        self.console = console

    @contextmanager
    def building(self, component: str, workdir: Path) -> Iterator[None]:
        columns = (SpinnerColumn(), TextColumn("{task.description}"), _Seconds())
        with Progress(*columns, console=self.console, transient=True) as live:
            live.add_task(f"building [bold]{escape(component)}[/] with componentize-py", total=None)
            yield

    def built(self, component: str, output: Path, seconds: float) -> None:
        self.console.print(f"[green]✓[/] {escape(built_line(component, output, seconds))}")

    def up_to_date(self, component: str, output: Path) -> None:
        self.console.print(f"[dim]{escape(up_to_date_line(component))}[/]")

    def note(self, component: str, line: str) -> None:
        self.console.print(f"[yellow]{escape(component)}[/]: {escape(line)}", highlight=False)


def progress_for(console: Console) -> BuildProgress:
    """Live lines on a terminal, plain ones otherwise (a pipe, a file, CI)."""
    if console.is_terminal:
        return LiveProgress(console)
    return PlainProgress(lambda line: console.print(line, highlight=False, soft_wrap=True))
