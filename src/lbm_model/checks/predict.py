"""Predictions from a fitted estimator's public state, for residuals, cross-validation and bootstrap.

Works from the fitted attributes of the estimator contract (``weights_``,
``control_coefs_`` and ``intercept_`` or ``cutpoints_`` and ``levels_``), so the checks
need no estimator-specific code paths beyond the two model families. Residuals here are
always *observed minus expected* judgement (points on the 1..5 scale).
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd


def clone_estimator(estimator, **overrides):
    """A new, unfitted estimator of the same class with the same hyper-parameters."""
    params = [p for p in inspect.signature(type(estimator).__init__).parameters if p != "self"]
    values = {p: getattr(estimator, p) for p in params if hasattr(estimator, p)}
    values.update({k: v for k, v in overrides.items() if k in params})
    return type(estimator)(**values)


def is_ordinal(estimator) -> bool:
    return hasattr(estimator, "cutpoints_")


def category_probabilities(estimator, X: pd.DataFrame, controls: pd.DataFrame) -> np.ndarray:
    """P(Y = level) for every row and level of an ordinal model (rows x levels), floored for log-loss."""
    return np.clip(estimator.predict_proba(X, controls), 1e-15, 1.0)


def expected_response(estimator, X: pd.DataFrame, controls: pd.DataFrame) -> np.ndarray:
    """Expected judgement E[Y] (1..5 scale) for every row."""
    return estimator.predict_expected(X, controls)


def respondent_residuals(estimator, data) -> np.ndarray:
    """Observed minus expected judgement for every respondent of EstimationData ``data``."""
    return np.asarray(data.response, float) - expected_response(estimator, data.indicators, data.controls)


def warm_start(estimator, template, control_columns) -> bool:
    """Start an unfitted ordinal estimator at ``template``'s estimates (replicates converge in fewer steps).

    Returns False (cold start) for estimators without ``start_params``.
    """
    if not (is_ordinal(template) and hasattr(estimator, "start_params")):
        return False
    coefs = template.control_coefs_.reindex(list(control_columns), fill_value=0.0).to_numpy(float)
    estimator.start_params = np.concatenate([template.weights_.to_numpy(float), coefs,
                                             np.asarray(template.cutpoints_, float)])
    return True
