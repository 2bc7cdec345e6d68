"""Recovery of the synthetic world's known true weights (truth.json)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lbm_model.estimators import LeastSquares, OrdinalLogit
from lbm_model.recalibrate import fit_model, select_indicators


@pytest.fixture(scope="module")
def truth(small_world) -> dict:
    return json.loads((small_world / "truth.json").read_text())


@pytest.fixture(scope="module")
def fully_specified(small_inputs):
    """The ordinal logit with the composition columns as adjustment controls: the world's true specification."""
    composition = [i.name for i in small_inputs.catalog.stigmatising_indicators]
    return fit_model(small_inputs, OrdinalLogit(), select_indicators(small_inputs), adjust=composition)


def test_ordinal_logit_recovers_true_weights(fully_specified, truth):
    results = fully_specified.results
    true = pd.Series(truth["weights"]).reindex(results.weights.index)
    assert not true.isna().any()
    correlation = np.corrcoef(results.weights, true)[0, 1]
    interval = results.conf_int(0.95)
    coverage = ((interval["lower"] <= true) & (true <= interval["upper"])).mean()
    assert correlation >= 0.98, correlation
    assert coverage >= 0.85, coverage


def test_clustered_intervals_are_wider_than_naive_ones(small_inputs, fully_specified):
    composition = [i.name for i in small_inputs.catalog.stigmatising_indicators]
    naive = fit_model(small_inputs, OrdinalLogit(cov_type="nonrobust"), select_indicators(small_inputs), adjust=composition)
    np.testing.assert_allclose(naive.results.weights, fully_specified.results.weights, atol=1e-10)
    ratio = (fully_specified.results.standard_errors / naive.results.standard_errors).median()
    assert ratio > 1.0, ratio  # the world plants a buurt effect, so clustering must widen the intervals


def test_least_squares_weights_are_proportional_to_true_weights(small_inputs, truth):
    composition = [i.name for i in small_inputs.catalog.stigmatising_indicators]
    fitted = fit_model(small_inputs, LeastSquares(), select_indicators(small_inputs), adjust=composition)
    true = pd.Series(truth["weights"]).reindex(fitted.results.weights.index)
    # Least squares on the 1..5 response is misspecified for a latent ordinal world (floor and ceiling
    # compress the effects non-linearly), so proportionality is approximate: 0.93 measured on seed 0.
    assert np.corrcoef(fitted.results.weights, true)[0, 1] >= 0.90


def test_judgement_scale_puts_both_estimators_on_one_scale(small_inputs, fitted_ordinal):
    ols = fit_model(small_inputs, LeastSquares(), select_indicators(small_inputs))
    ratio = (fitted_ordinal.results.judgement_weights @ ols.results.weights) / (ols.results.weights @ ols.results.weights)
    assert 0.8 < ratio < 1.25, ratio  # same place effects in judgement points, whichever estimator


def test_omitting_composition_moves_the_planted_proxies_most(fitted_ordinal, fully_specified, truth):
    shift = (fitted_ordinal.results.weights - fully_specified.results.weights).abs()
    proxies = set(truth["planted_proxies"])
    top = set(shift.sort_values(ascending=False).index[: len(proxies)])
    assert len(top & proxies) >= len(proxies) // 2, (top, proxies)
