"""The verdict table printed by ``lbm-experiment`` and ``lbm check`` (rich)."""

from __future__ import annotations

from collections.abc import Sequence

from lbm_model.checks.result import FAIL, NOT_APPLICABLE, PASS, WARN, CheckResult, worst

STYLE = {PASS: "bold green", WARN: "bold yellow", FAIL: "bold red", NOT_APPLICABLE: "dim"}


def verdict_table(results: Sequence[CheckResult], title: str = "Methodology checks"):
    """A rich Table: one row per check with its verdict, summary and number of evidence files."""
    from rich.markup import escape
    from rich.table import Table

    overall = worst(r.verdict for r in results)
    table = Table(title=f"{escape(title)}: [{STYLE[overall]}]{overall.upper()}[/]", show_lines=False, expand=False)
    table.add_column("check", style="bold", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("summary", overflow="fold")
    table.add_column("evidence", justify="right", no_wrap=True)
    for r in results:
        table.add_row(r.name, f"[{STYLE[r.verdict]}]{r.verdict}[/]", escape(r.summary), str(len(r.evidence)))
    return table


def print_verdicts(console, results: Sequence[CheckResult], title: str = "Methodology checks") -> None:
    """Print the verdict table; fails are repeated in red below it."""
    if not console.is_terminal and console.width < 140:   # logs and pipes need not wrap at 80 columns
        from rich.console import Console

        console = Console(file=console.file, width=140, no_color=console.no_color)
    from rich.markup import escape

    console.print(verdict_table(results, title), soft_wrap=False)     # tables wrap inside their cells
    for r in results:
        if r.verdict == FAIL:
            console.print(f"[bold red]FAIL[/] {r.name}: {escape(r.summary)}", highlight=False, soft_wrap=True)
