"""Estimators against golden reference numbers from R, kept as data in tests/reference/.

tests/reference/r_reference.json is written by ``Rscript tests/reference/generate_r_reference.R``
(R 4.2.2, MASS 7.3-58.2, ordinal 2022.11.16, sandwich 3.0.2, jsonlite 1.8.4; the JSON records
the versions and the exact call of every case), so CI needs no R. Numbers are stored to 15
significant digits and compared far below the 1e-3 of a printed table: each tolerance is a
little looser than the difference measured when the reference was made (noted at each test).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from lbm_model.estimators import LeastSquares, OrdinalLogit

REFERENCE = Path(__file__).parent / "reference"
R = json.loads((REFERENCE / "r_reference.json").read_text())

# Fitted quantities by their post-refactor path on ``model.results_`` and their pre-refactor
# attribute, so the tests run on both sides of the estimator refactor.
_NEW = {
    "weights": lambda r: r.weights,
    "standard_errors": lambda r: r.standard_errors,
    "cutpoints": lambda r: r.extras.cutpoints,
    "cutpoint_se": lambda r: r.extras.cutpoint_se,
    "intercept": lambda r: r.extras.intercept,
    "intercept_se": lambda r: r.extras.intercept_se,
    "loglike": lambda r: r.fit_stats.extra["loglike"],
}
_OLD = {
    "weights": lambda m: m.weights_,
    "standard_errors": lambda m: m.standard_errors_,
    "cutpoints": lambda m: m.cutpoints_,
    "cutpoint_se": lambda m: m.cutpoint_se_,
    "intercept": lambda m: m.intercept_,
    "intercept_se": lambda m: m.intercept_se_,
    "loglike": lambda m: m.fit_stats_["loglike"],
}


def fitted(model, name: str):
    """A fitted quantity: from ``model.results_`` when the model has it, else the old attribute."""
    if hasattr(model, "results_"):
        return _NEW[name](model.results_)
    return _OLD[name](model)


def values(mapping: dict) -> np.ndarray:
    return np.array(list(mapping.values()), dtype=float)


def ucla() -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """UCLA application data (copied from statsmodels' tests) with the deterministic weight and cluster."""
    df = pd.read_csv(REFERENCE / "ologit_ucla.csv")
    levels = R["ucla_unweighted"]["response_levels"]  # unlikely < somewhat likely < very likely
    y = df["apply"].map({level: i + 1 for i, level in enumerate(levels)}).to_numpy()
    return df[["pared", "public", "gpa"]], y, df


def petersen() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "petersen_test_data.csv")


# --- the reference data themselves --------------------------------------------------------

def test_reference_data_follow_the_recorded_formulas():
    _, y, df = ucla()
    row = np.arange(len(df))
    assert len(df) == 400 and set(y) == {1, 2, 3}
    assert (df["row"].to_numpy() == row).all()
    assert_allclose(df["weight"], 0.5 + (row % 7) / 4, rtol=0, atol=0)  # weight = 0.5 + (row %% 7) / 4
    assert (df["cluster"].to_numpy() == row % 40).all()                   # cluster = row %% 40
    pet = petersen()
    assert pet.shape == (5000, 4) and pet["firm"].nunique() == R["petersen"]["n_clusters"] == 500


def test_reference_clm_is_the_converged_optimum():
    # clm stops at a gradient of ~1e-13; MASS::polr with optim's default reltol stops early
    # (~6e-4 off in the cut-points) and agrees with clm to ~1e-8 once reltol = 1e-15.
    for case in ("ucla_unweighted", "ucla_weighted_cluster"):
        assert R[case]["clm"]["max_abs_gradient"] < 1e-10
        assert R[case]["polr_tight_minus_clm_max_abs"]["coefficients"] < 1e-7
        assert R[case]["polr_tight_minus_clm_max_abs"]["cutpoints"] < 1e-7
    assert R["ucla_unweighted"]["polr_minus_clm_max_abs"]["cutpoints"] > 1e-4


# --- a. UCLA, unweighted, model-based standard errors --------------------------------------

def test_ordinal_logit_matches_r_clm_unweighted():
    # Source: R 4.2.2, ordinal 2022.11.16: ordinal::clm(apply ~ pared + public + gpa, data = ucla,
    # link = "logit", control = clm.control(gradTol = 1e-12, relTol = 1e-14, maxIter = 1000,
    # maxLineIter = 200)); SEs from sqrt(diag(vcov(fit))) (analytic Hessian).
    # Measured when made: coefficients 4e-15, cut-points 1.2e-14, SEs 5.5e-14, loglik 2.3e-13.
    ref = R["ucla_unweighted"]["clm"]
    X, y, _ = ucla()
    model = OrdinalLogit(cov_type="nonrobust", max_iter=200, tol=1e-10).fit(X, y)
    assert list(fitted(model, "weights").index) == list(ref["coefficients"])
    assert_allclose(fitted(model, "weights").to_numpy(), values(ref["coefficients"]), rtol=0, atol=1e-10)
    assert_allclose(fitted(model, "cutpoints"), values(ref["cutpoints"]), rtol=0, atol=1e-10)
    assert_allclose(fitted(model, "standard_errors").to_numpy(), values(ref["se"]), rtol=0, atol=1e-11)
    assert_allclose(fitted(model, "cutpoint_se"), values(ref["cutpoint_se"]), rtol=0, atol=1e-11)
    assert fitted(model, "loglike") == pytest.approx(ref["loglik"], rel=0, abs=1e-10)


