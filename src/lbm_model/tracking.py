"""MLflow logging of a recalibration run: config, weights, fit statistics, frozen model.

Only aggregate results are logged: no respondent-level rows or ids ever reach MLflow.
The default store is a local SQLite file in the project folder; no server is needed.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd


def _flatten(prefix: str, value, out: dict) -> dict:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    else:
        out[prefix] = value if not isinstance(value, (list, tuple)) else json.dumps(value)
    return out


@contextmanager
def tracked_run(enabled: bool, uri: str, artifact_dir: str, experiment: str, run_name: str) -> Iterator[object | None]:
    """An active MLflow run (or None when tracking is disabled)."""
    if not enabled:
        yield None
        return
    import mlflow

    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment, artifact_location=Path(artifact_dir).resolve().as_uri())
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name) as run:
        yield run


def log_recalibration(config: dict, content: dict, weights_table: pd.DataFrame, model_path: Path,
                      tags: dict[str, str]) -> None:
    """Log the resolved config, fit statistics, weights table and frozen model to the active run."""
    import mlflow

    params = _flatten("", config, {})
    mlflow.log_params({k: str(v)[:6000] for k, v in params.items()})
    stats = {f"fit.{k}": float(v) for k, v in content["estimator"]["fit_stats"].items()}
    stats["judgement_scale"] = float(content["estimator"]["judgement_scale"])
    mlflow.log_metrics(stats)
    mlflow.set_tags(tags)
    mlflow.log_dict(config, "config/resolved_config.json")
    mlflow.log_text(weights_table.to_csv(index=False, lineterminator="\n"), "model/weights.csv")
    mlflow.log_artifact(str(model_path), artifact_path="model")
