"""The ``lbm`` command: world, score, export-onnx, verify, check, keygen, release, validate, robustness, sensitivity.

Training-stack imports happen inside the commands that need them, so ``lbm score`` runs
without statsmodels, scikit-learn, pymc, mlflow or hydra. User errors (LbmError) are
printed as one paragraph with exit code 2; tracebacks are for bugs.
"""

from __future__ import annotations

import os
import re
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
console = Console(stderr=True, soft_wrap=True)   # messages and paths are never broken across lines


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
    if seed < 0:
        _fail(LbmError(f"--seed {seed}: expected a whole number >= 0 (numpy's seed sequences take no negative seeds)."))
    for option, value in (("--buurt-effect-sd", buurt_effect_sd), ("--residual-field-sd", residual_field_sd)):
        if value is not None and not 0 <= value < float("inf"):
            _fail(LbmError(f"{option} {value}: expected a finite standard deviation >= 0."))
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
    min_households: Annotated[int, typer.Option(help="Suppress area figures below this many households (>= 10 "
                                                     "unless --unsafe-disclosure).")] = 10,
    unsafe_disclosure: Annotated[Optional[str], typer.Option(
        "--unsafe-disclosure", help="Reason for a --min-households below the primer's 10; recorded in the area tables.")] = None,
    expect_sha256: Annotated[Optional[str], typer.Option(
        "--expect-sha256", help="Refuse (exit 2, nothing written) unless the model's content_sha256 is this hash.")] = None,
    class_probabilities: Annotated[bool, typer.Option(
        "--class-probabilities", help="Add p_class_1..p_class_9 per cell: the share of the model's posterior draws "
                                      "putting the cell in each class (model=bayes_ordinal models only).")] = False,
) -> None:
    """Score every cell with a frozen model (a model directory or a release bundle); optional area aggregates."""
    from lbm_model.atomic import write_tables_atomic
    from lbm_model.contract import read_table
    from lbm_model.dimensions import AREA_LEVELS
    from lbm_model.disclosure import DEFAULT_MIN_HOUSEHOLDS, checked_minimum
    from lbm_model.scoring import (CELL_OUTPUT_COLUMNS, PROBABILITY_COLUMNS, CompiledScorer, aggregate_all, score_cells,
                                   score_parquet)

    levels = [lvl.strip() for lvl in aggregate.split(",") if lvl.strip()]
    try:
        unknown = [lvl for lvl in levels if lvl not in AREA_LEVELS]
        if unknown:
            raise LbmError(f"--aggregate: unknown level(s) {', '.join(unknown)}; expected from {', '.join(AREA_LEVELS)}.")
        if out.suffix.lower() not in (".parquet", ".csv"):
            raise LbmError(f"{out}: unsupported output type '{out.suffix}'; expected .parquet or .csv.")
        checked_minimum(min_households, DEFAULT_MIN_HOUSEHOLDS, unsafe_disclosure, f"--min-households {min_households}",
                        '--unsafe-disclosure "reason"')
        _refuse_output_over_inputs(out, levels, {"--cells": cells, "--model": model})
        expected = _expected_sha256(expect_sha256) if expect_sha256 is not None else None
        scorer = CompiledScorer.load(model)
        if expected is not None and scorer.content_sha256 != expected:
            raise LbmError(f"{model}: the model's content_sha256 is {scorer.content_sha256} but --expect-sha256 is "
                           f"{expected}; refusing to score with a model other than the pinned one. Nothing was written.")
        if class_probabilities:
            scorer.require_draws()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if cells.suffix.lower() == ".parquet":      # record batches: bounded memory whatever the size
                scored = score_parquet(scorer, cells, years=year, with_areas=bool(levels),
                                       class_probabilities=class_probabilities)
            else:
                scored = score_cells(scorer, read_table(cells), str(cells), years=year, with_areas=bool(levels),
                                     class_probabilities=class_probabilities)
        _show_warnings(caught)
        if unsafe_disclosure and min_households < DEFAULT_MIN_HOUSEHOLDS:
            console.print(f"[yellow]warning[/] --min-households {min_households} is below the primer's "
                          f"{DEFAULT_MIN_HOUSEHOLDS} (--unsafe-disclosure {escape(repr(unsafe_disclosure))}; recorded "
                          "in the area tables).", highlight=False, soft_wrap=True)
        elif unsafe_disclosure is not None:
            console.print(f"[yellow]warning[/] --unsafe-disclosure is ignored: --min-households {min_households} is "
                          f"not below the primer's {DEFAULT_MIN_HOUSEHOLDS}.", highlight=False, soft_wrap=True)
        reason = unsafe_disclosure if min_households < DEFAULT_MIN_HOUSEHOLDS else None
        area_frames = {lvl: _record_minimum(frame, min_households, reason)
                       for lvl, frame in (aggregate_all(scored, levels, min_households).items() if levels else ())}
    except LbmError as exc:
        _fail(exc)
    columns = [*CELL_OUTPUT_COLUMNS, *(PROBABILITY_COLUMNS if class_probabilities else ())]
    targets = {out: scored[columns]} | {out.with_name(f"{out.stem}_{lvl}{out.suffix}"): frame
                                            for lvl, frame in area_frames.items()}
    try:
        write_tables_atomic(targets)
    except LbmError as exc:
        _fail(exc)
    console.print(f"[bold green]scored[/] {len(scored):,} cells -> {escape(str(out))} (model {scorer.content_sha256[:12]})",
                  soft_wrap=True)     # paths are never broken across lines
    for lvl, frame in area_frames.items():
        target = out.with_name(f"{out.stem}_{lvl}{out.suffix}")
        console.print(f"[bold green]aggregated[/] {len(frame):,} {lvl} rows -> {escape(str(target))} "
                      f"({int((frame['suppression'] == 'primary').sum())} suppressed below {min_households} households, "
                      f"{int((frame['suppression'] == 'complementary').sum())} more so that none can be derived by "
                      "subtraction)", soft_wrap=True)


