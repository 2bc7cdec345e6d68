"""The multilevel family (statsmodels MixedLM, random intercepts for gemeente and buurt).

Variance components are checked against a planted linear multilevel truth (the synthetic world's
buurt effect lives on the latent ordinal scale, so a linear model's components cannot be compared
with it directly); weights and the pipeline against the small world.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from lbm_model.estimators import LeastSquares, Multilevel

PLANTED = {"gemeente": 0.30**2, "buurt": 0.25**2, "residual": 0.80**2}


def planted_multilevel(seed: int = 7, n_gemeenten: int = 300, buurten_per_gemeente: int = 5, per_buurt: int = 10):
    """A linear random-intercept world: y = 3 + X beta + u_gemeente + v_buurt + e."""
    rng = np.random.default_rng(seed)
    n_buurten = n_gemeenten * buurten_per_gemeente
    buurt = np.repeat(np.arange(n_buurten), per_buurt)
    gemeente = buurt // buurten_per_gemeente
    beta = np.array([0.4, -0.3, 0.2, 0.1, -0.15])
    X = pd.DataFrame(rng.standard_normal((buurt.size, beta.size)), columns=[f"x{i}" for i in range(beta.size)])
    y = (3.0 + X.to_numpy() @ beta + np.sqrt(PLANTED["gemeente"]) * rng.standard_normal(n_gemeenten)[gemeente]
         + np.sqrt(PLANTED["buurt"]) * rng.standard_normal(n_buurten)[buurt]
         + np.sqrt(PLANTED["residual"]) * rng.standard_normal(buurt.size))
    areas = pd.DataFrame({"buurt_code": [f"BU{b:06d}" for b in buurt], "gemeente_code": [f"GM{g:04d}" for g in gemeente]})
    return X, y, areas, beta


@pytest.fixture(scope="module")
def planted_fit():
    X, y, areas, beta = planted_multilevel()
    return Multilevel().fit(X, y, groups=areas["buurt_code"].to_numpy(), areas=areas), beta


@pytest.mark.slow  # one MixedLM fit on 15,000 planted respondents (about 10-30 s)
def test_variance_components_recover_the_planted_ones_within_20_percent(planted_fit):
    fitted, _ = planted_fit
    components = fitted.results.extras.variance_components
    for name, planted in PLANTED.items():
        assert abs(components[name] / planted - 1) < 0.2, (name, components[name], planted)
    assert fitted.results.fit_stats.converged


@pytest.mark.slow  # one MixedLM fit on 15,000 planted respondents (about 10-30 s)
def test_fixed_effects_are_the_weights_and_predictions_leave_area_effects_out(planted_fit):
    fitted, beta = planted_fit
    np.testing.assert_allclose(fitted.results.weights.to_numpy(), beta, atol=0.03)
    X, _, _, _ = planted_multilevel()
    expected = fitted.predict_expected(X)
    np.testing.assert_allclose(expected, fitted.results.extras.intercept + X.to_numpy() @ fitted.results.weights.to_numpy())
    effects = fitted.results.extras.area_effects
    assert len(effects["gemeente"]) == 300 and len(effects["buurt"]) == 1500
    assert (effects["buurt"]["respondents"] == 10).all()
    # the predicted buurt effects carry the planted spread (shrunk towards 0, never all zero)
    assert 0.6 * 0.25 < effects["buurt"]["effect"].std() < 0.25


@pytest.mark.slow  # one MixedLM fit on 15,000 planted respondents (about 10-30 s)
def test_diagnostics_leave_out_areas_below_the_disclosure_minimum(planted_fit):
    fitted, _ = planted_fit
    found = fitted.results.extras.diagnostics(min_respondents=11)
    assert len(found.tables["buurt_effects.csv"]) == 0 and len(found.tables["gemeente_effects.csv"]) == 300
    assert found.details["areas_below_min_respondents"] == {"gemeente": 0, "buurt": 1500}
    shown = fitted.results.extras.diagnostics(min_respondents=10)
    assert len(shown.tables["buurt_effects.csv"]) == 1500
    assert set(shown.tables["variance_components.csv"]["component"]) == set(PLANTED)


def test_it_refuses_data_without_areas_and_warns_that_survey_weights_are_not_used():
    X, y, areas, _ = planted_multilevel(n_gemeenten=20)
    with pytest.raises(ValueError, match="needs areas with buurt_code and gemeente_code"):
        Multilevel().fit(X, y)
    weights = np.linspace(0.5, 1.5, len(y))
    with pytest.warns(UserWarning, match="MixedLM has no case weights; the survey weights were not used"):
        fitted = Multilevel().fit(X, y, sample_weight=weights, areas=areas)
    assert fitted.results.fit_stats.extra["survey_weights_used"] == 0.0
    assert json.dumps(fitted.results.frozen_record())           # JSON-ready, variance components included
    assert set(fitted.results.frozen_record()["extras"]["variance_components"]) == set(PLANTED)


@pytest.mark.slow
def test_on_the_small_world_weights_match_least_squares_and_track_the_truth(small_inputs):
    from lbm_model.recalibrate import fit_model, select_indicators

    truth = json.loads((__import__("pathlib").Path(small_inputs.paths["catalog"]).parent / "truth.json").read_text())
    composition = [i.name for i in small_inputs.catalog.stigmatising_indicators]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fitted = fit_model(small_inputs, Multilevel(), select_indicators(small_inputs), adjust=composition)
    multilevel = fitted.results
    ols = fit_model(small_inputs, LeastSquares(), select_indicators(small_inputs), adjust=composition).results
    true = pd.Series(truth["weights"]).reindex(multilevel.weights.index)
    # a linear model of the 1..5 judgement of a latent-ordinal world is misspecified (floor and ceiling): 0.92
    # measured on seed 0, as least squares (tests/test_recovery.py); the 0.95 target is met by the ordinal families
    assert np.corrcoef(multilevel.weights, true)[0, 1] >= 0.90
    assert np.corrcoef(multilevel.weights, ols.weights)[0, 1] >= 0.99
    # ... and that is the ceiling of any linear model here: the exact linear projection of the true E[Y | x]
    # (tests/test_linear_ceiling.py) reaches no more, and multilevel finds it
    from test_linear_ceiling import linear_projection

    projection = linear_projection(fitted.data, truth)
    ceiling = np.corrcoef(projection, true)[0, 1]
    assert np.corrcoef(multilevel.weights, projection.reindex(multilevel.weights.index))[0, 1] >= 0.98
    assert np.corrcoef(multilevel.weights, true)[0, 1] >= ceiling - 0.02
    print(f"multilevel: truth {np.corrcoef(multilevel.weights, true)[0, 1]:.3f}, projection "
          f"{np.corrcoef(multilevel.weights, projection.reindex(multilevel.weights.index))[0, 1]:.3f}, ceiling {ceiling:.3f}")
    components = multilevel.extras.variance_components
    assert components["buurt"] > 0.005 and multilevel.fit_stats.converged   # the planted buurt effect is found, not 0