# --- b. UCLA, case weights, clustered standard errors --------------------------------------

def test_ordinal_logit_matches_r_clm_with_case_weights_model_based_se():
    # Source: R 4.2.2, ordinal 2022.11.16: ordinal::clm(apply ~ pared + public + gpa, data = ucla,
    # weights = weight, link = "logit", control = clm.control(gradTol = 1e-12, ...)); vcov(fit).
    # Measured when made: coefficients 2e-13, cut-points 1e-12, SEs 4.5e-14, loglik 0.
    ref = R["ucla_weighted_cluster"]["clm"]
    X, y, df = ucla()
    model = OrdinalLogit(cov_type="nonrobust", max_iter=200, tol=1e-10).fit(
        X, y, sample_weight=df["weight"].to_numpy())
    assert_allclose(fitted(model, "weights").to_numpy(), values(ref["coefficients"]), rtol=0, atol=1e-10)
    assert_allclose(fitted(model, "cutpoints"), values(ref["cutpoints"]), rtol=0, atol=1e-10)
    assert_allclose(fitted(model, "standard_errors").to_numpy(), values(ref["se"]), rtol=0, atol=1e-11)
    assert_allclose(fitted(model, "cutpoint_se"), values(ref["cutpoint_se"]), rtol=0, atol=1e-11)
    assert fitted(model, "loglike") == pytest.approx(ref["loglik"], rel=0, abs=1e-10)


def test_ordinal_logit_matches_r_clm_with_case_weights_clustered_se():
    # Source: R 4.2.2, ordinal 2022.11.16 + sandwich 3.0.2: the clm fit above, then
    # sandwich::vcovCL(fit, cluster = ~cluster, type = "HC0", cadjust = TRUE), i.e.
    # bread %*% (G/(G-1) * sum_g s_g s_g') %*% bread, cross-checked in the R script against
    # analytic scores written out by hand (max |difference| 1.1e-14). Cluster = row %% 40.
    # Measured when made: coefficients 2e-13, cut-points 1e-12, SEs 3.8e-14, cut-point SEs 1.4e-13.
    ref = R["ucla_weighted_cluster"]["clm"]
    X, y, df = ucla()
    model = OrdinalLogit(cov_type="cluster", max_iter=200, tol=1e-10).fit(
        X, y, sample_weight=df["weight"].to_numpy(), groups=df["cluster"].to_numpy())
    assert_allclose(fitted(model, "weights").to_numpy(), values(ref["coefficients"]), rtol=0, atol=1e-10)
    assert_allclose(fitted(model, "cutpoints"), values(ref["cutpoints"]), rtol=0, atol=1e-10)
    assert_allclose(fitted(model, "standard_errors").to_numpy(), values(ref["cluster_se"]), rtol=0, atol=1e-11)
    assert_allclose(fitted(model, "cutpoint_se"), values(ref["cluster_cutpoint_se"]), rtol=0, atol=1e-11)


# --- c. Petersen, least squares clustered by firm ------------------------------------------

def _petersen_fit():
    pet = petersen()
    model = LeastSquares(cov_type="cluster").fit(pet[["x"]], pet["y"].to_numpy(), groups=pet["firm"].to_numpy())
    coef = np.array([fitted(model, "intercept"), fitted(model, "weights")["x"]])
    se = np.array([fitted(model, "intercept_se"), fitted(model, "standard_errors")["x"]])
    return coef, se


def test_least_squares_clustered_se_match_r_sandwich_on_petersen_data():
    # Source: R 4.2.2, sandwich 3.0.2: lm(y ~ x, data = petersen);
    # sandwich::vcovCL(fit, cluster = ~firm, type = "HC1", cadjust = TRUE), which is Stata's
    # G/(G-1) * (N-1)/(N-K). Measured when made: relative differences 8e-15 (coefficients),
    # 1.2e-15 (SEs); the brief asked for 1e-8 relative, asserted tighter here.
    ref = R["petersen"]
    coef, se = _petersen_fit()
    assert list(ref["coefficients"]) == ["(Intercept)", "x"]
    assert_allclose(coef, values(ref["coefficients"]), rtol=1e-12, atol=0)
    assert_allclose(se, values(ref["cluster_se"]), rtol=1e-12, atol=0)


def test_least_squares_clustered_se_match_petersen_published_values():
    # Source: M. Petersen, "Programming advice: standard errors in finance panel data sets",
    # test_data.htm (kellogg.northwestern.edu/faculty/petersen/htm/papers/se/test_data.htm):
    # OLS slope 1.0348, SE clustered by firm 0.0670 (intercept) and 0.0506 (slope), printed to
    # 4 decimals, so compared at 5e-5. Measured: 3.3e-5 (slope), 1.3e-5 and 4.3e-6 (SEs).
    coef, se = _petersen_fit()
    assert coef[1] == pytest.approx(1.0348, abs=5e-5)
    assert_allclose(se, [0.0670, 0.0506], rtol=0, atol=5e-5)