def _refuse_output_over_inputs(out: Path, levels: list[str], inputs: dict[str, Path]) -> None:
    """--out (and the area tables beside it) must not be one of the command's inputs."""
    targets = [out] + [out.with_name(f"{out.stem}_{lvl}{out.suffix}") for lvl in levels]
    for target in targets:
        for option, path in inputs.items():
            for candidate in ([path, path / "model.json"] if path.is_dir() else [path]):
                if target.exists() and candidate.exists() and target.resolve() == candidate.resolve():
                    raise LbmError(f"--out {out}: would overwrite the input {candidate} ({option}); choose another "
                                   "output path. Nothing was written.")


def _record_minimum(frame, min_households: int, reason: str | None):
    """The area table with the minimum count it was suppressed at (and the reason when it is below 10)."""
    frame = frame.assign(min_households=min_households)
    return frame.assign(unsafe_disclosure=reason.strip()) if reason and reason.strip() else frame


def _expected_sha256(value: str) -> str:
    """--expect-sha256 as 64 lower-case hex digits."""
    text = value.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise LbmError(f"--expect-sha256 {value!r}: expected 64 hexadecimal characters (a model's content_sha256, "
                       "as lbm verify prints it).")
    return text


@app.command("export-onnx")
def export_onnx(
    model: Annotated[Path, typer.Argument(help="Frozen model directory or its model.json.")],
    out: Annotated[Optional[Path], typer.Option(help="ONNX file to write. Default: model.onnx beside model.json.")] = None,
    input_type: Annotated[str, typer.Option(help="Element type of the graph's input: float64 or float32 (cast to "
                                                 "float64 inside the graph).")] = "float64",
) -> None:
    """Write the frozen scorer as an ONNX graph (transforms, dimensions, score, class, range counts)."""
    from lbm_model.onnx_export import INPUT_TYPES
    from lbm_model.onnx_export import export_onnx as write_onnx

    try:
        if input_type not in INPUT_TYPES:
            raise LbmError(f"--input-type {input_type!r}: expected one of {', '.join(INPUT_TYPES)}.")
        if out is not None and out.suffix.lower() != ".onnx":
            raise LbmError(f"--out {out}: expected a file name ending in .onnx. Nothing was written.")
        written = write_onnx(model, out, input_type)
    except LbmError as exc:
        _fail(exc)
    console.print(f"[bold green]exported[/] ONNX scorer -> {escape(str(written))}", soft_wrap=True)


