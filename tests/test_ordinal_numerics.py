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
