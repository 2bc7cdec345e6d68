"""Weighted least squares on the 1..5 judgement, with buurt-clustered standard errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm

from lbm_model.estimators.base import LbmEstimator, cluster_codes, weighted_rmse
from lbm_model.estimators.results import Capabilities, FitResults, FitStats, LinearExtras, WaldUncertainty

CORRECTIONS = {
    "cluster": "G/(G-1) * (N-1)/(N-K), as Stata's vce(cluster) (statsmodels' default)",
    "robust": "HC1: N/(N-K)",
    "nonrobust": "none (classical OLS covariance)",
}


class LeastSquares(LbmEstimator):
    """Survey-weighted least squares of the response on indicators and controls.

    Weights are already in judgement points (the response scale), so the scale rule is
    the identity. Standard errors come from statsmodels' sandwich estimators; with
    ``cov_type='cluster'`` they carry the small-sample correction G/(G-1) * (N-1)/(N-K),
    as Stata's ``vce(cluster)`` (the ordinal family applies G/(G-1) only: see
    docs/frozen-model.md).
    """

    family = "least_squares"
    refit_params = {"cov_type": "nonrobust"}

    def __init__(self, cov_type: str = "cluster") -> None:
        self.cov_type = cov_type

    def fit(self, X: pd.DataFrame, y: np.ndarray, *, controls: pd.DataFrame | None = None,
            sample_weight: np.ndarray | None = None, groups: np.ndarray | None = None) -> "LeastSquares":
        Xa, y, controls, weight, groups = self._check_fit_input(X, y, controls, sample_weight, groups)
        names = ["const", *self.feature_names_in_, *controls.columns]
        exog = np.column_stack([np.ones(len(y)), Xa, controls.to_numpy(float)])
        if self.cov_type == "cluster":
            result = sm.WLS(y, exog, weights=weight).fit(cov_type="cluster", cov_kwds={"groups": cluster_codes(groups)[0]})
        else:
            result = sm.WLS(y, exog, weights=weight).fit(cov_type="HC1" if self.cov_type == "robust" else "nonrobust")
        params = pd.Series(result.params, index=names)
        bse = pd.Series(result.bse, index=names)
        k = self.n_features_in_
        stats = FitStats(converged=True, n_obs=len(y), n_clusters=cluster_codes(groups)[1] if groups is not None else None,
                         n_params=len(names), rmse=weighted_rmse(y, result.fittedvalues, weight),
                         extra={"r2": result.rsquared, "r2_adj": result.rsquared_adj,
                                "residual_sd": float(np.sqrt(result.scale))})
        self.results_ = FitResults(
            family=self.family, params=self.model_params(), weights=params.iloc[1:1 + k],
            judgement_scale=1.0, scale_rule="identity: least-squares weights are in judgement points",
            uncertainty=WaldUncertainty(bse.iloc[1:1 + k], np.asarray(result.cov_params())[1:1 + k, 1:1 + k],
                                        self.cov_type, CORRECTIONS[self.cov_type]),
            fit_stats=stats, control_coefs=params.iloc[1 + k:],
            extras=LinearExtras(intercept=float(params.iloc[0]), intercept_se=float(bse.iloc[0])),
            capabilities=Capabilities(standard_errors=True, probabilities=False, refit=True, warm_start=False))
        return self

    def predict_expected(self, X: pd.DataFrame, controls: pd.DataFrame | None = None) -> np.ndarray:
        """Fitted judgement (1..5 scale) for every row."""
        return self.results.extras.intercept + self.linear_index(X, controls)
