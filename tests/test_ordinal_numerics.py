"""The ordinal logit's vectorised gradient and Hessian against per-respondent scores and finite differences."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose

from lbm_model.estimators import OrdinalLogit


def test_gradient_is_the_sum_of_respondent_scores_and_hessian_its_derivative():
    rng = np.random.default_rng(7)
    n, k = 2_000, 6
    design = rng.normal(size=(n, k))
    category = np.digitize(design @ rng.normal(0, 0.5, k) + rng.logistic(size=n), [-1.0, 0.0, 0.8, 2.0])
    weight = rng.uniform(0.5, 1.5, n)
    theta = np.concatenate([rng.normal(0, 0.3, k), [-1.1, 0.1, 0.7, 1.9]])
    model = OrdinalLogit()
    gradient = model._gradient(theta, design, category, weight)
    assert_allclose(gradient, model._score_obs(theta, design, category, weight).sum(axis=0), rtol=1e-12, atol=1e-9)
    eps = 1e-6
    numeric = np.array([(model._gradient(theta + eps * e, design, category, weight)
                         - model._gradient(theta - eps * e, design, category, weight)) / (2 * eps)
                        for e in np.eye(len(theta))])
    hessian = model._hessian(theta, design, category, weight)
    assert_allclose(hessian, hessian.T, atol=1e-9)
    assert_allclose(hessian, numeric, rtol=1e-5, atol=1e-4)
    assert np.all(np.linalg.eigvalsh(hessian) < 0)                # the log-likelihood is concave


def test_cluster_score_sums_are_the_sandwich_meat_statsmodels_computes():
    from statsmodels.stats.sandwich_covariance import S_crosssection

    rng = np.random.default_rng(9)
    n, k = 3_000, 5
    design = rng.normal(size=(n, k))
    category = np.digitize(design @ rng.normal(0, 0.5, k) + rng.logistic(size=n), [-1.0, 0.0, 0.8, 2.0])
    weight = rng.uniform(0.5, 1.5, n)
    codes = rng.integers(0, 170, n)
    theta = np.concatenate([rng.normal(0, 0.3, k), [-1.1, 0.1, 0.7, 1.9]])
    model = OrdinalLogit()
    model._scratch = {}
    sums = model._cluster_score_sums(theta, design, category, weight, codes, 170)
    scores = model._score_obs(theta, design, category, weight)
    assert_allclose(sums.T @ sums, S_crosssection(scores, codes), rtol=1e-11, atol=1e-10)
    assert_allclose(sums.sum(axis=0), model._gradient(theta, design, category, weight), rtol=1e-11, atol=1e-9)


def _judgements(rng: np.random.Generator, n: int = 20_000, k: int = 12):
    """Indicators (array and frame), 1..5 judgements from a proportional-odds logit, survey weights."""
    import pandas as pd

    X = rng.normal(size=(n, k))
    y = np.digitize(X @ rng.normal(0, 0.3, k) + rng.logistic(size=n), [-1.5, -0.3, 0.6, 1.8]) + 1
    weight = rng.uniform(0.5, 1.5, n)
    return X, pd.DataFrame(X, columns=[f"x{j}" for j in range(k)]), y, weight


def test_the_fit_stops_at_the_maximum_to_rounding():
    """One more full Newton step from the estimate moves no parameter by more than 1e-9."""
    rng = np.random.default_rng(10)
    X, frame, y, weight = _judgements(rng)
    model = OrdinalLogit().fit(frame, y, sample_weight=weight, groups=rng.integers(0, 900, len(y)))
    results = model.results_
    theta = np.concatenate([results.weights.to_numpy(), results.extras.cutpoints])
    category = y - 1
    step = np.linalg.solve(-model._hessian(theta, X, category, weight), model._gradient(theta, X, category, weight))
    assert results.fit_stats.converged and np.abs(step).max() < 1e-9
    assert 3 <= results.fit_stats.iterations <= 10


def test_an_unreachable_gradient_tolerance_stops_at_the_rounding_floor_not_after_max_iter():
    """With tol below what the summed log-likelihood resolves, the Armijo test only compares rounding noise:
    the fit must stop once the Newton decrement stops falling (issue 14: one nl cross-validation fold ran all
    200 iterations, 59 s instead of 0.9 s), at the same estimate as the default tolerance."""
    _, frame, y, weight = _judgements(np.random.default_rng(11))
    default = OrdinalLogit(cov_type="nonrobust").fit(frame, y, sample_weight=weight).results_
    strict = OrdinalLogit(cov_type="nonrobust", tol=1e-30).fit(frame, y, sample_weight=weight).results_
    assert strict.fit_stats.converged and strict.fit_stats.iterations <= 12
    assert_allclose(strict.weights.to_numpy(), default.weights.to_numpy(), rtol=0, atol=1e-9)
