"""Log a cross-run analysis (robustness table, sensitivity analysis) as its own MLflow run."""

from __future__ import annotations

from pathlib import Path


def log_analysis(kind: str, metrics: dict[str, float], params: dict[str, str], out: Path, files: tuple[str, ...],
                 tracking_uri: str, experiment: str) -> str:
    """One MLflow run tagged ``lbm.kind=<kind>``: metrics ``<kind>.<name>``, params, and ``files`` from ``out``
    as artifacts under ``<kind>/``; returns the run id."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=kind) as run:
        mlflow.set_tag("lbm.kind", kind)
        mlflow.log_params(params)
        mlflow.log_metrics({f"{kind}.{k}": float(v) for k, v in metrics.items()})
        for name in files:
            mlflow.log_artifact(str(Path(out) / name), artifact_path=kind)
        return run.info.run_id
