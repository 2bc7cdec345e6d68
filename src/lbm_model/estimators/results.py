"""What a fit produced, as one frozen, typed object (statsmodels' model/results split).

Every estimator family returns a :class:`FitResults` in ``results_`` after ``fit``. Freeze,
checks, tracking and every later comparison read only this object, never an estimator's
private attributes, so a new family plugs in by filling it.

- weights by indicator on the native and on the judgement scale, with the recorded scale rule;
- uncertainty as a small tagged type: :class:`WaldUncertainty` (covariance and standard
  errors), :class:`DrawsUncertainty` (bootstrap or posterior draws) or :class:`NoUncertainty`
  (a family without standard errors is a state, not a NaN);
- typed fit statistics (:class:`FitStats`) with the fields every family shares;
- family extras in a typed slot (:class:`OrdinalExtras`, :class:`LinearExtras`);
- what the estimator can do cheaply (:class:`Capabilities`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar, Union

import numpy as np
import pandas as pd
from scipy import stats


def _float_copy(series: pd.Series) -> pd.Series:
    """An own float copy, so later changes to the estimator's arrays cannot reach the results."""
    return series.astype(float).copy()


@dataclass(frozen=True, eq=False)
class WaldUncertainty:
    """Standard errors from an estimated covariance matrix (native scale).

    ``cov_type`` is cluster, robust or nonrobust; ``correction`` says which small-sample
    factor the family applied to a clustered or robust covariance (it differs by family).
    """

    standard_errors: pd.Series
    covariance: np.ndarray | None
    cov_type: str
    correction: str
    kind: ClassVar[str] = "wald"

    def interval(self, weights: pd.Series, level: float) -> pd.DataFrame:
        z = stats.norm.ppf(0.5 + level / 2)
        se = self.standard_errors.reindex(weights.index)
        return pd.DataFrame({"lower": weights - z * se, "upper": weights + z * se})

    def describe(self) -> dict:
        return {"kind": self.kind, "cov_type": self.cov_type, "correction": self.correction}


@dataclass(frozen=True, eq=False)
class DrawsUncertainty:
    """Draws of the weights (draws x indicators, native scale): a bootstrap or a posterior."""

    draws: pd.DataFrame
    source: str                      # "bootstrap" or "posterior"
    saved: int = 0                   # posterior: how many evenly thinned draws model.json keeps (frozen_draws)

    @property
    def kind(self) -> str:
        return self.source

    @property
    def standard_errors(self) -> pd.Series:
        return self.draws.std(axis=0, ddof=1)

    def interval(self, weights: pd.Series, level: float) -> pd.DataFrame:
        lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
        q = self.draws.quantile([lo, hi]).T.reindex(weights.index)
        return pd.DataFrame({"lower": q[lo], "upper": q[hi]})

    def frozen_draws(self) -> pd.DataFrame:
        """``saved`` draws, evenly spaced over all chains and iterations (all when there are fewer)."""
        if self.saved <= 0 or self.saved >= len(self.draws):
            return self.draws
        return self.draws.iloc[np.linspace(0, len(self.draws) - 1, self.saved).round().astype(int)]

    def describe(self) -> dict:
        return {"kind": self.kind, "n_draws": int(len(self.draws)),
                **({"n_saved_draws": int(len(self.frozen_draws()))} if self.source == "posterior" else {})}


@dataclass(frozen=True, eq=False)
class NoUncertainty:
    """The family gives point estimates only; ``reason`` says why."""

    reason: str
    kind: ClassVar[str] = "none"
    standard_errors: ClassVar[None] = None

    def interval(self, weights: pd.Series, level: float) -> None:
        return None

    def describe(self) -> dict:
        return {"kind": self.kind, "reason": self.reason}


Uncertainty = Union[WaldUncertainty, DrawsUncertainty, NoUncertainty]


