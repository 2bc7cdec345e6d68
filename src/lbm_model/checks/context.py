"""Everything a check may look at, computed once and shared: the fitted model, its data, scores."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lbm_model.classes import assign_classes
from lbm_model.dimensions import DIMENSION_KEYS
from lbm_model.inputs import Inputs

if TYPE_CHECKING:
    from lbm_model.checks.config import ChecksConfig
    from lbm_model.estimators.results import FitResults
    from lbm_model.recalibrate import FittedModel


@dataclass
class CheckContext:
    """The inputs of the checks; plain objects, no global configuration.

    Attributes
    ----------
    inputs : validated cells, survey and catalog.
    fitted : the fitted model (``fitted.data`` is its respondent-level design).
    thresholds : the eight class thresholds fixed at freeze time.
    base_year : the year the classes were anchored on (descriptive score checks use it).
    config : the checks configuration.
    export_dir : where ``evidence/`` and ``audit.json`` go.
    """

    inputs: Inputs
    fitted: FittedModel
    thresholds: np.ndarray
    base_year: int
    config: ChecksConfig
    export_dir: Path
    notes: list[str] = field(default_factory=list)
    _weights: dict = field(default_factory=dict, repr=False)

    def spatial_weights(self, xy: np.ndarray, kind: str, *, k: int = 8, threshold_m: float | None = None):
        """``checks.weights.build_weights`` once per point set and kind, shared by every check of this context."""
        from lbm_model.checks.weights import build_weights

        xy = np.ascontiguousarray(xy, dtype=float)
        key = (kind, k if kind == "knn" else None, threshold_m if kind != "knn" else None, xy.shape,
               hashlib.sha256(xy.tobytes()).hexdigest())
        if key not in self._weights:
            self._weights[key] = build_weights(xy, kind, k=k, threshold_m=threshold_m)
        return self._weights[key]

    @property
    def data(self):
        if self.fitted.data is None:
            raise ValueError("the fitted model carries no estimation data; fit it with recalibrate.fit_model")
        return self.fitted.data

    @property
    def estimator(self):
        """The fitted estimator (for predictions and refits; numbers come from ``results``)."""
        return self.fitted.estimator

    @property
    def results(self) -> FitResults:
        return self.fitted.results

    @property
    def indicator_names(self) -> list[str]:
        return [i.name for i in self.fitted.indicators]

    @cached_property
    def residuals(self) -> np.ndarray:
        """Observed minus expected judgement per respondent (never written anywhere)."""
        data = self.data
        return np.asarray(data.response, float) - self.estimator.predict_expected(data.indicators, data.controls)

    @cached_property
    def judgement_weights(self) -> pd.Series:
        return self.results.judgement_weights.reindex(self.indicator_names)

    @cached_property
    def dimension_scores(self) -> pd.DataFrame:
        """Per training cell-year, the five dimension scores and the total (judgement points)."""
        weights = self.judgement_weights.to_numpy()
        values = self.fitted.indicator_matrix()
        out = {}
        for key in DIMENSION_KEYS:      # the other dimensions' weights zeroed: no copy of the matrix's columns
            mask = np.array([i.dimension == key for i in self.fitted.indicators])
            out[key] = values @ np.where(mask, weights, 0.0) if mask.any() else np.zeros(len(values))
        frame = pd.DataFrame(out, index=self.fitted.standardised.index)
        frame.insert(0, "score", frame.sum(axis=1))
        return frame

    @cached_property
    def classes(self) -> np.ndarray:
        return assign_classes(self.dimension_scores["score"].to_numpy(), self.thresholds)

    @property
    def composition_names(self) -> list[str]:
        """Catalog indicators flagged stigmatising that the cells table carries (audit only)."""
        return [i.name for i in self.inputs.catalog.stigmatising_indicators if i.name in self.inputs.cells.columns]
