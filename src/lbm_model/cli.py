"""The ``lbm`` command: world, score, verify, check.

Training-stack imports happen inside the commands that need them, so ``lbm score`` runs
without statsmodels, scikit-learn, pymc, mlflow or hydra. User errors (LbmError) are
printed as one paragraph with exit code 2; tracebacks are for bugs.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from lbm_model.errors import LbmError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Leefbaarometer re-estimation workbench (fit with lbm-experiment).")
console = Console(stderr=True)


def _fail(exc: Exception) -> None:
    console.print(f"[bold red]error[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _show_warnings(caught: list) -> None:
    for w in caught:
        console.print(f"[yellow]warning[/] {escape(str(w.message))}", highlight=False, soft_wrap=True)


@app.command()
def world(
    out: Annotated[Path, typer.Option(help="Directory to write cells, survey, catalog and truth into.")] = Path("data/world-small-seed0"),
    scale: Annotated[str, typer.Option(help="small (one region, seconds) or nl (national, minutes).")] = "small",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives identical files.")] = 0,
    buurt_effect_sd: Annotated[Optional[float], typer.Option(help="Sd of the unexplained buurt effect (latent units).")] = None,
    residual_field_sd: Annotated[Optional[float], typer.Option(help="Sd of spatially smooth unexplained variation.")] = None,
) -> None:
    """Generate a synthetic Netherlands in the data contract's shape, with truth.json."""
    if scale not in ("small", "nl"):
        _fail(LbmError(f"--scale {scale!r} is not known; expected small or nl."))
    from lbm_model.atomic import write_directory_atomic
    from lbm_model.world import generate_world

    try:
        if out.exists() and not out.is_dir():
            raise LbmError(f"--out {out}: is a file; expected a directory for the world's files. Nothing was written.")
        write_directory_atomic(out, lambda tmp: generate_world(tmp, scale=scale, seed=seed, buurt_effect_sd=buurt_effect_sd,
                                                               residual_field_sd=residual_field_sd, progress=True))
    except LbmError as exc:
        _fail(exc)
    console.print(f"[bold green]world[/] written to {escape(str(out))}")


@app.command()
def score(
    model: Annotated[Path, typer.Option(help="Frozen model directory (or its model.json).")],
    cells: Annotated[Path, typer.Option(help="Cells table (Parquet or CSV) in the data contract's shape.")],
    out: Annotated[Path, typer.Option(help="Output file; .parquet or .csv by extension.")],
    year: Annotated[Optional[list[int]], typer.Option(help="Score only this year (repeatable). Default: all years.")] = None,
    aggregate: Annotated[str, typer.Option(help="Comma-separated area levels to aggregate: buurt,wijk,gemeente.")] = "",
    min_households: Annotated[int, typer.Option(help="Suppress area figures below this many households.")] = 10,
) -> None:
    """Score every cell with a frozen model; optional household-weighted area aggregates."""
    from lbm_model.atomic import write_tables_atomic
    from lbm_model.contract import read_table
    from lbm_model.dimensions import AREA_LEVELS
    from lbm_model.scoring import CompiledScorer, aggregate_areas, score_cells

    levels = [lvl.strip() for lvl in aggregate.split(",") if lvl.strip()]
    try:
        unknown = [lvl for lvl in levels if lvl not in AREA_LEVELS]
        if unknown:
            raise LbmError(f"--aggregate: unknown level(s) {', '.join(unknown)}; expected from {', '.join(AREA_LEVELS)}.")
        if out.suffix.lower() not in (".parquet", ".csv"):
            raise LbmError(f"{out}: unsupported output type '{out.suffix}'; expected .parquet or .csv.")
        scorer = CompiledScorer.load(model)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scored = score_cells(scorer, read_table(cells), str(cells), years=year)
        _show_warnings(caught)
        area_frames = {lvl: aggregate_areas(scored, lvl, min_households) for lvl in levels}
    except LbmError as exc:
        _fail(exc)
    cell_columns = ["cell_id", "year", "score", "fys", "won", "vrz", "soc", "onv", "class", "class_label"]
    targets = {out: scored[cell_columns]} | {out.with_name(f"{out.stem}_{lvl}{out.suffix}"): frame
                                            for lvl, frame in area_frames.items()}
    try:
        write_tables_atomic(targets)
    except LbmError as exc:
        _fail(exc)
    console.print(f"[bold green]scored[/] {len(scored):,} cells -> {escape(str(out))} (model {scorer.content_sha256[:12]})")
    for lvl, frame in area_frames.items():
        target = out.with_name(f"{out.stem}_{lvl}{out.suffix}")
        console.print(f"[bold green]aggregated[/] {len(frame):,} {lvl} rows -> {escape(str(target))} "
                      f"({int(frame['suppressed'].sum())} suppressed below {min_households} households)")


@app.command()
def verify(model: Annotated[Path, typer.Argument(help="Frozen model directory or model.json.")]) -> None:
    """Verify a frozen model's hashes and structure; print its identity."""
    from lbm_model.frozen import read_frozen_model

    try:
        document = read_frozen_model(model)
    except LbmError as exc:
        _fail(exc)
    content = document["content"]
    console.print(f"[bold green]verified[/] {escape(str(model))}: {escape(str(content['model_version']))}, "
                  f"{len(content['indicators'])} indicators, content sha256 {document['content_sha256']}")


@app.command()
def check(
    model: Annotated[str, typer.Argument(help="Frozen model directory (or its model.json), or an MLflow run id.")],
    out: Annotated[Optional[Path], typer.Option(help="Where audit.json and evidence/ go. Default: MODEL_DIR/recheck.")] = None,
    cells: Annotated[Optional[Path], typer.Option(help="Training cells, if not at the path the model records.")] = None,
    survey: Annotated[Optional[Path], typer.Option(help="Training survey, if not at the path the model records.")] = None,
    catalog: Annotated[Optional[Path], typer.Option(help="Training catalog, if not at the path the model records.")] = None,
    checks_config: Annotated[Optional[str], typer.Option(
        help="Checks config: an option of the package (default, fast) or a YAML file. Default: the one in the model's audit.json.")] = None,
    tracking_uri: Annotated[str, typer.Option(help="MLflow store for run ids.")] = "sqlite:///mlruns.db",
) -> None:
    """Refit a frozen model on its training inputs, run the methodology checks and print the verdicts.

    Exit code 0 for pass or warn, 1 when a check fails, 2 for errors.
    """
    from rich.console import Console as StdoutConsole

    from lbm_model.audit import recheck
    from lbm_model.checks.report import print_verdicts

    try:
        outcome = recheck(model, out=out, inputs={"cells": cells, "survey": survey, "catalog": catalog},
                          config_path=checks_config, tracking_uri=tracking_uri)
    except LbmError as exc:
        _fail(exc)
    for note in outcome.notes:
        console.print(f"[yellow]warning[/] {escape(str(note))}", highlight=False, soft_wrap=True)
    print_verdicts(StdoutConsole(), outcome.results, title=f"Checks of {model}")
    if outcome.audit_sha256:
        same = outcome.audit_sha256 == outcome.recorded_sha256
        console.print(f"[bold]audit[/] {escape(str(outcome.out_dir / 'audit.json'))}: "
                      + ("reproduces the frozen model's audit" if same else
                         f"differs from the frozen model's audit ({outcome.recorded_sha256 or 'none recorded'})"))
    if outcome.verdict == "fail":
        raise typer.Exit(code=1)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except LbmError as exc:  # pragma: no cover - commands catch their own
        console.print(f"[bold red]error[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
