"""Every new family goes through the unchanged pipeline: fit, classes, checks, freeze, verified load, score.

The same path as tests/test_family_contract.py (which proves it with a stub), here with the real
multilevel and elastic_net families on the small world. Checks a family cannot serve say
"not applicable"; the family's own diagnostics land in the evidence.
"""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from lbm_model.audit import run_audit
from lbm_model.classes import ThresholdRule
from lbm_model.estimators import ElasticNetSelection, Multilevel, SpatialError, SpatialLag
from lbm_model.frozen import read_frozen_model
from lbm_model.recalibrate import class_thresholds, fit_model, freeze, select_indicators
from lbm_model.scoring import CompiledScorer

pytestmark = pytest.mark.slow  # one fit, audit and freeze per family on the small world

CHECKS = ["residual_autocorrelation", "collinearity", "sign_plausibility", "blocked_cv", "cluster_bootstrap",
          "family_diagnostics"]
FAMILIES = {"multilevel": (Multilevel, False), "elastic_net": (lambda: ElasticNetSelection(n_subsamples=20), True),
            "spatial_error": (SpatialError, False), "spatial_lag": (SpatialLag, False)}


@pytest.fixture(scope="module", params=list(FAMILIES))
def family_run(request, small_inputs, fast_checks_config, tmp_path_factory):
    make, candidates = FAMILIES[request.param]
    export = tmp_path_factory.mktemp(request.param)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)       # multilevel: survey weights not used (asserted elsewhere)
        fitted = fit_model(small_inputs, make(), select_indicators(small_inputs, candidates=candidates))
    rule = ThresholdRule(base_year=2020)
    thresholds = class_thresholds(fitted, small_inputs.cells, rule)
    config = dataclasses.replace(fast_checks_config, run=CHECKS)
    audit = run_audit(small_inputs, fitted, thresholds, 2020, config, export)
    path, content = freeze(fitted, small_inputs, rule, export, model_version=request.param, seed=0, provenance={},
                           thresholds=thresholds, audit=audit)
    audit.discard()
    return request.param, fitted, audit, path, content


def test_it_freezes_verified_and_scores_exactly_like_its_fit(family_run, small_inputs):
    name, fitted, _, path, content = family_run
    document = read_frozen_model(path)
    assert document["content"]["estimator"]["family"] == name and "NaN" not in path.read_text()
    scores = CompiledScorer.load(path).score(small_inputs.cells)
    assert np.max(np.abs(scores["score"].to_numpy() - fitted.cell_scores())) < 1e-9


def test_checks_it_cannot_serve_are_not_applicable_and_its_diagnostics_are_evidence(family_run):
    name, _, audit, path, _ = family_run
    verdicts = {r.name: r.verdict for r in audit.results}
    assert verdicts["blocked_cv"] == verdicts["cluster_bootstrap"] == "not applicable"     # no cheap refits
    no_errors = name in ("elastic_net", "spatial_lag")
    assert (verdicts["sign_plausibility"] == "not applicable") == no_errors
    assert verdicts["family_diagnostics"] == "pass"
    # the residual check runs on every family (multilevel: its fixed-part residuals keep the area effects, which
    # are spatially clustered, so it may fail there: a finding, not an error)
    residual = next(r for r in audit.results if r.name == "residual_autocorrelation")
    assert residual.verdict != "not applicable" and "error" not in residual.details, residual.summary
    assert verdicts["collinearity"] in ("pass", "warn")
    evidence = path.parent / "evidence" / "family_diagnostics"
    if name == "multilevel":
        components = pd.read_csv(evidence / "variance_components.csv")
        assert set(components["component"]) == {"gemeente", "buurt", "residual"} and (components["variance"] >= 0).all()
        buurten = pd.read_csv(evidence / "buurt_effects.csv")
        assert (buurten["respondents"] >= 10).all() and len(buurten) > 100    # disclosure minimum applied
    elif name.startswith("spatial"):
        tests = pd.read_csv(evidence / "lm_tests.csv")
        assert list(tests["test"]) == ["lm_error", "lm_lag", "rlm_error", "rlm_lag", "lm_sarma"]
        assert tests["p_value"].between(0, 1).all()
    else:
        table = pd.read_csv(evidence / "selection.csv")
        assert table["selected"].sum() == len(json.loads(path.read_text())["content"]["estimator"]["extras"]
                                                ["selection"]["selected"])


def test_model_json_records_what_the_family_adds(family_run):
    name, fitted, _, path, content = family_run
    extras = content["estimator"]["extras"]
    if name == "multilevel":
        assert set(extras["variance_components"]) == {"gemeente", "buurt", "residual"}
        assert "area_effects" not in json.dumps(extras)       # area effects are evidence, never part of the model
    elif name.startswith("spatial"):
        assert set(extras["lm_tests"]) == {"lm_error", "lm_lag", "rlm_error", "rlm_lag", "lm_sarma"}
        assert extras["n_buurten"] > 400
    else:
        dropped = [e for e in content["indicators"] if e["name"] not in extras["selection"]["selected"]]
        assert dropped and all(e["weight"] == 0.0 and e["native_weight"] == 0.0 for e in dropped)
        assert all(e["name"] in extras["selection"]["frequency"] for e in content["indicators"])
        assert all(e["standard_error"] is None for e in content["indicators"])


def test_lbm_experiment_runs_a_new_family_with_the_next_indicator_set_and_scores_it(small_world, tmp_path):
    """The unchanged command line: model=spatial_error indicators=next fits, audits, freezes, logs and scores."""
    import sqlite3
    import subprocess

    from conftest import BIN, run_lbm_experiment

    done = run_lbm_experiment(tmp_path, small_world, "model=spatial_error", "indicators=next",
                              f"export.dir={tmp_path}/export", "checks.run=[collinearity,family_diagnostics]")
    assert done.returncode == 0, done.stderr
    document = read_frozen_model(tmp_path / "export")
    content = document["content"]
    assert content["estimator"]["family"] == "spatial_error" and len(content["indicators"]) == 100
    with sqlite3.connect(tmp_path / "mlruns.db") as db:
        metrics = {k for (k,) in db.execute("select key from metrics where run_uuid=?",
                                            (document["provenance"]["mlflow_run_id"],))}
    assert {"fit.lambda", "check.family_diagnostics.lm_error_p"} <= metrics
    scored = subprocess.run([str(BIN / "lbm"), "score", "--model", str(tmp_path / "export"), "--cells",
                             str(small_world / "cells.parquet"), "--year", "2020", "--out", str(tmp_path / "s.parquet")],
                            capture_output=True, text=True)
    assert scored.returncode == 0, scored.stderr
    assert len(pd.read_parquet(tmp_path / "s.parquet")) == content["training_data"]["n_cell_years"] // 4
