"""A new estimator family plugs in through the results object alone.

A stub family with point estimates only (as a regularised family would have) fits, freezes,
scores and runs every check that does not need standard errors; the check that needs them
says "not applicable" instead of failing or writing NaN. A family that cannot refit cheaply
gets "not applicable" from the bootstrap and the cross-validation.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from lbm_model.audit import run_audit
from lbm_model.classes import ThresholdRule
from lbm_model.estimators.base import LbmEstimator, weighted_rmse
from lbm_model.estimators.results import Capabilities, FitResults, FitStats, LinearExtras, NoUncertainty
from lbm_model.frozen import read_frozen_model
from lbm_model.recalibrate import class_thresholds, fit_model, freeze, select_indicators
from lbm_model.scoring import CompiledScorer

pytestmark = pytest.mark.slow  # fits, audits and freezes on the small world


class PointOnly(LbmEstimator):
    """Survey-weighted least squares point estimates, no uncertainty at all."""

    family = "point_only_stub"
    can_refit = True

    def __init__(self, rcond: float | None = None) -> None:
        self.rcond = rcond

    def fit(self, X, y, *, controls=None, sample_weight=None, groups=None):
        Xa, y, controls, weight, groups = self._check_fit_input(X, y, controls, sample_weight, groups)
        design = np.column_stack([np.ones(len(y)), Xa, controls.to_numpy(float)])
        root = np.sqrt(weight)
        beta = np.linalg.lstsq(design * root[:, None], y * root, rcond=self.rcond)[0]
        k = Xa.shape[1]
        self.results_ = FitResults(
            family=self.family, params=self.model_params(), weights=pd.Series(beta[1:1 + k], index=list(X.columns)),
            judgement_scale=1.0, scale_rule="identity", uncertainty=NoUncertainty("a point-estimate stub"),
            fit_stats=FitStats(converged=True, n_obs=len(y), n_clusters=None, n_params=len(beta),
                               rmse=weighted_rmse(y, design @ beta, weight)),
            control_coefs=pd.Series(beta[1 + k:], index=list(controls.columns)), extras=LinearExtras(float(beta[0])),
            capabilities=Capabilities(standard_errors=False, probabilities=False, refit=self.can_refit, warm_start=False))
        return self

    def predict_expected(self, X, controls=None):
        return self.results.extras.intercept + self.linear_index(X, controls)


class PointOnlyNoRefit(PointOnly):
    family = "point_only_no_refit_stub"
    can_refit = False


@pytest.fixture(scope="module")
def stub_run(small_inputs, fast_checks_config, tmp_path_factory):
    export = tmp_path_factory.mktemp("stub-family")
    fitted = fit_model(small_inputs, PointOnly(), select_indicators(small_inputs))
    rule = ThresholdRule(base_year=2020)
    thresholds = class_thresholds(fitted, small_inputs.cells, rule)
    audit = run_audit(small_inputs, fitted, thresholds, 2020, fast_checks_config, export)
    path, content = freeze(fitted, small_inputs, rule, export, model_version="stub", seed=0, provenance={},
                           thresholds=thresholds, audit=audit)
    return fitted, audit, path, content


def test_a_family_without_standard_errors_freezes_with_null_not_nan(stub_run):
    _, _, path, content = stub_run
    document = read_frozen_model(path)                       # verified on load
    assert all(entry["standard_error"] is None for entry in document["content"]["indicators"])
    assert content["estimator"]["family"] == "point_only_stub"
    assert content["estimator"]["uncertainty"] == {"kind": "none", "reason": "a point-estimate stub"}
    assert "NaN" not in path.read_text()


def test_it_scores_exactly_like_its_fit(stub_run, small_inputs):
    fitted, _, path, _ = stub_run
    scores = CompiledScorer.load(path).score(small_inputs.cells)
    assert np.max(np.abs(scores["score"].to_numpy() - fitted.cell_scores())) < 1e-9


def test_checks_needing_standard_errors_are_not_applicable_and_the_rest_run(stub_run):
    _, audit, path, _ = stub_run
    verdicts = {r.name: r.verdict for r in audit.results}
    not_applicable = ("sign_plausibility", "family_diagnostics", "posterior_convergence")   # no draws either
    assert {verdicts[name] for name in not_applicable} == {"not applicable"}
    ran = {name: v for name, v in verdicts.items() if name not in not_applicable}
    assert set(ran) == {"residual_autocorrelation", "score_autocorrelation", "proxy_audit", "collinearity",
                        "blocked_cv", "cluster_bootstrap"}
    assert all(v in ("pass", "warn") for v in ran.values()), ran
    recorded = json.loads((path.parent / "audit.json").read_text())
    signs = next(c for c in recorded["checks"] if c["name"] == "sign_plausibility")
    assert signs["details"]["missing_capabilities"] == ["standard_errors"]
    bootstrap = next(r for r in audit.results if r.name == "cluster_bootstrap")
    assert "no analytic standard errors" in bootstrap.summary
    assert bootstrap.to_dict()["metrics"]["median_se_ratio_bootstrap_to_analytic"] is None


def test_a_family_that_cannot_refit_gets_not_applicable_from_resampling_checks(small_inputs, fast_checks_config, tmp_path):
    fitted = fit_model(small_inputs, PointOnlyNoRefit(), select_indicators(small_inputs))
    thresholds = class_thresholds(fitted, small_inputs.cells, ThresholdRule(base_year=2020))
    config = dataclasses.replace(fast_checks_config, run=["blocked_cv", "cluster_bootstrap", "proxy_audit"])
    audit = run_audit(small_inputs, fitted, thresholds, 2020, config, tmp_path)
    verdicts = {r.name: r.verdict for r in audit.results}
    assert verdicts["blocked_cv"] == verdicts["cluster_bootstrap"] == "not applicable"
    proxy = next(r for r in audit.results if r.name == "proxy_audit")
    assert proxy.verdict != "not applicable" and "absorbed effect not applicable" in proxy.summary
    audit.discard()
