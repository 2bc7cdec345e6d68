"""A quiet-by-default step counter; with ``enabled`` a rich progress bar (elapsed, ETA) on stderr when it is a terminal."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from lbm_model.progress import enabled as on_terminal


class Steps:
    """``start(description)`` marks the previous step done and names the next one."""

    def __init__(self, enabled: bool, total: int) -> None:
        self._bar = None
        self._task = None
        self._started = False
        if enabled:
            console = Console(stderr=True)
            self._bar = Progress(TextColumn("[bold]world[/] {task.description:<48}"), BarColumn(),
                                 TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=console, disable=not on_terminal(console))
            self._task = self._bar.add_task("", total=total)

    def __enter__(self) -> "Steps":
        if self._bar is not None:
            self._bar.start()
        return self

    def start(self, description: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1 if self._started else 0, description=description)
        self._started = True

    def finish(self, description: str = "done") -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=self._bar.tasks[0].total, description=description)

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()