@app.command()
def verify(
    model: Annotated[Path, typer.Argument(help="Frozen model directory or model.json, or a release bundle directory.")],
    public_key: Annotated[Optional[Path], typer.Option(
        "--public-key", help="The releaser's public key (lbm-release.pub); required for a release bundle.")] = None,
) -> None:
    """Verify a frozen model's hashes and structure, or a release bundle's checksums and signature."""
    from lbm_model.frozen import read_frozen_model
    from lbm_model.release import BUNDLE_MARKERS, SUMS_FILE, is_bundle, verify_bundle

    try:
        if is_bundle(model):
            if public_key is None:
                raise LbmError(f"{model}: is a release bundle (it has {', '.join(m for m in BUNDLE_MARKERS if (model / m).exists())}); "
                               f"pass --public-key PUB (the releaser's lbm-release.pub) to check its checksums and "
                               f"signature. To check only the model's own hashes: lbm verify {model / 'model.json'}.")
            checked = verify_bundle(model, public_key)
            console.print(f"[bold green]verified release[/] {escape(str(model))}: signature by key "
                          f"{checked.key_fingerprint[:16]}, {checked.n_files} files match {SUMS_FILE}; "
                          f"{escape(checked.model_version)}, content sha256 {checked.content_sha256}", soft_wrap=True)
            return
        if public_key is not None:
            raise LbmError(f"{model}: not a release bundle (no {SUMS_FILE}); --public-key applies to release "
                           "bundles only. Without it, lbm verify checks a plain model's hashes.")
        document = read_frozen_model(model)
    except LbmError as exc:
        _fail(exc)
    content = document["content"]
    console.print(f"[bold green]verified[/] {escape(str(model))}: {escape(str(content['model_version']))}, "
                  f"{len(content['indicators'])} indicators, content sha256 {document['content_sha256']}")


@app.command()
def keygen(
    out: Annotated[Path, typer.Option(help="Directory for lbm-release.key (private, mode 0600) and lbm-release.pub.")],
) -> None:
    """Create an Ed25519 key pair for signing release bundles; never overwrites an existing key.

    The private key is an unencrypted PEM (PKCS8) file: keep it off shared disks. Give
    lbm-release.pub to whoever verifies bundles.
    """
    from lbm_model.release import generate_keys

    try:
        private_path, public_path, fingerprint = generate_keys(out)
    except LbmError as exc:
        _fail(exc)
    console.print(f"[bold green]keys[/] private {escape(str(private_path))} (mode 0600), public "
                  f"{escape(str(public_path))}; fingerprint sha256 {fingerprint}", soft_wrap=True)


@app.command()
def release(
    key: Annotated[Path, typer.Option(help="Private signing key (lbm-release.key from lbm keygen).")],
    out: Annotated[Path, typer.Option(help="New (or empty) directory for the release bundle.")],
    model: Annotated[Optional[Path], typer.Option(
        help="Frozen model directory (model.json, with audit.json and evidence/ when present).")] = None,
    alias: Annotated[Optional[str], typer.Option(
        help="Or: release the registered model version with this alias (e.g. champion), downloaded from MLflow.")] = None,
    name: Annotated[str, typer.Option(help="Registered model name (with --alias).")] = "leefbaarometer",
    tracking_uri: Annotated[Optional[str], typer.Option(
        help="MLflow store (with --alias; else MLFLOW_TRACKING_URI, else sqlite:///mlruns.db).")] = None,
) -> None:
    """Write a signed release bundle: model.json, audit, evidence, MODEL_CARD.md, release.json, SHA256SUMS(.sig).

    The model (--model DIR, or the registry's --alias) is verified first; the bundle is built beside
    --out and moved into place when complete, so a failure leaves nothing at --out.
    """
    from lbm_model.release import build_release

    try:
        if (model is None) == (alias is None):
            raise LbmError("lbm release: give exactly one of --model MODEL_DIR or --alias ALIAS (e.g. --alias champion).")
        if alias is not None:
            from lbm_model.registry import download_alias

            model = download_alias(alias=alias, name=name, tracking_uri=_tracking_uri(tracking_uri))
        made = build_release(model, key, out)
    except LbmError as exc:
        _fail(exc)
    for note in made.notes:
        console.print(f"[yellow]warning[/] {escape(note)}", highlight=False, soft_wrap=True)
    console.print(f"[bold green]released[/] {escape(made.model_version)} -> {escape(str(made.directory))}: "
                  f"{len(made.files)} files, content sha256 {made.content_sha256}, signed by key {made.key_fingerprint[:16]}",
                  soft_wrap=True)


