"""Estimators against published reference numbers and exact identities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels
from numpy.testing import assert_allclose

from lbm_model.estimators import LeastSquares, OrdinalLogit
from lbm_model.estimators.base import NotFittedError

SM_DIR = Path(statsmodels.__file__).parent


def ucla() -> tuple[pd.DataFrame, np.ndarray]:
    """UCLA graduate-school application data (400 students), shipped with statsmodels' tests."""
    df = pd.read_csv(SM_DIR / "miscmodels" / "tests" / "results" / "ologit_ucla.csv")
    y = df["apply"].map({"unlikely": 1, "somewhat likely": 2, "very likely": 3}).to_numpy()
    return df[["pared", "public", "gpa"]], y


def test_ordinal_logit_reproduces_r_mass_polr_on_ucla_data():
    # Source: R 3.4.4, MASS::polr(apply ~ pared + public + gpa, method="logit", Hess=TRUE) on the UCLA
    # ologit data (stats.idre.ucla.edu ordinal logistic regression page), as recorded in statsmodels'
    # miscmodels/tests/results/results_ordinal_model.py.
    X, y = ucla()
    model = OrdinalLogit(cov_type="nonrobust").fit(X, y)
    assert_allclose(model.weights_.to_numpy(), [1.04769011, -0.05878572, 0.61594057], atol=1e-3)
    assert_allclose(model.standard_errors_.to_numpy(), [0.2658, 0.2979, 0.2606], atol=1e-3)
    assert_allclose(model.cutpoints_, [2.203915, 4.299363], atol=1e-3)
    assert model.fit_stats_["converged"] == 1.0


def test_least_squares_clustered_errors_match_petersen_published_values():
    # Source: M. Petersen, "Estimating standard errors in finance panel data sets" test data
    # (kellogg.northwestern.edu/faculty/petersen, test_data.htm): OLS slope 1.0348, SE clustered
    # by firm 0.0506 (slope) and 0.0670 (intercept). The data ship with statsmodels' tests.
    pet = pd.read_csv(SM_DIR / "stats" / "tests" / "test_data.txt", sep=r"\s+", header=None).to_numpy()
    model = LeastSquares(cov_type="cluster").fit(pd.DataFrame({"x": pet[:, 2]}), pet[:, -1], groups=pet[:, 0].astype(int))
    assert_allclose(model.weights_["x"], 1.0348, atol=1e-3)
    assert_allclose(model.standard_errors_["x"], 0.0506, atol=1e-3)
    assert_allclose(model.intercept_se_, 0.0670, atol=1e-3)


def test_least_squares_matches_stata_cluster_on_grunfeld():
    # Source: Stata `regress invest mvalue kstock, vce(cluster company)` on the Grunfeld data,
    # as recorded in statsmodels' regression/tests/results/results_grunfeld_ols_robust_cluster.py.
    from statsmodels.datasets import grunfeld

    data = grunfeld.load_pandas().data
    data = data[data["firm"] != "American Steel"]  # Stata's copy of the data has the first 10 firms (N=200)
    model = LeastSquares().fit(data[["value", "capital"]], data["invest"].to_numpy(), groups=data["firm"].to_numpy())
    assert_allclose(model.weights_.to_numpy(), [0.11556215606596, 0.23067848754982], rtol=1e-6)
    assert_allclose(model.standard_errors_.to_numpy(), [0.01589433647768, 0.08496711097464], rtol=1e-6)


def test_survey_weights_equal_frequency_replication():
    # A whole-number weight w must give exactly the estimates of repeating the row w times.
    X, y = ucla()
    freq = np.random.default_rng(3).integers(1, 4, len(y))
    weighted = OrdinalLogit(cov_type="nonrobust").fit(X, y, sample_weight=freq.astype(float))
    repeated = OrdinalLogit(cov_type="nonrobust").fit(X.loc[X.index.repeat(freq)].reset_index(drop=True), np.repeat(y, freq))
    assert_allclose(weighted.weights_.to_numpy(), repeated.weights_.to_numpy(), atol=1e-8)
    assert_allclose(weighted.cutpoints_, repeated.cutpoints_, atol=1e-8)


def test_analytic_derivatives_match_finite_differences():
    X, y = ucla()
    model = OrdinalLogit(cov_type="nonrobust")
    design, category, weight = X.to_numpy(float), y - 1, np.random.default_rng(0).uniform(0.5, 2, len(y))
    theta = np.array([0.5, -0.2, 0.3, 1.5, 3.0])
    eps = 1e-6
    numeric = np.array([(model._loglike(theta + eps * e, design, category, weight)
                         - model._loglike(theta - eps * e, design, category, weight)) / (2 * eps) for e in np.eye(5)])
    assert_allclose(model._gradient(theta, design, category, weight), numeric, rtol=1e-6, atol=1e-6)
    numeric_h = np.array([(model._gradient(theta + eps * e, design, category, weight)
                           - model._gradient(theta - eps * e, design, category, weight)) / (2 * eps) for e in np.eye(5)])
    assert_allclose(model._hessian(theta, design, category, weight), numeric_h, rtol=1e-5, atol=1e-5)


def test_cluster_requires_groups_and_unfitted_model_refuses():
    X, y = ucla()
    with pytest.raises(ValueError, match="needs groups"):
        OrdinalLogit().fit(X, y)
    with pytest.raises(NotFittedError, match="not fitted"):
        _ = OrdinalLogit().judgement_weights_
