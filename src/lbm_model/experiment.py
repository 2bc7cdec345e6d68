"""The Hydra entry point ``lbm-experiment``: fit, fix classes, freeze, log.

Config groups in conf/: data (synthetic | files), indicators, model (ordinal_logit | ols),
classes (the threshold rule). Code below the entry point gets plain objects, never the
global config.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import hydra
import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from rich.console import Console
from rich.markup import escape

from lbm_model.classes import ThresholdRule
from lbm_model.errors import LbmError
from lbm_model.frozen import canonical_json, sha256_text
from lbm_model.inputs import capture_warnings, load_inputs
from lbm_model.recalibrate import fit_model, freeze, select_indicators
from lbm_model.tracking import log_recalibration, log_rerun_record, rerun_record, tracked_run

CONF_DIR = os.environ.get("LBM_CONF_DIR", str(Path(__file__).resolve().parents[2] / "conf"))
console = Console(stderr=True)


def ensure_synthetic_world(data: DictConfig) -> None:
    """Generate the synthetic world for data=synthetic when it is not there yet."""
    if Path(data.cells).is_file() and Path(data.survey).is_file() and Path(data.catalog).is_file():
        return
    from lbm_model.atomic import write_directory_atomic
    from lbm_model.world import generate_world

    console.print(f"[bold]world[/] generating the synthetic Netherlands ({data.scale}, seed {data.seed}) in "
                  f"{escape(str(data.dir))}")
    write_directory_atomic(Path(data.dir), lambda tmp: generate_world(tmp, scale=data.scale, seed=int(data.seed),
                                                                       progress=True))


def weights_table(content: dict) -> pd.DataFrame:
    return pd.DataFrame(content["indicators"])[["name", "dimension", "weight", "standard_error", "native_weight",
                                                 "expected_sign", "transform", "mean", "sd"]]


def require_complete_config(cfg: DictConfig) -> None:
    """Refuse a config with unset mandatory values (``???``) before any work."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise LbmError(f"config: no value for {', '.join(missing)}; set it on the command line, for example "
                       f"{missing[0]}=PATH (see conf/ and docs/data-contract.md).")


def check_config_values(cfg: DictConfig) -> None:
    """Refuse mistyped override values (``seed=abc``, ``tracking.enabled=flase``, ...) before any work."""
    def refuse(key: str, value, expected: str) -> None:
        raise LbmError(f"config: {key}={value!r} is not valid; expected {expected} (override {key}=...).")

    def whole(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if not whole(cfg.seed):
        refuse("seed", cfg.seed, "a whole number")
    if not isinstance(cfg.tracking.enabled, bool):
        refuse("tracking.enabled", cfg.tracking.enabled, "true or false")
    if not isinstance(cfg.export.dir, str) or not cfg.export.dir.strip():
        refuse("export.dir", cfg.export.dir, "a directory path")
    if Path(cfg.export.dir).exists() and not Path(cfg.export.dir).is_dir():
        refuse("export.dir", cfg.export.dir, "a directory path, not an existing file")
    classes = OmegaConf.to_container(cfg.classes, resolve=True)
    if not whole(classes.get("base_year")):
        refuse("classes.base_year", classes.get("base_year"), "a year, e.g. 2020")
    for key in ("width_sd", "width"):
        value = classes.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0):
            refuse(f"classes.{key}", value, "a positive number or null")
    try:
        ThresholdRule(**classes)
    except (TypeError, ValueError) as exc:
        raise LbmError(f"config: classes: {exc} (see conf/classes/).") from None
    estimator = OmegaConf.to_container(cfg.model.estimator, resolve=True)
    if "max_iter" in estimator and not (whole(estimator["max_iter"]) and estimator["max_iter"] >= 1):
        refuse("model.estimator.max_iter", estimator["max_iter"], "a whole number >= 1")
    if "tol" in estimator and (isinstance(estimator["tol"], bool) or not isinstance(estimator["tol"], (int, float))
                               or not estimator["tol"] > 0):
        refuse("model.estimator.tol", estimator["tol"], "a positive number")


