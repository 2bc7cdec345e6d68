"""A Hydra sweep (`lbm-experiment -m`): every job lands as its own tracked run, with distinct parameters, its
own export directory and one shared sweep id, through the parallel joblib launcher."""

from __future__ import annotations

import subprocess

import pytest

from conftest import BIN
from lbm_model.frozen import read_frozen_model

pytestmark = pytest.mark.slow


def test_a_four_job_sweep_lands_four_distinct_runs_under_one_sweep_id(small_world, tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path}/mlruns.db"
    done = subprocess.run(
        [str(BIN / "lbm-experiment"), "-m", "data=files", f"data.cells={small_world}/cells.parquet",
         f"data.survey={small_world}/survey.parquet", f"data.catalog={small_world}/catalog.yaml",
         "model=ols,ordinal_logit", "indicators.exclude=[],[dist_library_m]", "checks=fast",
         "checks.run=[collinearity]", f"tracking.uri={uri}", f"tracking.artifact_dir={tmp_path}/mlartifacts",
         f"hydra.sweep.dir={tmp_path}/multirun"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Joblib.Parallel(n_jobs=2" in done.stdout + done.stderr      # the parallel launcher ran the jobs

    mlflow.set_tracking_uri(uri)
    try:
        runs = mlflow.search_runs(experiment_names=["lbm-recalibration"])
    finally:
        mlflow.set_tracking_uri(None)
    assert len(runs) == 4 and set(runs["status"]) == {"FINISHED"}
    assert runs["tags.sweep_id"].nunique() == 1 and runs["tags.sweep_id"].iloc[0]
    assert sorted(runs["tags.sweep_job"]) == ["0", "1", "2", "3"]
    configs = set(zip(runs["params.model.name"], runs["params.indicators.exclude"]))
    assert configs == {("ols", "[]"), ("ols", '["dist_library_m"]'), ("ordinal_logit", "[]"),
                       ("ordinal_logit", '["dist_library_m"]')}
    export_dirs = set(runs["params.export.dir"])
    assert export_dirs == {str(tmp_path / "multirun" / str(job) / "export") for job in range(4)}
    for _, run in runs.iterrows():
        frozen = read_frozen_model(run["params.export.dir"])
        assert frozen["provenance"]["mlflow_run_id"] == run["run_id"]
        assert len(frozen["content"]["indicators"]) == (93 if "dist_library_m" in run["params.indicators.exclude"] else 94)