@dataclass(frozen=True)
class FitStats:
    """Fit statistics every family reports, plus family-specific numbers in ``extra``.

    ``rmse`` is the survey-weighted root mean squared difference between observed and
    expected judgement (1..5 points) in the training data: comparable across families.
    """

    converged: bool
    n_obs: int
    n_clusters: int | None
    n_params: int
    rmse: float
    iterations: int | None = None
    extra: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", MappingProxyType({str(k): float(v) for k, v in self.extra.items()}))

    def to_dict(self) -> dict:
        """JSON-ready (model.json, MLflow metrics); None where a number does not apply."""
        return {"converged": self.converged, "n_obs": self.n_obs, "n_clusters": self.n_clusters,
                "n_params": self.n_params, "rmse": self.rmse, "iterations": self.iterations, **self.extra}

    def metrics(self) -> dict[str, float]:
        """Finite numbers only, for MLflow (converged as 1.0 / 0.0)."""
        out = {k: float(v) for k, v in self.to_dict().items() if isinstance(v, (int, float)) and v is not None}
        return {k: v for k, v in out.items() if math.isfinite(v)}


@dataclass(frozen=True, eq=False)
class OrdinalExtras:
    """Proportional-odds specifics: the response levels and the cut-points (native scale)."""

    levels: np.ndarray
    cutpoints: np.ndarray
    cutpoint_se: np.ndarray | None = None

    def to_dict(self) -> dict:
        return {"levels": [float(v) for v in self.levels], "cutpoints": [float(c) for c in self.cutpoints]}


@dataclass(frozen=True, eq=False)
class LinearExtras:
    """Linear-model specifics: the intercept (judgement points) and its standard error."""

    intercept: float
    intercept_se: float | None = None

    def to_dict(self) -> dict:
        return {"intercept": float(self.intercept)}


FamilyExtras = Union[OrdinalExtras, LinearExtras, None]


@dataclass(frozen=True)
class Capabilities:
    """What a fitted family can do cheaply; checks that need more report 'not applicable'."""

    standard_errors: bool         # analytic (Wald) or draw-based uncertainty of the weights
    probabilities: bool           # P(Y = level) per respondent (predict_proba)
    refit: bool                   # refitting on a subsample is affordable (bootstrap, cross-validation)
    warm_start: bool              # a refit can start from these estimates
    posterior: bool = False       # posterior draws from a sampler (convergence diagnostics apply)


@dataclass(frozen=True, eq=False)
class FitResults:
    """One fit of one family: weights, scale rule, uncertainty, statistics, extras, capabilities."""

    family: str
    params: Mapping[str, object]  # the hyper-parameters that determine the estimates (no display settings)
    weights: pd.Series            # native scale, by indicator name
    judgement_scale: float        # native weight x judgement_scale = judgement points per sd
    scale_rule: str
    uncertainty: Uncertainty
    fit_stats: FitStats
    control_coefs: pd.Series      # estimation-only controls (never scored)
    extras: FamilyExtras
    capabilities: Capabilities

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", _float_copy(self.weights))
        object.__setattr__(self, "control_coefs", _float_copy(self.control_coefs))
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        if not np.isfinite(self.weights.to_numpy()).all() or not math.isfinite(self.judgement_scale):
            raise ValueError(f"the {self.family} fit produced non-finite weights or scale")

    @property
    def indicator_names(self) -> list[str]:
        return list(self.weights.index)

    @property
    def judgement_weights(self) -> pd.Series:
        """Weights in judgement points per standard deviation of the indicator."""
        return self.weights * self.judgement_scale

    @property
    def standard_errors(self) -> pd.Series | None:
        """Native-scale standard errors, or None when the family has no uncertainty."""
        return self.uncertainty.standard_errors

    @property
    def judgement_standard_errors(self) -> pd.Series | None:
        """Standard errors on the judgement scale (native SE x judgement_scale), or None."""
        se = self.standard_errors
        return None if se is None else se * self.judgement_scale

    def conf_int(self, level: float = 0.95) -> pd.DataFrame | None:
        """Intervals for the native weights (Wald or percentile), or None without uncertainty."""
        return self.uncertainty.interval(self.weights, level)

    def frozen_record(self) -> dict:
        """What model.json records about the estimator (stable family name, no import path)."""
        return {"family": self.family, "params": dict(self.params), "scale_rule": self.scale_rule,
                "judgement_scale": float(self.judgement_scale), "fit_stats": self.fit_stats.to_dict(),
                "uncertainty": self.uncertainty.describe(),
                "extras": self.extras.to_dict() if self.extras is not None else {}}
