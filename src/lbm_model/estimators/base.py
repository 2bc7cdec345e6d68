"""The estimator contract shared by every family (scikit-learn's, for real).

A family subclasses :class:`LbmEstimator` (a ``sklearn.base.BaseEstimator``): ``__init__``
stores hyper-parameters only, so ``get_params``, ``set_params`` and ``sklearn.base.clone``
work; ``fit(X, y, controls=, sample_weight=, groups=)`` validates, estimates, sets
``results_`` (a :class:`~lbm_model.estimators.results.FitResults`) and returns ``self``;
``predict_expected`` gives the expected 1..5 judgement and refuses an unfitted model
(``sklearn.exceptions.NotFittedError``). Everything downstream reads ``results_``.

Class attributes a family sets: ``family`` (the stable name recorded in model.json),
``runtime_params`` (parameters that do not change the estimates, such as progress output
or start values: kept out of the hashed model content) and ``refit_params`` (overrides for
cheap refits in bootstrap and cross-validation, e.g. no sandwich covariance).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from lbm_model.estimators.results import FitResults

COV_TYPES = ("cluster", "robust", "nonrobust")

__all__ = ["COV_TYPES", "LbmEstimator", "NotFittedError", "cluster_codes", "weighted_rmse"]


class LbmEstimator(BaseEstimator):
    """Base class: input checks, predictions from ``results_``, clones for refits."""

    family: ClassVar[str] = "abstract"
    runtime_params: ClassVar[tuple[str, ...]] = ()
    # what predict_expected gives, its unit and what a row is (check summaries say so)
    response_name: ClassVar[str] = "expected judgement"
    response_unit: ClassVar[str] = "judgement points"
    row_name: ClassVar[str] = "respondents"
    refit_params: ClassVar[dict[str, object]] = {}

    # --- fitting ------------------------------------------------------------------------
    needs_areas = False   # a family whose fit takes ``areas=`` (buurt/wijk/gemeente and coordinates per row)

    def fit_data(self, data) -> "LbmEstimator":
        """Fit on an :class:`~lbm_model.features.EstimationData`; families with ``needs_areas`` also get
        ``data.areas`` (a family needing more overrides this)."""
        extra = {"areas": data.areas} if self.needs_areas else {}
        return self.fit(data.indicators, data.response, controls=data.controls, sample_weight=data.weight,
                        groups=data.cluster, **extra)

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
        cov_type = self.get_params().get("cov_type", "nonrobust")
        if cov_type not in COV_TYPES:
            raise ValueError(f"cov_type must be one of {COV_TYPES}")
        if cov_type == "cluster" and groups is None:
            raise ValueError("cov_type='cluster' needs groups (the buurt of each respondent)")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return X.to_numpy(float), y, controls.reset_index(drop=True), weight, groups

    def model_params(self) -> dict:
        """Hyper-parameters that determine the estimates (recorded in model.json, hashed)."""
        return {k: v for k, v in self.get_params(deep=False).items() if k not in self.runtime_params}

    # --- predictions from results_ -------------------------------------------------------
    @property
    def results(self) -> FitResults:
        """The fitted results (refuses an unfitted estimator with a clear error)."""
        check_is_fitted(self, "results_", msg=f"this {type(self).__name__} is not fitted yet; call fit first")
        return self.results_

    def place_index(self, X: pd.DataFrame) -> np.ndarray:
        """The place part of the linear predictor on the native scale (no controls)."""
        weights = self.results.weights
        missing = [c for c in weights.index if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks fitted indicator column(s): {', '.join(missing)}")
        return X[list(weights.index)].to_numpy(float) @ weights.to_numpy()

    def linear_index(self, X: pd.DataFrame, controls: pd.DataFrame | None = None) -> np.ndarray:
        """Place index plus controls on the native scale (no intercept or cut-points).

        Controls the model was fitted with but ``controls`` lacks count as zero.
        """
        eta = self.place_index(X)
        coefs = self.results.control_coefs
        if len(coefs):
            frame = controls if controls is not None else pd.DataFrame(index=range(len(X)))
            eta = eta + frame.reindex(columns=coefs.index, fill_value=0.0).to_numpy(float) @ coefs.to_numpy(float)
        return eta

    def predict_expected(self, X: pd.DataFrame, controls: pd.DataFrame | None = None) -> np.ndarray:
        """Expected judgement (1..5 scale) for every row."""
        raise NotImplementedError

    # --- refits ----------------------------------------------------------------------------
    def refit_clone(self, control_columns=None) -> "LbmEstimator":
        """An unfitted copy for cheap refits (``refit_params`` applied), warm-started from this
        fit where the family can (``control_columns``: the refit's control columns)."""
        est = clone(self).set_params(**self.refit_params)
        if control_columns is not None and hasattr(self, "results_") and self.results_.capabilities.warm_start:
            est.warm_start_from(self.results_, list(control_columns))
        return est

    def warm_start_from(self, results: FitResults, control_columns: list[str]) -> None:
        """Start the next fit at ``results`` (families with warm starts override this)."""


def cluster_codes(groups: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer code per row and the number of clusters."""
    _, codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    return codes, int(codes.max()) + 1


def weighted_rmse(observed: np.ndarray, expected: np.ndarray, weight: np.ndarray) -> float:
    """Survey-weighted root mean squared difference (judgement points)."""
    return float(np.sqrt(np.average((np.asarray(observed, float) - expected) ** 2, weights=weight)))