@app.command()
def check(
    model: Annotated[str, typer.Argument(help="Frozen model directory (or its model.json), or an MLflow run id.")],
    out: Annotated[Optional[Path], typer.Option(help="Where audit.json and evidence/ go. Default: MODEL_DIR/recheck.")] = None,
    cells: Annotated[Optional[Path], typer.Option(help="Training cells, if not at the path the model records.")] = None,
    survey: Annotated[Optional[Path], typer.Option(help="Training survey, if not at the path the model records.")] = None,
    catalog: Annotated[Optional[Path], typer.Option(help="Training catalog, if not at the path the model records.")] = None,
    transactions: Annotated[Optional[Path], typer.Option(
        help="Training transactions (hedonic, combined models), if not at the path the model records.")] = None,
    checks_config: Annotated[Optional[str], typer.Option(
        help="Checks config: an option of the package (default, fast) or a YAML file. Default: the one in the model's audit.json.")] = None,
    tracking_uri: Annotated[Optional[str], typer.Option(help="MLflow store for run ids (else MLFLOW_TRACKING_URI, else sqlite:///mlruns.db).")] = None,
) -> None:
    """Refit a frozen model on its training inputs, run the methodology checks and print the verdicts.

    Exit code 0 for pass or warn, 1 when a check fails, 2 for errors.
    """
    from rich.console import Console as StdoutConsole

    from lbm_model.audit import recheck
    from lbm_model.checks.report import print_verdicts

    try:
        outcome = recheck(model, out=out, inputs={"cells": cells, "survey": survey, "catalog": catalog,
                                                  "transactions": transactions},
                          config_path=checks_config, tracking_uri=_tracking_uri(tracking_uri))
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


def _tracking_uri(option: str | None) -> str:
    """--tracking-uri, else MLFLOW_TRACKING_URI, else the project's local store."""
    return option or os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlruns.db"


@app.command()
def promote(
    run_id: Annotated[str, typer.Argument(help="The MLflow run whose registered model version to promote.")],
    alias: Annotated[str, typer.Option(help="Registry alias to move.")] = "champion",
    name: Annotated[str, typer.Option(help="Registered model name.")] = "leefbaarometer",
    tracking_uri: Annotated[Optional[str], typer.Option(help="MLflow store (else MLFLOW_TRACKING_URI, else sqlite:///mlruns.db).")] = None,
    gate: Annotated[Optional[list[str]], typer.Option(help="Override a gate setting, e.g. --gate max_class_change_share=0.2 (repeatable).")] = None,
    override: Annotated[Optional[str], typer.Option(help="Promote although gates fail; the reason, user and time are recorded.")] = None,
) -> None:
    """Move a registry alias to a run's model version when the run passes the promotion gates.

    Exit code 0 when promoted, 1 when a gate refuses (each failed gate is named with its figure
    and threshold), 2 on errors. The replaced version gets the alias 'previous'.
    """
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from lbm_model.config import compose_config
    from lbm_model.registry import promote as promote_run

    try:
        try:
            config = OmegaConf.to_object(compose_config([f"promotion.{g}" for g in gate or []]).promotion)
        except (HydraException, OmegaConfBaseException) as exc:   # a misspelt gate or a wrong type
            raise LbmError(f"--gate {' '.join(gate or [])}: {' '.join(str(exc).split())}") from None
        if override is not None and not override.strip():
            raise LbmError("--override needs a written reason.")
        outcome = promote_run(run_id, alias=alias, name=name, tracking_uri=_tracking_uri(tracking_uri), config=config,
                              override=override)
    except LbmError as exc:
        _fail(exc)
    for g in outcome.gates:
        console.print(f"[{'green' if g.passed else 'bold red'}]gate[/] {escape(g.line())}", highlight=False, soft_wrap=True)
    if not outcome.promoted:
        console.print(f"[bold red]refused[/] {escape(name)} version {outcome.version} (run {escape(run_id)}) stays off "
                      f"'{escape(alias)}': {len(outcome.failed)} gate(s) failed.", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1)
    console.print(f"[bold green]promoted[/] {escape(name)} version {outcome.version} -> '{escape(alias)}'"
                  + (f" (version {outcome.previous_version} -> 'previous')" if outcome.previous_version else "")
                  + (" by override; the reason is recorded on the version" if outcome.failed else ""),
                  highlight=False, soft_wrap=True)


@app.command()
def rollback(
    alias: Annotated[str, typer.Option(help="Registry alias to restore.")] = "champion",
    name: Annotated[str, typer.Option(help="Registered model name.")] = "leefbaarometer",
    tracking_uri: Annotated[Optional[str], typer.Option(help="MLflow store (else MLFLOW_TRACKING_URI, else sqlite:///mlruns.db).")] = None,
) -> None:
    """Give the alias back to the version it had before the last promotion (swaps it with 'previous')."""
    from lbm_model.registry import rollback as rollback_alias

    try:
        restored, replaced = rollback_alias(alias=alias, name=name, tracking_uri=_tracking_uri(tracking_uri))
    except LbmError as exc:
        _fail(exc)
    console.print(f"[bold green]rolled back[/] {escape(name)} '{escape(alias)}' -> version {restored} "
                  f"(version {replaced} is now 'previous')", highlight=False, soft_wrap=True)


