"""The estimator contract shared by every family (scikit-learn style).

``__init__`` stores hyper-parameters only. ``fit(X, y, controls=, sample_weight=, groups=)``
validates, estimates and returns ``self``. Fitted attributes (trailing underscore):

- ``weights_``: place weight per indicator on the estimator's native scale (pd.Series)
- ``standard_errors_``: their standard errors (clustered by ``groups`` by default)
- ``control_coefs_``: coefficients of the controls (estimation only, never scored)
- ``judgement_scale_`` and ``scale_rule_``: the recorded rule mapping native weights to
  judgement points on the 1..5 scale, the scale every frozen model scores on
- ``fit_stats_``: dict of fit statistics; ``feature_names_in_``, ``n_features_in_``
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

COV_TYPES = ("cluster", "robust", "nonrobust")


class NotFittedError(RuntimeError):
    """Raised when a fitted attribute is used before ``fit``."""


class LbmEstimator:
    """Base class: input checks and the attributes derived from the fitted ones."""

    family: str = "abstract"

    def _check_fit_input(self, X: pd.DataFrame, y: np.ndarray, controls: pd.DataFrame | None,
                         sample_weight: np.ndarray | None, groups: np.ndarray | None) -> tuple:
        if not isinstance(X, pd.DataFrame):
            raise TypeError("X must be a DataFrame with one column per indicator")
        y = np.asarray(y, dtype=float)
        n = len(X)
        controls = controls if controls is not None else pd.DataFrame(index=range(n))
        weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if len(y) != n or len(controls) != n or len(weight) != n or (groups is not None and len(groups) != n):
            raise ValueError("X, y, controls, sample_weight and groups must have the same number of rows")
        if not np.isfinite(X.to_numpy(float)).all() or not np.isfinite(y).all() or not np.isfinite(weight).all():
            raise ValueError("estimation data contains NaN or infinite values")
        if (weight <= 0).any():
            raise ValueError("sample weights must be positive")
        if getattr(self, "cov_type", "cluster") == "cluster" and groups is None:
            raise ValueError("cov_type='cluster' needs groups (the buurt of each respondent)")
        if getattr(self, "cov_type", "cluster") not in COV_TYPES:
            raise ValueError(f"cov_type must be one of {COV_TYPES}")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return X.to_numpy(float), y, controls.reset_index(drop=True), weight, groups

    def _require_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")

    @property
    def judgement_weights_(self) -> pd.Series:
        """Weights in judgement points per standard deviation of the indicator."""
        self._require_fitted()
        return self.weights_ * self.judgement_scale_

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald intervals for the place weights on the native scale."""
        self._require_fitted()
        z = stats.norm.ppf(1 - alpha / 2)
        return pd.DataFrame({"lower": self.weights_ - z * self.standard_errors_,
                             "upper": self.weights_ + z * self.standard_errors_})

    def place_index(self, X: pd.DataFrame) -> np.ndarray:
        """The place part of the linear predictor on the native scale (no controls)."""
        self._require_fitted()
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks fitted indicator column(s): {', '.join(missing)}")
        return X[list(self.feature_names_in_)].to_numpy(float) @ self.weights_.to_numpy()


    def linear_index(self, X: pd.DataFrame, controls: pd.DataFrame | None = None) -> np.ndarray:
        """Place index plus controls on the native scale (no intercept or cut-points).

        Controls the model was fitted with but ``controls`` lacks count as zero.
        """
        eta = self.place_index(X)
        if len(self.control_coefs_):
            frame = controls if controls is not None else pd.DataFrame(index=range(len(X)))
            eta = eta + frame.reindex(columns=self.control_coefs_.index, fill_value=0.0).to_numpy(float) @ \
                self.control_coefs_.to_numpy(float)
        return eta


def cluster_codes(groups: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer code per row and the number of clusters."""
    _, codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    return codes, int(codes.max()) + 1
