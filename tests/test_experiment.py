"""lbm-experiment end to end on the small synthetic world, as a user runs it."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import pandas as pd
import pytest

from conftest import BIN, run_lbm_experiment
from lbm_model.frozen import read_frozen_model

pytestmark = pytest.mark.slow  # lbm-experiment end to end as a subprocess


run_experiment = run_lbm_experiment


@pytest.fixture(scope="module")
def ols_run(small_world, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("experiment")
    # the checks are tested in test_checks_*.py; one cheap check keeps the audit path in this run
    result = run_experiment(tmp, small_world, "model=ols", f"export.dir={tmp}/export", "checks.run=[collinearity]")
    assert result.returncode == 0, result.stderr
    return tmp


def test_experiment_freezes_a_verified_model(ols_run, small_world):
    document = read_frozen_model(ols_run / "export")
    content = document["content"]
    catalog_names = {i["name"] for i in content["indicators"]}
    assert content["estimator"]["family"] == "least_squares"
    assert not catalog_names & set(content["excluded_stigmatising"])
    assert len(content["indicators"]) >= 90 and len(content["classes"]["thresholds"]) == 8
    assert document["provenance"]["mlflow_run_id"]


def test_experiment_logs_weights_config_and_fingerprint_to_mlflow(ols_run):
    document = read_frozen_model(ols_run / "export")
    run_id = document["provenance"]["mlflow_run_id"]
    with sqlite3.connect(ols_run / "mlruns.db") as db:
        metrics = {k for (k,) in db.execute("select key from metrics where run_uuid=?", (run_id,))}
        params = {k for (k,) in db.execute("select key from params where run_uuid=?", (run_id,))}
        tags = dict(db.execute("select key, value from tags where run_uuid=?", (run_id,)).fetchall())
    assert {"fit.r2", "fit.n_obs", "fit.n_clusters"} <= metrics
    assert {"model.estimator._target_", "data.cells", "seed"} <= params
    assert tags["input_fingerprint"] == document["content"]["training_data"]["fingerprint_sha256"]
    assert tags["mlflow.source.git.commit"] == document["content"]["code_version"]["git_commit"]
    assert tags["mlflow.note.content"].startswith(f"**{document['content']['model_version']}**: least_squares on ")
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{ols_run}/mlruns.db")
    inputs = {d.dataset.name: d.dataset.digest for d in mlflow.get_run(run_id).inputs.dataset_inputs}
    recorded = document["content"]["training_data"]["files"]
    assert inputs == {key: recorded[key]["sha256"][:32] for key in ("cells", "survey", "catalog")}
    artifacts = list((ols_run / "mlartifacts").rglob("*"))
    names = {p.name for p in artifacts}
    assert {"model.json", "weights.csv", "resolved_config.json"} <= names
    weights = pd.read_csv(next(p for p in artifacts if p.name == "weights.csv"))
    assert len(weights) == len(document["content"]["indicators"]) and weights["standard_error"].gt(0).all()


def test_scoring_the_world_with_the_frozen_model(ols_run, small_world):
    out = ols_run / "scores.parquet"
    result = subprocess.run([str(BIN / "lbm"), "score", "--model", str(ols_run / "export"), "--cells",
                             str(small_world / "cells.parquet"), "--year", "2020", "--out", str(out),
                             "--aggregate", "buurt,gemeente"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    scores = pd.read_parquet(out)
    cells = pd.read_parquet(small_world / "cells.parquet", columns=["cell_id", "year", "households"])
    assert len(scores) == (cells["year"] == 2020).sum() and scores["cell_id"].is_unique
    content = read_frozen_model(ols_run / "export")["content"]
    merged = scores.merge(cells, on=["cell_id", "year"])
    shares = merged.groupby("class")["households"].sum() / merged["households"].sum()
    recorded = content["classes"]["base_year_household_shares"]
    for cls, share in shares.items():
        assert share == pytest.approx(recorded[cls - 1], abs=1e-12)


def test_bad_override_and_bad_input_exit_nonzero_and_write_nothing(small_world, tmp_path):
    typo = run_experiment(tmp_path, small_world, "modle=ols", f"export.dir={tmp_path}/a")
    assert typo.returncode != 0 and "modle" in typo.stderr and "Traceback" not in typo.stderr
    missing = run_experiment(tmp_path, small_world, "data.cells=/nonexistent/cells.parquet", f"export.dir={tmp_path}/b")
    assert missing.returncode == 2 and "/nonexistent/cells.parquet: file not found" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_every_default_check_runs_inside_lbm_experiment(small_world, tmp_path):
    """The experiment releases the raw indicator columns after the fit (issue 14, memory); every check that
    reads the inputs afterwards (the proxy audit's refit, cross-validation, the bootstrap, the spatial checks)
    must still run there, not only when called on a full CheckContext."""
    result = run_experiment(tmp_path, small_world, f"export.dir={tmp_path}/export", "tracking.enabled=false",
                            "checks.spatial.permutations=9", "checks.spatial.lisa_permutations=9",
                            "checks.spatial.score_permutations=9", "checks.cluster_bootstrap.replicates=3")
    assert result.returncode == 0, result.stderr
    checks = json.loads((tmp_path / "export" / "audit.json").read_text())["checks"]
    assert {c["name"] for c in checks} >= {"proxy_audit", "blocked_cv", "cluster_bootstrap", "residual_autocorrelation",
                                            "score_autocorrelation", "collinearity"}
    broken = {c["name"]: c["summary"] for c in checks if "could not run" in c["summary"]}
    assert not broken
    proxy = next(c for c in checks if c["name"] == "proxy_audit")
    assert "absorbed_share" in proxy["metrics"]            # the refit with the composition columns ran