@app.command()
def report(
    model: Annotated[str, typer.Argument(help="Frozen model directory (or its model.json), or an MLflow run id.")],
    out: Annotated[Optional[Path], typer.Option(help="The HTML file. Default: MODEL_DIR/report.html.")] = None,
    tracking_uri: Annotated[Optional[str], typer.Option(help="MLflow store for run ids (else MLFLOW_TRACKING_URI, else sqlite:///mlruns.db).")] = None,
) -> None:
    """Write the audit report of a frozen model: one self-contained HTML page (model card, weights, checks
    with their figures and evidence, classes, how to reproduce) that opens offline in any browser."""
    from lbm_model.audit import locate_model
    from lbm_model.report import write_run_report

    try:
        model_dir = locate_model(model, _tracking_uri(tracking_uri), evidence=True)
        if out is None and not Path(model).exists():
            raise LbmError(f"{model}: a run id needs --out (where to write the report).")
        path = write_run_report(model_dir, out)
    except LbmError as exc:
        _fail(exc)
    console.print(f"[bold]report[/] {escape(str(path))}", highlight=False, soft_wrap=True)


@app.command()
def compare(
    old: Annotated[Path, typer.Argument(help="The current frozen model (directory or model.json).")],
    new: Annotated[Path, typer.Argument(help="The candidate frozen model (directory or model.json).")],
    cells: Annotated[Path, typer.Option(help="Cells table (Parquet or CSV) both models score.")],
    out: Annotated[Path, typer.Option(help="Directory for transitions*.csv, shares.csv, movers_*.csv, "
                                           "dimension_shifts.csv, published_groups.csv, published_headline.csv, "
                                           "selections.csv, summary.json and report.html.")],
    year: Annotated[Optional[int], typer.Option(help="The year to compare. Default: the latest year in the cells.")] = None,
    movers: Annotated[int, typer.Option(help="How many of the largest risers and fallers per area level.")] = 20,
    groups: Annotated[Optional[Path], typer.Option(help="municipality_groups.csv (gemeente_code,group). Default: the "
                                                        "one beside the cells file, else conf/published_outputs.yaml.")] = None,
) -> None:
    """What replacing OLD by NEW changes: class transitions in households (cells, buurten, wijken, gemeenten),
    households per class, the largest movers and the dimension that drove them, shifts per dimension."""
    from lbm_model.compare import compare_models
    from lbm_model.contract import read_table
    from lbm_model.frozen import read_frozen_model
    from lbm_model.outputs import published_outputs, settings_for
    from lbm_model.report.compare import write_comparison

    try:
        if out.exists() and not out.is_dir():
            raise LbmError(f"{out}: is a file; expected a directory for the comparison. Nothing was written.")
        if movers < 1:
            raise LbmError(f"--movers {movers}: expected a whole number >= 1.")
        settings = settings_for(cells, groups)
        documents = read_frozen_model(old), read_frozen_model(new)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            table = read_table(cells)
            chosen = int(year if year is not None else table["year"].max())
            comparison = compare_models(*documents, table, chosen, file=str(cells), n_movers=movers)
            published = tuple(published_outputs(d, table, chosen, settings, file=str(cells)) for d in documents)
        _show_warnings(caught)
        write_comparison(comparison, out, published)
    except LbmError as exc:
        _fail(exc)
    cell = comparison.levels["cell"]
    console.print(f"[bold green]compared[/] {escape(comparison.old_version)} -> {escape(comparison.new_version)} in "
                  f"{chosen}: {100 * cell.share_changed:.1f}% of {cell.total_households:,.0f} households change class, "
                  f"score correlation {cell.score_correlation:.4f}; report {escape(str(out / 'report.html'))}",
                  highlight=False, soft_wrap=True)


