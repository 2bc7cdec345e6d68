"""The Bayesian family on the small world: recovery of truth.json, convergence, the value of an informative
prior, fixed seeds, and class probabilities from the frozen draws.

To stay within a couple of minutes the fits use random subsamples of the small world's 20,100
respondents (documented in docs/estimators.md): 4,000 for the weak-prior fit, 1,000 for the fit
with a prior centred on the truth, 600 for the determinism check. The model is fully specified
(composition columns as adjustment controls) as in tests/test_recovery.py.
"""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from lbm_model.classes import ThresholdRule
from lbm_model.estimators import BayesOrdinal, OrdinalLogit
from lbm_model.frozen import read_frozen_model, with_native_weights
from lbm_model.recalibrate import class_thresholds, fit_model, freeze, select_indicators
from lbm_model.scoring import CompiledScorer

pytestmark = pytest.mark.slow

WEAK_N, STRONG_N, DRAWS = 4000, 1000, 1000


def subsample(inputs, n: int, seed: int = 0):
    """The inputs with ``n`` random respondents (same cells and catalog)."""
    survey = inputs.survey.sample(n, random_state=seed).sort_index().reset_index(drop=True)
    return dataclasses.replace(inputs, survey=survey)


def composition(inputs) -> list[str]:
    return [i.name for i in inputs.catalog.stigmatising_indicators]


def fit_bayes(inputs, n: int, **params):
    params = {"sampler": "nutpie", **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small = subsample(inputs, n)
        return fit_model(small, BayesOrdinal(**params), select_indicators(small), adjust=composition(small))


@pytest.fixture(scope="module")
def truth(small_world) -> pd.Series:
    return pd.Series(json.loads((small_world / "truth.json").read_text())["weights"])


@pytest.fixture(scope="module")
def weak_fit(small_inputs):
    return fit_bayes(small_inputs, WEAK_N, draws=DRAWS, tune=DRAWS)


def weight_rmse(fitted, truth: pd.Series) -> float:
    weights = fitted.results.weights
    return float(np.sqrt(((weights - truth.reindex(weights.index)) ** 2).mean()))


def test_intervals_cover_the_true_weights_and_the_chains_converge(weak_fit, truth):
    results = weak_fit.results
    convergence = results.extras.convergence
    assert convergence["max_rhat"] < 1.01 and convergence["divergences"] == 0, convergence
    interval = results.conf_int(0.9)
    true = truth.reindex(results.weights.index)
    coverage = float(((interval["lower"] <= true) & (true <= interval["upper"])).mean())
    assert coverage >= 0.8, coverage
    assert np.corrcoef(results.weights, true)[0, 1] >= 0.9


@pytest.fixture(scope="module")
def prior_at_truth(small_inputs, truth, tmp_path_factory) -> dict:
    """A frozen ordinal model of the whole small world whose weights are replaced by the true ones (its
    standard errors kept): the 'previous model' a strong prior is centred on."""
    fitted = fit_model(small_inputs, OrdinalLogit(), select_indicators(small_inputs), adjust=composition(small_inputs))
    directory = tmp_path_factory.mktemp("prior")
    freeze(fitted, small_inputs, ThresholdRule(base_year=2020), directory, model_version="prior", seed=0, provenance={})
    return with_native_weights(directory, truth.to_dict())


def test_a_strong_prior_at_the_truth_needs_fewer_respondents(small_inputs, weak_fit, prior_at_truth, truth):
    strong = fit_bayes(small_inputs, STRONG_N, draws=DRAWS, tune=DRAWS, prior=prior_at_truth, prior_strength=1.0)
    assert strong.results.extras.prior.source_sha256 == prior_at_truth["content_sha256"]
    assert len(strong.results.extras.prior.informed) == len(strong.results.weights)
    # a quarter of the respondents with the informative prior beats the weak prior's error
    assert weight_rmse(strong, truth) < weight_rmse(weak_fit, truth), (weight_rmse(strong, truth),
                                                                        weight_rmse(weak_fit, truth))


def test_same_seed_same_draws(small_inputs):
    first, second = (fit_bayes(small_inputs, 600, draws=60, tune=60, random_seed=7) for _ in range(2))
    pd.testing.assert_frame_equal(first.results.uncertainty.draws, second.results.uncertainty.draws, check_exact=True)
    pd.testing.assert_series_equal(first.results.weights, second.results.weights, check_exact=True)
    assert first.results.judgement_scale == second.results.judgement_scale


def test_frozen_intervals_draws_and_class_probabilities(weak_fit, small_inputs, tmp_path):
    rule = ThresholdRule(base_year=2020)
    thresholds = class_thresholds(weak_fit, small_inputs.cells, rule)
    path, content = freeze(weak_fit, small_inputs, rule, tmp_path, model_version="bayes", seed=0, provenance={},
                           thresholds=thresholds)
    document = read_frozen_model(path)
    entries = document["content"]["indicators"]
    assert all(e["interval_90"][0] <= e["weight"] <= e["interval_90"][1] for e in entries)
    assert document["content"]["posterior_draws"]["n_draws"] == 200
    assert document["content"]["estimator"]["extras"]["posterior"]["convergence"]["divergences"] == 0
    scorer = CompiledScorer.load(path)
    base = small_inputs.cells[small_inputs.cells["year"] == 2020].reset_index(drop=True)
    probabilities = scorer.class_probabilities(base)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)
    point = scorer.score(base)["class"].to_numpy()
    modal = probabilities.argmax(axis=1) + 1
    # the point class comes from the posterior mean of the weights, and a cell's score is linear in them, so
    # the draws' scores centre on the point score: the modal class is the point class or a neighbour of it
    agreement = float((modal == point).mean())
    assert np.abs(modal - point).max() <= 1
    assert agreement >= 0.75, agreement
    assert np.all(probabilities[np.arange(len(point)), point - 1] >= 0.2)


def test_audit_grades_convergence_and_writes_the_posterior_evidence(weak_fit, small_inputs, fast_checks_config, tmp_path):
    from lbm_model.audit import run_audit

    thresholds = class_thresholds(weak_fit, small_inputs.cells, ThresholdRule(base_year=2020))
    config = dataclasses.replace(fast_checks_config, run=["sign_plausibility", "blocked_cv", "family_diagnostics",
                                                          "posterior_convergence"])
    audit = run_audit(small_inputs, weak_fit, thresholds, 2020, config, tmp_path / "export")
    try:
        verdicts = {r.name: r.verdict for r in audit.results}
        assert verdicts["posterior_convergence"] == "pass" or verdicts["posterior_convergence"] == "warn"   # ESS only
        assert verdicts["blocked_cv"] == "not applicable" and verdicts["sign_plausibility"] != "not applicable"
        assert verdicts["family_diagnostics"] == "pass"
        evidence = audit.staging / "evidence" / "family_diagnostics"
        table = pd.read_csv(evidence / "posterior_parameters.csv")
        assert table["r_hat"].max() < 1.01 and {"sd_buurt", "sd_gemeente"} <= set(table["parameter"])
        assert len(pd.read_csv(evidence / "priors.csv")) == len(weak_fit.results.weights)
    finally:
        audit.discard()