def build_estimator(cfg: DictConfig):
    """The configured estimator, refusing a mistyped ``_target_``, argument or cov_type before the fit.

    Separate from check_config_values because importing the estimators takes a second:
    refusing bad data should not wait for it.
    """
    from lbm_model.estimators.base import COV_TYPES

    try:
        estimator = instantiate(cfg.model.estimator)
    except Exception as exc:  # a mistyped _target_ or argument name
        raise LbmError(f"config: model.estimator cannot be built ({type(exc).__name__}: {' '.join(str(exc).split())}); "
                       "see conf/model/ for the accepted fields.") from None
    cov_type = getattr(estimator, "cov_type", COV_TYPES[0])
    if cov_type not in COV_TYPES:
        raise LbmError(f"config: model.estimator.cov_type={cov_type!r} is not valid; expected one of "
                       f"{', '.join(COV_TYPES)} (override model.estimator.cov_type=...).")
    return estimator


def run_experiment(cfg: DictConfig) -> Path:
    """Everything ``lbm-experiment`` does; returns the export directory."""
    started = time.perf_counter()
    require_complete_config(cfg)
    check_config_values(cfg)
    if cfg.data.kind == "synthetic":
        ensure_synthetic_world(cfg.data)
    console.print(f"[bold]data[/] reading and validating {escape(str(cfg.data.cells))}, {escape(str(cfg.data.survey))}, "
                  f"{escape(str(cfg.data.catalog))}")
    inputs, notes = capture_warnings(load_inputs, cfg.data.cells, cfg.data.survey, cfg.data.catalog)
    for note in notes:
        console.print(f"[yellow]warning[/] {escape(note)}", highlight=False, soft_wrap=True)
    indicators = select_indicators(inputs, list(cfg.indicators.exclude))
    rule = ThresholdRule(**OmegaConf.to_container(cfg.classes, resolve=True))
    if rule.base_year not in set(inputs.cells["year"].tolist()):
        raise LbmError(f"classes.base_year={rule.base_year} has no cells; choose one of "
                       f"{', '.join(map(str, sorted(inputs.cells['year'].unique())))} (override classes.base_year=YEAR).")
    estimator_config = OmegaConf.to_container(cfg.model.estimator, resolve=True)
    estimator = build_estimator(cfg)
    export_dir = Path(cfg.export.dir)
    from lbm_model.checks.pipeline import RunChecks  # gate before any fit; checks after the classes

    checks = RunChecks(OmegaConf.to_container(cfg.checks, resolve=True), inputs, indicators, export_dir,
                       model_version=cfg.export.model_version, console=console)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    with tracked_run(cfg.tracking.enabled, cfg.tracking.uri, cfg.tracking.artifact_dir, cfg.tracking.experiment,
                     run_name=f"{cfg.model.name}-{cfg.data.kind}") as run:
        console.print(f"[bold]fit[/] {escape(str(cfg.model.name))}: {len(indicators)} indicators, {len(inputs.survey):,} respondents, "
                      f"{len(inputs.catalog.controls)} controls")
        fitted = fit_model(inputs, estimator, indicators)
        provenance = {"created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                      "mlflow_run_id": run.info.run_id if run else None, "input_paths": inputs.paths,
                      "command": " ".join(sys.argv)}
        model_path, content = freeze(fitted, inputs, rule, export_dir, model_version=cfg.export.model_version,
                                     estimator_config=estimator_config, seed=cfg.seed, provenance=provenance,
                                     audit=checks.freeze_hook(fitted, rule.base_year))
        if run:
            log_recalibration(resolved, content, weights_table(content), model_path,
                              {"input_fingerprint": inputs.fingerprint, "model_version": cfg.export.model_version,
                               "estimator": content["estimator"]["family"]})
            log_rerun_record(rerun_record(resolved, inputs.paths, inputs.sha256, content["code_version"],
                                          sha256_text(canonical_json(content))))
            checks.log()
    console.print(f"[bold green]frozen[/] {escape(str(model_path))} ({len(indicators)} indicators, "
                  f"{time.perf_counter() - started:.1f} s)")
    checks.report()
    return export_dir


@hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")
def _main(cfg: DictConfig) -> None:
    try:
        run_experiment(cfg)
    except (LbmError, OmegaConfBaseException) as exc:
        console.print(f"[bold red]error[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)


def main() -> None:
    """Console entry point."""
    _main()


if __name__ == "__main__":
    main()