@app.command()
def develop(
    model: Annotated[Path, typer.Argument(help="Frozen model directory (or its model.json).")],
    cells: Annotated[Path, typer.Option(help="Cells table (Parquet or CSV) with both years.")],
    year_from: Annotated[int, typer.Option("--from", help="The earlier year.")],
    year_to: Annotated[int, typer.Option("--to", help="The later year.")],
    out: Annotated[Path, typer.Option(help="Directory for cells.csv, buurt.csv, wijk.csv, gemeente.csv, summary.json.")],
) -> None:
    """Developments under one model (a consistent series): the change in score of every cell and published area
    between two years, split by dimension, with the dimension that drove it."""
    from lbm_model.compare import develop_model
    from lbm_model.contract import read_table
    from lbm_model.frozen import read_frozen_model
    from lbm_model.report.compare import write_development

    try:
        if out.exists() and not out.is_dir():
            raise LbmError(f"{out}: is a file; expected a directory for the developments. Nothing was written.")
        if year_from >= year_to:
            raise LbmError(f"--from {year_from} --to {year_to}: expected an earlier year, then a later one.")
        document = read_frozen_model(model)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            development = develop_model(document, read_table(cells), year_from, year_to, file=str(cells))
        _show_warnings(caught)
        write_development(development, out)
    except LbmError as exc:
        _fail(exc)
    buurten = development.areas["buurt"]
    console.print(f"[bold green]developed[/] {escape(development.model_version)} {year_from} -> {year_to}: "
                  f"{len(development.cells):,} cells, {len(buurten):,} buurten published in both years; "
                  f"written to {escape(str(out))}", highlight=False, soft_wrap=True)


@app.command()
def outputs(
    model: Annotated[Path, typer.Argument(help="Frozen model directory (or its model.json).")],
    cells: Annotated[Path, typer.Option(help="Cells table (Parquet or CSV).")],
    out: Annotated[Path, typer.Option(help="Directory for groups.csv, onvoldoende_buurten.csv, under_pressure.csv, "
                                           "aandachtsbuurten.csv, veerkracht.csv, risers_fallers.csv, summary.json "
                                           "and report.html.")],
    year: Annotated[Optional[int], typer.Option(help="The year published. Default: the latest year in the cells.")] = None,
    year_from: Annotated[Optional[int], typer.Option("--from", help="Earlier year for the risers and fallers. Default: "
                                                                    "the measurement before --year, if any.")] = None,
    groups: Annotated[Optional[Path], typer.Option(help="municipality_groups.csv (gemeente_code,group). Default: the "
                                                        "one beside the cells file, else conf/published_outputs.yaml.")] = None,
) -> None:
    """The published outputs under MODEL: households and shares per class nationally and for the G4, G40 and rest,
    the onvoldoende buurten, the risers and fallers among weak buurten with their driving dimension, and the buurten
    structurally under pressure (criteria in conf/published_outputs.yaml)."""
    from lbm_model.contract import read_table
    from lbm_model.frozen import read_frozen_model
    from lbm_model.outputs import published_outputs, settings_for
    from lbm_model.report.outputs import write_outputs

    try:
        if out.exists() and not out.is_dir():
            raise LbmError(f"{out}: is a file; expected a directory for the published outputs. Nothing was written.")
        settings = settings_for(cells, groups)
        document = read_frozen_model(model)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            table = read_table(cells)
            chosen = int(year if year is not None else table["year"].max())
            earlier = sorted(y for y in table["year"].unique().tolist() if y < chosen)
            first = year_from if year_from is not None else (int(earlier[-1]) if earlier else None)
            result = published_outputs(document, table, chosen, settings, year_from=first, file=str(cells))
        _show_warnings(caught)
        write_outputs(result, out)
    except LbmError as exc:
        _fail(exc)
    summary = result.summary()
    moves = summary.get("risers_fallers")
    console.print(f"[bold green]outputs[/] {escape(result.model_version)} {chosen} (groups: {escape(settings.groups_source)}): "
                  f"{summary['onvoldoende_buurten']['count']} onvoldoende buurten, "
                  f"{summary['under_pressure']['buurten']} buurten structurally under pressure"
                  + (f", {moves['risers']} risers and {moves['fallers']} fallers since {first}" if moves else "")
                  + f"; report {escape(str(out / 'report.html'))}", highlight=False, soft_wrap=True)


