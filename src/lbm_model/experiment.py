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

from lbm_model.classes import ThresholdRule
from lbm_model.errors import LbmError
from lbm_model.inputs import capture_warnings, load_inputs
from lbm_model.recalibrate import fit_model, freeze, select_indicators
from lbm_model.tracking import log_recalibration, tracked_run

CONF_DIR = os.environ.get("LBM_CONF_DIR", str(Path(__file__).resolve().parents[2] / "conf"))
console = Console(stderr=True)


def ensure_synthetic_world(data: DictConfig) -> None:
    """Generate the synthetic world for data=synthetic when it is not there yet."""
    if Path(data.cells).is_file() and Path(data.survey).is_file() and Path(data.catalog).is_file():
        return
    from lbm_model.world import generate_world

    console.print(f"[bold]world[/] generating the synthetic Netherlands ({data.scale}, seed {data.seed}) in {data.dir}")
    generate_world(Path(data.dir), scale=data.scale, seed=int(data.seed), progress=True)


def weights_table(content: dict) -> pd.DataFrame:
    return pd.DataFrame(content["indicators"])[["name", "dimension", "weight", "standard_error", "native_weight",
                                                 "expected_sign", "transform", "mean", "sd"]]


def require_complete_config(cfg: DictConfig) -> None:
    """Refuse a config with unset mandatory values (``???``) before any work."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise LbmError(f"config: no value for {', '.join(missing)}; set it on the command line, for example "
                       f"{missing[0]}=PATH (see conf/ and docs/data-contract.md).")


def run_experiment(cfg: DictConfig) -> Path:
    """Everything ``lbm-experiment`` does; returns the export directory."""
    started = time.perf_counter()
    require_complete_config(cfg)
    if cfg.data.kind == "synthetic":
        ensure_synthetic_world(cfg.data)
    console.print(f"[bold]data[/] reading and validating {cfg.data.cells}, {cfg.data.survey}, {cfg.data.catalog}")
    inputs, notes = capture_warnings(load_inputs, cfg.data.cells, cfg.data.survey, cfg.data.catalog)
    for note in notes:
        console.print(f"[yellow]warning[/] {note}")
    indicators = select_indicators(inputs, list(cfg.indicators.exclude))
    rule = ThresholdRule(**OmegaConf.to_container(cfg.classes, resolve=True))
    estimator_config = OmegaConf.to_container(cfg.model.estimator, resolve=True)
    export_dir = Path(cfg.export.dir)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    with tracked_run(cfg.tracking.enabled, cfg.tracking.uri, cfg.tracking.artifact_dir, cfg.tracking.experiment,
                     run_name=f"{cfg.model.name}-{cfg.data.kind}") as run:
        console.print(f"[bold]fit[/] {cfg.model.name}: {len(indicators)} indicators, {len(inputs.survey):,} respondents, "
                      f"{len(inputs.catalog.controls)} controls")
        fitted = fit_model(inputs, instantiate(cfg.model.estimator), indicators)
        provenance = {"created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                      "mlflow_run_id": run.info.run_id if run else None, "input_paths": inputs.paths,
                      "command": " ".join(sys.argv)}
        model_path, content = freeze(fitted, inputs, rule, export_dir, model_version=cfg.export.model_version,
                                     estimator_config=estimator_config, seed=cfg.seed, provenance=provenance)
        if run:
            log_recalibration(resolved, content, weights_table(content), model_path,
                              {"input_fingerprint": inputs.fingerprint, "model_version": cfg.export.model_version,
                               "estimator": content["estimator"]["family"]})
    console.print(f"[bold green]frozen[/] {model_path} ({len(indicators)} indicators, "
                  f"{time.perf_counter() - started:.1f} s)")
    return export_dir


@hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")
def _main(cfg: DictConfig) -> None:
    try:
        run_experiment(cfg)
    except (LbmError, OmegaConfBaseException) as exc:
        console.print(f"[bold red]error[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


def main() -> None:
    """Console entry point."""
    _main()


if __name__ == "__main__":
    main()
