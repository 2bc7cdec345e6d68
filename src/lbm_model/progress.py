"""Progress bars with an ETA on stderr (rich), one display per process, quiet when stderr is not a terminal.

``track(items, total, description)`` yields ``items`` while a bar counts them (count, elapsed,
ETA); ``step(description)`` shows a spinner with the elapsed time for work of unknown length.
Both join the display that is already running (one live display per process, so a check's
own bar appears under the bar of the checks), and tasks added to a running display are removed
when they finish, leaving one line per top-level step. Nothing is shown when stderr is not a
terminal (pipes, CI, tests) or when ``LBM_PROGRESS=0``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

_ACTIVE: list[Progress] = []


def enabled(console: Console) -> bool:
    """Bars only on a terminal, and never when LBM_PROGRESS=0."""
    return console.is_terminal and os.environ.get("LBM_PROGRESS", "1") != "0"


@contextmanager
def display() -> Iterator[Progress]:
    """The running progress display, or a new one for the duration of the block."""
    if _ACTIVE:
        yield _ACTIVE[-1]
        return
    console = Console(stderr=True)
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
                   disable=not enabled(console), transient=False)
    with bar:
        _ACTIVE.append(bar)
        try:
            yield bar
        finally:
            _ACTIVE.pop()


@contextmanager
def task(description: str, total: float | None) -> Iterator[tuple[Progress, TaskID]]:
    """A task on the display; removed at the end when it joined a display that was already running."""
    nested = bool(_ACTIVE)
    with display() as bar:
        task_id = bar.add_task(description, total=total)
        try:
            yield bar, task_id
        finally:
            if nested:
                bar.remove_task(task_id)
            elif total is None:
                bar.update(task_id, total=1, completed=1)


def track(items: Iterable, total: int, description: str) -> Iterator:
    """Yield ``items`` while a bar counts them (``total`` expected), with elapsed time and ETA."""
    with task(description, total) as (bar, task_id):
        for item in items:
            yield item
            bar.advance(task_id)


@contextmanager
def step(description: str) -> Iterator[None]:
    """A spinner with the elapsed time while the block runs (work whose length is not known ahead)."""
    with task(description, None):
        yield