@app.command()
def validate(
    model: Annotated[Path, typer.Argument(help="Frozen model directory (or its model.json).")],
    cells: Annotated[Path, typer.Option(help="Cells table (Parquet or CSV) of the reference's years.")],
    reference: Annotated[Path, typer.Option(help="Reference table (Parquet or CSV): area_code, level, year, value, n "
                                                 "(optional sd); docs/data-contract.md.")],
    out: Annotated[Path, typer.Option(help="Directory for validation.json, summary.csv, per_gemeente.csv, "
                                           "disagreements.csv, matched.csv and scatter.png (MODEL_DIR/validation: "
                                           "shown in the model's audit report).")],
    min_respondents: Annotated[int, typer.Option(help="Leave out reference areas with fewer respondents (>= 10 "
                                                      "unless --unsafe-disclosure).")] = 10,
    min_households: Annotated[int, typer.Option(help="Area scores below this many households are suppressed (>= 10 "
                                                     "unless --unsafe-disclosure).")] = 10,
    unsafe_disclosure: Annotated[Optional[str], typer.Option(
        "--unsafe-disclosure", help="Reason for a minimum below the primer's 10; recorded in validation.json.")] = None,
    log_run: Annotated[Optional[str], typer.Option(
        help="Log the metrics and files into this MLflow run (a run id, or 'model' for the run model.json records).")] = None,
    tracking_uri: Annotated[Optional[str], typer.Option(help="MLflow store (else MLFLOW_TRACKING_URI, else sqlite:///mlruns.db).")] = None,
) -> None:
    """External validation: MODEL's household-weighted area scores against an independent reference (e.g. a
    municipal survey) per level and year: correlation, corrected for the reference's sampling noise, per gemeente,
    the largest disagreements and a scatter plot."""
    from lbm_model.contract import read_table, validate_reference
    from lbm_model.disclosure import DEFAULT_MIN_HOUSEHOLDS, DEFAULT_MIN_RESPONDENTS, checked_minimum
    from lbm_model.frozen import read_frozen_model
    from lbm_model.scoring import CompiledScorer, score_cells
    from lbm_model.validation import log_validation, validate_scores, write_validation

    try:
        if out.exists() and not out.is_dir():
            raise LbmError(f"{out}: is a file; expected a directory for the validation. Nothing was written.")
        for value, default, option in ((min_respondents, DEFAULT_MIN_RESPONDENTS, "--min-respondents"),
                                       (min_households, DEFAULT_MIN_HOUSEHOLDS, "--min-households")):
            checked_minimum(value, default, unsafe_disclosure, f"{option} {value}", '--unsafe-disclosure "reason"')
        document = read_frozen_model(model)
        run_id = (document["provenance"].get("mlflow_run_id") if log_run == "model" else log_run)
        if log_run == "model" and not run_id:
            raise LbmError(f"--log-run model: {model} records no MLflow run; pass a run id. Nothing was written.")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            table = read_table(cells)
            ref = validate_reference(read_table(reference), table, str(reference))
            scored = score_cells(CompiledScorer.from_document(document), table, str(cells),
                                 years=sorted(int(y) for y in ref["year"].unique()), with_areas=True)
        _show_warnings(caught)
        result = validate_scores(scored, ref, min_respondents=min_respondents, min_households=min_households)
        if unsafe_disclosure and min(min_respondents, min_households) < DEFAULT_MIN_RESPONDENTS:
            result.settings["unsafe_disclosure"] = unsafe_disclosure.strip()
        files = write_validation(result, out)
        model_dir = model if model.is_dir() else model.parent
        report_updated = out.resolve() == (model_dir / "validation").resolve() and (model_dir / "report.html").is_file()
        if report_updated:             # the audit report shows the validation written beside the model
            from lbm_model.report import write_run_report

            write_run_report(model_dir)
        if run_id:
            try:
                log_validation(result, files, run_id, _tracking_uri(tracking_uri))
            except Exception as exc:   # MLflow's own errors: the files are written, the logging is not
                raise LbmError(f"--log-run {log_run}: logging to run {run_id} in {_tracking_uri(tracking_uri)} failed "
                               f"({type(exc).__name__}: {' '.join(str(exc).split())[:300]}); the validation files are "
                               f"in {out} but not in MLflow.") from None
    except LbmError as exc:
        _fail(exc)
    for row in result.summary.to_dict("records"):
        r = "n/a" if row["r"] is None or row["r"] != row["r"] else f"{row['r']:.3f}"
        corrected = row.get("r_corrected")
        corrected = "n/a" if corrected is None or corrected != corrected else f"{corrected:.3f}"
        console.print(f"[bold green]validated[/] {row['level']} {row['year']}: r {r} (corrected for the reference's "
                      f"sampling noise {corrected}) over {row['areas']} areas; left out {row['left_out_few_respondents']} "
                      f"with < {min_respondents} respondents, {row['left_out_suppressed']} without a published score",
                      highlight=False, soft_wrap=True)
    console.print(f"[bold green]written[/] {escape(str(out))}" + (f"; logged to MLflow run {run_id}" if run_id else "")
                  + (f"; {escape(str(model_dir / 'report.html'))} updated" if report_updated else ""),
                  highlight=False, soft_wrap=True)


