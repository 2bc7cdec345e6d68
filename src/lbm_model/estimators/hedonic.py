"""The behaviour model (gedragsmodel): a hedonic regression of log transaction price.

Log price on the standardised indicators at the dwelling's cell, the dwelling controls of the
catalog's ``price_controls`` and year fixed effects (controls and years never enter scoring), by
least squares with buurt-clustered standard errors (statsmodels, as :class:`LeastSquares`). It is
fitted on the transactions table, not the survey: ``fits_on = "transactions"`` tells
``recalibrate.fit_model`` to build its design from ``inputs.transactions``.

Scale rule: native weights are log price per indicator sd. On the judgement scale the place index
(the weights times the standardised indicators, over the transactions it was fitted on) is given a
standard deviation of ``index_sd`` judgement points: ``judgement_scale = index_sd / sd(place index)``.
The rule and the factor are recorded in model.json (``scale_rule``, ``judgement_scale``).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import pandas as pd

from lbm_model.estimators.linear import LeastSquares


class Hedonic(LeastSquares):
    """Least squares of log price on indicators, dwelling controls and year dummies, clustered by buurt."""

    family = "hedonic"
    fits_on: ClassVar[str] = "transactions"
    response_name: ClassVar[str] = "fitted log price"
    response_unit: ClassVar[str] = "log price"
    row_name: ClassVar[str] = "transactions"

    def __init__(self, cov_type: str = "cluster", index_sd: float = 0.3) -> None:
        super().__init__(cov_type=cov_type)
        self.index_sd = index_sd

    def fit(self, X: pd.DataFrame, y: np.ndarray, *, controls: pd.DataFrame | None = None,
            sample_weight: np.ndarray | None = None, groups: np.ndarray | None = None) -> "Hedonic":
        """``y`` is log price; ``controls`` the dwelling controls and year dummies."""
        if not self.index_sd > 0:
            raise ValueError(f"index_sd must be > 0 (got {self.index_sd})")
        super().fit(X, y, controls=controls, sample_weight=sample_weight, groups=groups)
        fitted = self.results_
        index_sd = float(np.std(X[list(fitted.weights.index)].to_numpy(float) @ fitted.weights.to_numpy()))
        if not index_sd > 0:
            raise ValueError("the hedonic place index does not vary over the transactions; no judgement scale")
        stats = dataclasses.replace(fitted.fit_stats, extra={**fitted.fit_stats.extra, "place_index_sd_log_price": index_sd})
        self.results_ = dataclasses.replace(
            fitted, judgement_scale=self.index_sd / index_sd, fit_stats=stats,
            scale_rule=(f"place index sd: judgement points = log-price weight x index_sd / sd of the place index over "
                        f"the fitted transactions (index_sd={self.index_sd:g} judgement points, sd={index_sd:.6g} log price)"))
        return self

    def predict_expected(self, X: pd.DataFrame, controls: pd.DataFrame | None = None) -> np.ndarray:
        """Fitted log price for every transaction (the behaviour model's response scale)."""
        return super().predict_expected(X, controls)
