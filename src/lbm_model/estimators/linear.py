"""Weighted least squares on the 1..5 judgement, with buurt-clustered standard errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm

from lbm_model.estimators.base import LbmEstimator, cluster_codes


class LeastSquares(LbmEstimator):
    """Survey-weighted least squares of the response on indicators and controls.

    Weights are already in judgement points (the response scale), so the scale rule is
    the identity. Standard errors come from statsmodels' sandwich estimators; with
    ``cov_type='cluster'`` they carry the usual small-sample correction
    G/(G-1) * (N-1)/(N-K), as Stata's ``vce(cluster)``.
    """

    family = "least_squares"

    def __init__(self, cov_type: str = "cluster") -> None:
        self.cov_type = cov_type

    def fit(self, X: pd.DataFrame, y: np.ndarray, *, controls: pd.DataFrame | None = None,
            sample_weight: np.ndarray | None = None, groups: np.ndarray | None = None) -> "LeastSquares":
        Xa, y, controls, weight, groups = self._check_fit_input(X, y, controls, sample_weight, groups)
        names = ["const", *self.feature_names_in_, *controls.columns]
        exog = np.column_stack([np.ones(len(y)), Xa, controls.to_numpy(float)])
        if self.cov_type == "cluster":
            codes, _ = cluster_codes(groups)
            result = sm.WLS(y, exog, weights=weight).fit(cov_type="cluster", cov_kwds={"groups": codes})
        else:
            result = sm.WLS(y, exog, weights=weight).fit(cov_type="HC1" if self.cov_type == "robust" else "nonrobust")
        params = pd.Series(result.params, index=names)
        bse = pd.Series(result.bse, index=names)
        k = self.n_features_in_
        self.intercept_ = float(params.iloc[0])
        self.intercept_se_ = float(bse.iloc[0])
        self.weights_ = params.iloc[1:1 + k]
        self.standard_errors_ = bse.iloc[1:1 + k]
        self.control_coefs_ = params.iloc[1 + k:]
        self.judgement_scale_ = 1.0
        self.scale_rule_ = "identity: least-squares weights are in judgement points"
        self.fit_stats_ = {
            "n_obs": float(len(y)),
            "n_clusters": float(cluster_codes(groups)[1]) if groups is not None else float("nan"),
            "r2": float(result.rsquared),
            "r2_adj": float(result.rsquared_adj),
            "residual_sd": float(np.sqrt(result.scale)),
        }
        self.residuals_ = np.asarray(result.resid)
        return self

    def predict_expected(self, X: pd.DataFrame, controls: pd.DataFrame | None = None) -> np.ndarray:
        """Fitted judgement (1..5 scale) for every row."""
        return self.intercept_ + self.linear_index(X, controls)