@app.command()
def robustness(
    models: Annotated[list[str], typer.Argument(help="Two or more frozen model directories or MLflow run ids.")],
    out: Annotated[Path, typer.Option(help="Directory for weights.csv, rank_correlation.csv and robustness.json.")],
    cells: Annotated[Optional[Path], typer.Option(help="Cells table to rank buurten on (default: the models' training cells).")] = None,
    min_households: Annotated[int, typer.Option(help="Buurten with fewer households are left out of the ranks.")] = 10,
    log: Annotated[bool, typer.Option(help="Log the table and its summary as an MLflow run.")] = False,
    tracking_uri: Annotated[Optional[str], typer.Option(help="MLflow store (else MLFLOW_TRACKING_URI, else sqlite:///mlruns.db).")] = None,
    experiment: Annotated[str, typer.Option(help="MLflow experiment for --log.")] = "lbm-robustness",
) -> None:
    """Weights of several models side by side (judgement points), spread, sign stability, buurt rank correlation."""
    from lbm_model.audit import locate_model
    from lbm_model.robustness import log_robustness
    from lbm_model.robustness import robustness as side_by_side

    try:
        uri = _tracking_uri(tracking_uri)
        document = side_by_side([locate_model(m, uri) for m in models], out, cells, min_households)
        run_id = log_robustness(document, out, uri, experiment) if log else None
    except LbmError as exc:
        _fail(exc)
    summary = document["summary"]
    console.print(f"[bold green]robustness[/] {len(document['models'])} models, {summary['n_indicators']} indicators: "
                  f"{summary['n_sign_unstable']} with an unstable sign, median spread {summary['median_spread']:.4f}, "
                  f"lowest buurt rank correlation {summary['min_rank_correlation']:.3f}; written to {escape(str(out))}"
                  + (f" (MLflow run {run_id})" if run_id else ""), highlight=False, soft_wrap=True)


@app.command()
def sensitivity(
    choices: Annotated[Path, typer.Argument(help="YAML: `choices: {override key: [alternatives]}` and optional `base: [overrides]`.")],
    out: Annotated[Path, typer.Option(help="Directory for sensitivity.json and rank_intervals.png.")],
    n_base: Annotated[int, typer.Option(help="Sobol' base sample size (a power of 2); runs = n_base x (choices + 2).")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the Sobol' design and SALib's bootstrap intervals.")] = 0,
    log: Annotated[bool, typer.Option(help="Log the indices and files as an MLflow run.")] = False,
    tracking_uri: Annotated[Optional[str], typer.Option(help="MLflow store (else MLFLOW_TRACKING_URI, else sqlite:///mlruns.db).")] = None,
    experiment: Annotated[str, typer.Option(help="MLflow experiment for --log.")] = "lbm-sensitivity",
) -> None:
    """Global sensitivity of buurt and gemeente ranks and classes to modelling choices (SALib Sobol' indices)."""
    from lbm_model.sensitivity import log_sensitivity
    from lbm_model.sensitivity import sensitivity as analyse

    if n_base < 2 or n_base & (n_base - 1):
        _fail(LbmError(f"--n-base {n_base}: expected a power of 2 (Sobol' sequences need one), e.g. 8 or 16."))
    try:
        document = analyse(choices, out, n_base=n_base, seed=seed)
        run_id = log_sensitivity(document, out, _tracking_uri(tracking_uri), experiment) if log else None
    except LbmError as exc:
        _fail(exc)
    rows = [f"{choice}: ST {values['ST']:.3f}" for choice, values in document["indices"]["buurt_mean_abs_rank_shift"].items()]
    console.print(f"[bold green]sensitivity[/] {document['n_samples']} samples, {document['n_distinct_configurations']} "
                  f"distinct configurations; buurt rank shift {'; '.join(rows)}; written to {escape(str(out))}"
                  + (f" (MLflow run {run_id})" if run_id else ""), highlight=False, soft_wrap=True)


def main() -> None:
    """Console entry point."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")   # no download bars between our lines
    try:
        app()
    except LbmError as exc:  # pragma: no cover - commands catch their own
        console.print(f"[bold red]error[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
