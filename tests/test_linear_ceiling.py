"""Why the linear families stop near 0.92 on the synthetic world: the ceiling of any linear model.

The world's judgement is ordinal: latent eta = X w + composition + controls + buurt effect + logistic noise,
cut at four cut-points (src/lbm_model/world/survey.py). A linear model of the 1..5 response can at best find
the population linear projection of E[Y | x] on the indicators; because E[Y | eta] is an S-curve with a floor
and a ceiling, that projection is not proportional to w. Here E[Y | x] is computed from truth.json (the buurt
effect integrated out by Monte Carlo) and projected by the same survey-weighted least squares: its weights are
the target a linear family can reach, and their correlation with the true latent weights is the ceiling
(the multilevel family is held to the same bound in tests/test_multilevel.py, on the fit it already makes).
Measured on seed 0 (docs/estimators.md): ceiling 0.912; least squares 0.911 with truth and 0.993 with the
projection; multilevel 0.920 and 0.988.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from lbm_model.estimators import LeastSquares
from lbm_model.recalibrate import fit_model, select_indicators

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def truth(small_world) -> dict:
    return json.loads((small_world / "truth.json").read_text())


def composition(inputs) -> list[str]:
    return [i.name for i in inputs.catalog.stigmatising_indicators]


@pytest.fixture(scope="module")
def fitted_ols(small_inputs):
    return fit_model(small_inputs, LeastSquares(), select_indicators(small_inputs), adjust=composition(small_inputs))


def true_expected_judgement(data, truth: dict, draws: int = 50, seed: int = 0) -> np.ndarray:
    """E[Y | indicators, composition, controls] under the world's true model, the buurt effect integrated out."""
    weights = pd.Series(truth["weights"]).reindex(data.indicators.columns)
    eta = data.indicators.to_numpy(float) @ weights.to_numpy()
    for name, effect in truth["composition_effects"].items():
        eta += data.controls[name].to_numpy(float) * effect
    for variable, levels in truth["control_effects"].items():
        for level, effect in levels.items():
            column = f"{variable}[{level}]"
            if column in data.controls.columns:
                eta += data.controls[column].to_numpy(float) * effect
    cuts, rng = np.asarray(truth["cutpoints"]), np.random.default_rng(seed)
    expected = np.zeros(len(eta))
    for _ in range(draws):
        shifted = eta + rng.normal(0.0, truth["buurt_effect_sd"], len(eta))
        cdf = np.column_stack([np.zeros(len(eta)), expit(cuts[None, :] - shifted[:, None]), np.ones(len(eta))])
        expected += np.diff(cdf, axis=1) @ np.arange(1, len(cuts) + 2) / draws
    return expected


def linear_projection(data, truth: dict) -> pd.Series:
    """Survey-weighted least-squares projection of the true E[Y | x] on [1, indicators, controls] (indicator part)."""
    design = np.column_stack([np.ones(len(data.response)), data.indicators.to_numpy(float), data.controls.to_numpy(float)])
    root = np.sqrt(data.weight)
    beta = np.linalg.lstsq(design * root[:, None], true_expected_judgement(data, truth) * root, rcond=None)[0]
    return pd.Series(beta[1:1 + data.indicators.shape[1]], index=data.indicators.columns)


@pytest.fixture(scope="module")
def projection(fitted_ols, truth) -> pd.Series:
    return linear_projection(fitted_ols.data, truth)


def correlation(a: pd.Series, b: pd.Series) -> float:
    return float(np.corrcoef(a, b.reindex(a.index))[0, 1])


def test_no_linear_model_reaches_095_on_an_ordinal_world(projection, truth):
    ceiling = correlation(projection, pd.Series(truth["weights"]))
    assert 0.88 <= ceiling <= 0.94, ceiling         # 0.912 on seed 0: below the 0.95 for any linear family


def test_least_squares_finds_the_linear_projection(fitted_ols, projection, truth):
    ceiling = correlation(projection, pd.Series(truth["weights"]))
    assert correlation(fitted_ols.results.weights, projection) >= 0.98
    # at the ceiling: within 0.02 of what the exact linear projection reaches (multilevel: tests/test_multilevel.py)
    assert correlation(fitted_ols.results.weights, pd.Series(truth["weights"])) >= ceiling - 0.02
    print(f"least squares: truth {correlation(fitted_ols.results.weights, pd.Series(truth['weights'])):.3f}, "
          f"projection {correlation(fitted_ols.results.weights, projection):.3f}, ceiling {ceiling:.3f}")
