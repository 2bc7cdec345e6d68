"""The Hydra entry point ``lbm-experiment``: gate, fit, classes, audit, freeze, log.

The configuration is typed (lbm_model/config.py): Hydra composes ``lbm_model/conf/`` and
refuses unknown keys and wrong types before any work; :func:`typed_config` runs the range
checks. The steps below receive plain objects, never the global config.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import hydra
import pandas as pd
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from rich.console import Console
from rich.markup import escape

from lbm_model.config import DataConfig, LbmConfig, ModelConfig, plain, typed_config, with_schema
from lbm_model.errors import LbmError
from lbm_model.frozen import canonical_json, sha256_text
from lbm_model.inputs import capture_warnings, load_inputs
from lbm_model.progress import step

console = Console(stderr=True, soft_wrap=True)   # messages and paths are never broken across lines


def say(label: str, text: str, style: str = "bold") -> None:
    console.print(f"[{style}]{label}[/] {escape(text)}", highlight=False, soft_wrap=True)


def ensure_synthetic_world(data: DataConfig) -> None:
    """Generate the synthetic world for data=synthetic when it is not there yet (once, when the jobs of a
    parallel sweep all ask for it)."""
    from lbm_model.atomic import exclusive_lock, write_directory_atomic

    def present() -> bool:
        return Path(data.cells).is_file() and Path(data.survey).is_file() and Path(data.catalog).is_file()

    if present():
        return
    with exclusive_lock(f"world:{Path(data.dir).resolve()}"):
        if present():
            return
        from lbm_model.world import generate_world

        say("world", f"generating the synthetic Netherlands ({data.scale}, seed {data.seed}) in {data.dir}")
        write_directory_atomic(Path(data.dir), lambda tmp: generate_world(tmp, scale=str(data.scale),
                                                                           seed=int(data.seed), progress=True))


def weights_table(content: dict) -> pd.DataFrame:
    return pd.DataFrame(content["indicators"])[["name", "dimension", "weight", "standard_error", "native_weight",
                                                 "expected_sign", "transform", "mean", "sd"]]


def class_shares_table(content: dict) -> pd.DataFrame:
    classes = content["classes"]
    return pd.DataFrame({"class": range(1, len(classes["labels"]) + 1), "label": classes["labels"],
                         "household_share": classes["base_year_household_shares"]})


def write_run_summary(export_dir: Path, fit_metrics: dict[str, float], audit, content: dict) -> None:
    """metrics.json (fit statistics, each check's figures and verdict code, class shares: DVC's metrics, the
    same names as in MLflow), weights.csv and class_shares.csv (DVC's plots), beside model.json."""
    import json

    from lbm_model.atomic import write_many_atomic

    shares = class_shares_table(content)
    metrics = {"fit": fit_metrics, "check": {r.name: r.finite_metrics() for r in audit.results},
               "classes": {"base_year": content["classes"]["rule"]["base_year"],
                           "household_share": dict(zip(shares["label"], shares["household_share"]))}}
    text = json.dumps(metrics, indent=2, sort_keys=True) + "\n"
    write_many_atomic([
        (export_dir / "metrics.json", lambda p: p.write_text(text, encoding="utf-8")),
        (export_dir / "weights.csv", lambda p: weights_table(content).to_csv(p, index=False, lineterminator="\n")),
        (export_dir / "class_shares.csv", lambda p: shares.to_csv(p, index=False, lineterminator="\n")),
    ])


def transactions_path(data: DataConfig, estimator) -> str | None:
    """The transactions table to read: ``data.transactions`` when set; for the synthetic world, its own
    transactions.parquet when the model is fitted on sold dwellings (a world made before transactions
    existed must be regenerated)."""
    if data.transactions:
        return data.transactions
    if data.kind == "synthetic" and "transactions" in getattr(estimator, "fits_on", "survey"):
        path = Path(data.dir) / "transactions.parquet"
        if not path.is_file():
            raise LbmError(f"{path}: file not found; the synthetic world in {data.dir} was made before it had "
                           "transactions: regenerate it (delete the directory, or lbm world --out DIR).")
        return str(path)
    return None


def build_estimator(model: ModelConfig):
    """The configured estimator (hyper-parameters as plain values, enums as their names)."""
    from hydra.utils import instantiate

    spec = OmegaConf.to_container(OmegaConf.structured(model.estimator), enum_to_str=True)
    try:
        estimator = instantiate(spec)
    except Exception as exc:  # a mistyped _target_
        raise LbmError(f"config: model.estimator cannot be built ({type(exc).__name__}: {' '.join(str(exc).split())}); "
                       "see lbm_model/conf/model/ for the accepted fields.") from None
    return with_prior_model(estimator, model.prior)


def with_prior_model(estimator, prior: str):
    """``model.prior=PATH``: the previous frozen model (read and verified) the estimator centres its priors on."""
    if not prior:
        return estimator
    if "prior" not in estimator.get_params():
        raise LbmError(f"config: model.prior={prior} is only used by model=bayes_ordinal (the {estimator.family} "
                       "family has no priors); remove it or choose model=bayes_ordinal.")
    from lbm_model.frozen import read_frozen_model

    estimator.set_params(prior=read_frozen_model(prior))
    try:
        estimator.weight_prior([])      # refuses a prior model on another scale before any data is read
    except ValueError as exc:
        raise LbmError(f"model.prior={prior}: {exc}.") from None
    return estimator


def log_tracked_run(cfg: LbmConfig, resolved: dict, inputs, fitted, content: dict, staged: Path, audit,
                    sweep: dict[str, str], example_cells: pd.DataFrame) -> str | None:
    """Log the run to MLflow from the staging directory (model, audit, evidence, the MLflow Model with
    ``example_cells`` as its input example); returns the registered version.

    A store or artifact location that fails here is an LbmError: the run is marked FAILED and nothing
    is published in export.dir.
    """
    from mlflow.exceptions import MlflowException

    from lbm_model.audit import log_audit
    from lbm_model.registry import log_scoring_model
    from lbm_model.tracking import (log_description, log_inputs, log_recalibration, log_rerun_record, rerun_record,
                                    store_lock)

    try:
        fit_metrics = {**fitted.results.fit_stats.metrics(), "judgement_scale": fitted.results.judgement_scale}
        log_recalibration(resolved, fit_metrics, weights_table(content), staged,
                          {"input_fingerprint": inputs.fingerprint, "model_version": cfg.export.model_version,
                           "estimator": content["estimator"]["family"], **sweep})
        log_rerun_record(rerun_record(resolved, inputs.paths, inputs.sha256, content["code_version"],
                                      sha256_text(canonical_json(content))))
        log_audit(audit, audit.staging)
        log_inputs(inputs.paths, inputs.sha256)
        log_description(content)
        with store_lock(cfg.tracking.uri):       # concurrent runs register one after another
            return log_scoring_model(staged, example_cells, cfg.tracking.registered_model)
    except (OSError, MlflowException) as exc:
        raise LbmError(f"tracking: logging the run to {cfg.tracking.uri} (artifacts in {cfg.tracking.artifact_dir}) "
                       f"failed ({type(exc).__name__}: {' '.join(str(exc).split())[:300]}); the run is marked FAILED and "
                       f"nothing was published in {cfg.export.dir}. Fix the store or set tracking.enabled=false.") from None


def run_experiment(cfg: LbmConfig, resolved: dict | None = None) -> Path:
    """Everything ``lbm-experiment`` does, step by step; returns the export directory."""
    from lbm_model.audit import enforce_fail_on, gate, run_audit
    from lbm_model.checks.report import print_verdicts
    from lbm_model.recalibrate import class_thresholds, fit_model, freeze, select_indicators
    from lbm_model.report import write_run_report
    from lbm_model.tracking import log_report, sweep_tags, tracked_run

    started = time.perf_counter()
    resolved = resolved if resolved is not None else plain(OmegaConf.structured(cfg))
    if cfg.data.kind == "synthetic":
        ensure_synthetic_world(cfg.data)
    estimator = build_estimator(cfg.model)
    transactions = transactions_path(cfg.data, estimator)
    say("data", f"reading and validating {cfg.data.cells}, {cfg.data.survey}, {cfg.data.catalog}"
                + (f", {transactions}" if transactions else ""))
    inputs, notes = capture_warnings(load_inputs, cfg.data.cells, cfg.data.survey, cfg.data.catalog, transactions)
    for note in notes:
        say("warning", note, "yellow")
    indicators = select_indicators(inputs, list(cfg.indicators.exclude), cfg.indicators.candidates)
    rule = cfg.classes
    if rule.base_year not in set(inputs.cells["year"].tolist()):
        raise LbmError(f"classes.base_year={rule.base_year} has no cells; choose one of "
                       f"{', '.join(map(str, sorted(inputs.cells['year'].unique())))} (override classes.base_year=YEAR).")
    gate_result = gate(indicators, inputs.catalog, cfg.checks.stigma)
    say("gate", f"stigmatisation: {gate_result.summary}")
    export_dir = Path(cfg.export.dir)
    sweep = sweep_tags()
    run_name = f"{cfg.model.name}-{cfg.data.kind}" + (f" #{sweep['sweep_job']}" if sweep else "")
    with tracked_run(cfg.tracking.enabled, cfg.tracking.uri, cfg.tracking.artifact_dir, cfg.tracking.experiment,
                     run_name=run_name) as run:
        if sweep:
            say("sweep", f"job {sweep['sweep_job']} of sweep {sweep['sweep_id']} ({sweep['sweep_overrides']})")
        fits_on = getattr(estimator, "fits_on", "survey")
        if inputs.transactions is not None and fits_on == "transactions":
            say("fit", f"{cfg.model.name}: {len(indicators)} indicators, {len(inputs.transactions):,} transactions, "
                       f"{len(inputs.catalog.price_controls)} price controls, year fixed effects")
        elif inputs.transactions is not None and fits_on == "survey+transactions":
            say("fit", f"{cfg.model.name}: {len(indicators)} indicators, judgement model on {len(inputs.survey):,} "
                       f"respondents ({len(inputs.catalog.controls)} controls), behaviour model on "
                       f"{len(inputs.transactions):,} transactions ({len(inputs.catalog.price_controls)} price controls, "
                       "year fixed effects)")
        else:
            say("fit", f"{cfg.model.name}: {len(indicators)} indicators, {len(inputs.survey):,} respondents, "
                       f"{len(inputs.catalog.controls)} controls")
        with step(f"fit {cfg.model.name}"):
            fitted = fit_model(inputs, estimator, indicators)
        example_cells = inputs.cells.head(5).copy()      # the MLflow Model's input example, raw indicators
        inputs = inputs.without_cell_columns([i.name for i in indicators])    # the checks read the standardised
        thresholds = class_thresholds(fitted, inputs.cells, rule)
        audit = run_audit(inputs, fitted, thresholds, rule.base_year, cfg.checks, export_dir, gate_result,
                          model_version=cfg.export.model_version, progress=lambda name: say("check", name))
        provenance = {"created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                      "mlflow_run_id": run.info.run_id if run else None, "input_paths": inputs.paths,
                      "command": " ".join(sys.argv)}
        try:   # model, audit and evidence are staged; they replace the previous ones only after the logging
            staged, content = freeze(fitted, inputs, rule, export_dir, model_version=cfg.export.model_version,
                                     seed=cfg.seed, provenance=provenance, thresholds=thresholds, audit=audit,
                                     publish=False)
            if run:
                version = log_tracked_run(cfg, resolved, inputs, fitted, content, staged, audit, sweep, example_cells)
                if version:
                    say("registered", f"{cfg.tracking.registered_model} version {version} (run {run.info.run_id}); "
                                      f"promote it with: lbm promote {run.info.run_id} --alias champion")
            model_path = audit.publish(export_dir)
        finally:
            audit.discard()
        fit_metrics = {**fitted.results.fit_stats.metrics(), "judgement_scale": fitted.results.judgement_scale}
        write_run_summary(export_dir, fit_metrics, audit, content)     # derived from the published model
        report = write_run_report(export_dir)
        if run:
            log_report(report)
    say("frozen", f"{model_path} ({len(indicators)} indicators, {time.perf_counter() - started:.1f} s)", "bold green")
    print_verdicts(console, audit.results)
    say("audit", f"{export_dir / 'audit.json'} (sha256 {audit.sha256[:12]}), evidence in {export_dir / 'evidence'}")
    say("report", f"{report} (open it in a browser; lbm report DIR rewrites it)")
    enforce_fail_on(audit, cfg.checks)
    return export_dir


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def _main(cfg: DictConfig) -> None:
    try:
        cfg = with_schema(cfg)
        run_experiment(typed_config(cfg), plain(cfg))
    except (LbmError, OmegaConfBaseException) as exc:
        say("error", str(exc), "bold red")
        sys.exit(2)


def main() -> None:
    """Console entry point."""
    from lbm_model.inputs import unquoted_path_override

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")   # as in `lbm`: no download bars
    problem = unquoted_path_override(sys.argv[1:])
    if problem:
        say("error", problem, "bold red")
        sys.exit(2)
    _main()


if __name__ == "__main__":
    main()
