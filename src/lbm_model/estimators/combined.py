"""The combined model: the judgement model and the behaviour model on one indicator set, one weight set.

The published Leefbaarometer 3.0 combines a judgement model (oordelenmodel: residents' survey
judgements) and a behaviour model (gedragsmodel: transaction prices corrected for the dwelling).
This family fits both on the same standardised indicators, the judgement component (``judgement``:
ordinal_logit or least_squares) on the survey and the behaviour component (:class:`Hedonic`) on
the transactions, and combines their weights by the rule ``index_sd_mean``:

1. each component's weights are expressed per standard deviation of its own place index, the
   component weights times the standardised indicators over the rows it was fitted on
   (respondents, judgement points; transactions, log price; unweighted): ``w_J / sd_J`` and ``w_B / sd_B``;
2. the combined weights are their weighted mean with ``judgement_share`` and ``behaviour_share``
   (non-negative, summing to 1), times a target sd in judgement points ``T``:
   ``w = judgement_share * T / sd_J * w_J + behaviour_share * T / sd_B * w_B``.
   ``scale_to=judgement`` (default) takes ``T = sd_J`` (the combined index has the judgement
   model's spread, and shares (1, 0) give the judgement model exactly); ``scale_to=index_sd``
   takes ``T = index_sd``, the behaviour model's own rule (shares (0, 1) give ``model=hedonic``).

Standard errors: the two samples are independent, so with the factors ``f_J = share_J T / sd_J``
and ``f_B = share_B T / sd_B`` held fixed the covariance is ``f_J^2 V_J + f_B^2 V_B`` (the
component covariances in judgement points and log price; the sampling noise of sd_J and sd_B is
not propagated). model.json records both components (weights, standard errors, scale rules, fit
statistics), the factors and each component's contribution per indicator.

Predictions on the survey (residual checks) use the judgement component with the combined weights
in its place (its cut-points or intercept and controls unchanged). A refit would repeat both fits
on data the checks do not resample together, so bootstrap and cross-validation are "not applicable".
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from lbm_model.estimators.base import COV_TYPES, LbmEstimator, weighted_rmse
from lbm_model.estimators.diagnostics import FamilyDiagnostics
from lbm_model.estimators.elastic_net import REFIT_FAMILIES
from lbm_model.estimators.hedonic import Hedonic
from lbm_model.estimators.results import Capabilities, FitResults, FitStats, WaldUncertainty

SCALE_TARGETS = ("judgement", "index_sd")
RULE = "index_sd_mean"


@dataclass(frozen=True)
class CombinationRule:
    """The factors that turn each component's weights into its part of the combined weights."""

    judgement_share: float
    behaviour_share: float
    scale_to: str
    target_sd: float               # T: judgement points per sd of the combined place index
    judgement_index_sd: float      # sd_J, judgement points, over the respondents
    behaviour_index_sd: float      # sd_B, log price, over the transactions

    @property
    def judgement_factor(self) -> float:
        return self.judgement_share * self.target_sd / self.judgement_index_sd

    @property
    def behaviour_factor(self) -> float:
        return self.behaviour_share * self.target_sd / self.behaviour_index_sd

    def describe(self) -> str:
        return (f"{RULE}: weight = {self.judgement_share:g} x T / sd_J x judgement weight + {self.behaviour_share:g} x "
                f"T / sd_B x log-price weight, sd_J={self.judgement_index_sd:.6g} judgement points over the respondents, "
                f"sd_B={self.behaviour_index_sd:.6g} log price over the transactions, T={self.target_sd:.6g} judgement "
                f"points ({'the judgement place index sd' if self.scale_to == 'judgement' else 'index_sd'})")

    def to_dict(self) -> dict:
        return {"name": RULE, "judgement_share": self.judgement_share, "behaviour_share": self.behaviour_share,
                "scale_to": self.scale_to, "target_sd": self.target_sd, "judgement_index_sd": self.judgement_index_sd,
                "behaviour_index_sd": self.behaviour_index_sd, "judgement_factor": self.judgement_factor,
                "behaviour_factor": self.behaviour_factor}


@dataclass(frozen=True, eq=False)
class CombinedExtras:
    """Both component fits and the rule that combined them."""

    judgement: FitResults
    behaviour: FitResults
    rule: CombinationRule

    def contributions(self) -> pd.DataFrame:
        """Per indicator: each component's weight and standard error and its part of the combined weight
        (judgement points; the two parts add up to the combined weight)."""
        j, b = self.judgement, self.behaviour
        names = j.indicator_names
        return pd.DataFrame({
            "name": names,
            "judgement_weight": j.judgement_weights[names].to_numpy(),
            "judgement_standard_error": j.judgement_standard_errors[names].to_numpy(),
            "behaviour_weight_log_price": b.weights[names].to_numpy(),
            "behaviour_standard_error_log_price": b.standard_errors[names].to_numpy(),
            "judgement_part": self.rule.judgement_factor * j.judgement_weights[names].to_numpy(),
            "behaviour_part": self.rule.behaviour_factor * b.weights[names].to_numpy(),
        })

    def to_dict(self) -> dict:
        def component(results: FitResults, weights: pd.Series, se: pd.Series, unit: str) -> dict:
            return {"family": results.family, "params": dict(results.params), "scale_rule": results.scale_rule,
                    "judgement_scale": float(results.judgement_scale), "unit": unit,
                    "fit_stats": results.fit_stats.to_dict(), "uncertainty": results.uncertainty.describe(),
                    "weights": {k: float(v) for k, v in weights.items()},
                    "standard_errors": {k: float(v) for k, v in se.items()}}

        table = self.contributions().set_index("name")
        return {"rule": self.rule.to_dict(),
                "judgement": component(self.judgement, self.judgement.judgement_weights,
                                       self.judgement.judgement_standard_errors, "judgement points per indicator sd"),
                "behaviour": component(self.behaviour, self.behaviour.weights, self.behaviour.standard_errors,
                                       "log price per indicator sd"),
                "contributions": {name: {"judgement": float(row.judgement_part), "behaviour": float(row.behaviour_part)}
                                  for name, row in table.iterrows()}}

    def diagnostics(self, min_respondents: int) -> FamilyDiagnostics:
        """The components side by side (model-level rows only)."""
        table = self.contributions()
        r = float(np.corrcoef(table["judgement_weight"], table["behaviour_weight_log_price"])[0, 1])
        judgement_abs, behaviour_abs = table["judgement_part"].abs().sum(), table["behaviour_part"].abs().sum()
        share = float(behaviour_abs / (judgement_abs + behaviour_abs)) if judgement_abs + behaviour_abs > 0 else 0.0
        return FamilyDiagnostics(
            {"components.csv": table},
            {"component_weight_correlation": r, "behaviour_share_of_abs_weight": share,
             "judgement_factor": self.rule.judgement_factor, "behaviour_factor": self.rule.behaviour_factor},
            f"judgement ({self.judgement.family}) and behaviour (hedonic) weights correlate {r:.2f}; shares "
            f"{self.rule.judgement_share:g}/{self.rule.behaviour_share:g} give the behaviour model {share:.0%} of the "
            "combined sum of |weight|",
            {"rule": self.rule.to_dict()})


class Combined(LbmEstimator):
    """The judgement component on the survey and the hedonic component on the transactions, combined."""

    family = "combined"
    fits_on: ClassVar[str] = "survey+transactions"

    def __init__(self, judgement: str = "ordinal_logit", judgement_share: float = 0.5, behaviour_share: float = 0.5,
                 scale_to: str = "judgement", index_sd: float = 0.3, cov_type: str = "cluster") -> None:
        self.judgement = judgement
        self.judgement_share = judgement_share
        self.behaviour_share = behaviour_share
        self.scale_to = scale_to
        self.index_sd = index_sd
        self.cov_type = cov_type

    def _check_params(self) -> None:
        shares = (self.judgement_share, self.behaviour_share)
        if (self.judgement not in REFIT_FAMILIES or self.scale_to not in SCALE_TARGETS or self.cov_type not in COV_TYPES
                or min(shares) < 0 or abs(sum(shares) - 1.0) > 1e-9 or not self.index_sd > 0):
            raise ValueError(f"judgement must be one of {tuple(REFIT_FAMILIES)}, scale_to one of {SCALE_TARGETS}, "
                             f"cov_type one of {COV_TYPES}, the shares non-negative and summing to 1 (got "
                             f"{self.judgement_share:g} + {self.behaviour_share:g}) and index_sd > 0")

    def fit(self, X, y, **kwargs) -> "Combined":
        raise TypeError("the combined model is fitted on a survey design and a transactions design: "
                        "fit_data(data, market=...) (recalibrate.fit_model builds both)")

    def fit_data(self, data, market=None) -> "Combined":
        """Fit the judgement component on ``data`` (respondents) and the behaviour component on ``market``
        (sold dwellings), then combine them by the rule."""
        self._check_params()
        if market is None:
            raise ValueError("the combined model needs the transactions design (market=)")
        judgement = REFIT_FAMILIES[self.judgement](cov_type=self.cov_type).fit_data(data)
        behaviour = Hedonic(cov_type=self.cov_type, index_sd=self.index_sd).fit_data(market)
        names = list(judgement.results.weights.index)
        if list(behaviour.results.weights.index) != names:
            raise ValueError("the two components were fitted on different indicators")
        rule = self._rule(judgement.results, behaviour.results, data.indicators[names].to_numpy(float))
        self.feature_names_in_, self.n_features_in_ = np.asarray(names, dtype=object), len(names)
        self.components_ = (judgement, behaviour)
        self.results_ = combine(judgement.results, behaviour.results, rule, self.model_params())
        native = (rule.judgement_factor * judgement.results.weights                 # the combined weights on the
                  + rule.behaviour_factor / judgement.results.judgement_scale * behaviour.results.weights)  # judgement
        self.predictor_ = _with_weights(judgement, native)                          # component's native scale
        expected = self.predictor_.predict_expected(data.indicators, data.controls)
        stats = dataclasses.replace(self.results_.fit_stats, rmse=weighted_rmse(data.response, expected, data.weight))
        self.results_ = dataclasses.replace(self.results_, fit_stats=stats)
        return self

    def _rule(self, judgement: FitResults, behaviour: FitResults, survey_indicators: np.ndarray) -> CombinationRule:
        judgement_sd = float(np.std(survey_indicators @ judgement.judgement_weights.to_numpy()))
        behaviour_sd = float(behaviour.fit_stats.extra["place_index_sd_log_price"])   # the hedonic scale rule's own sd
        if not judgement_sd > 0:
            raise ValueError("the judgement place index does not vary over the respondents; no combination")
        return CombinationRule(float(self.judgement_share), float(self.behaviour_share), self.scale_to,
                               judgement_sd if self.scale_to == "judgement" else float(self.index_sd),
                               judgement_sd, behaviour_sd)

    def predict_expected(self, X: pd.DataFrame, controls: pd.DataFrame | None = None) -> np.ndarray:
        """Expected judgement (1..5) by the judgement component with the combined weights in its place."""
        self.results                                   # refuses an unfitted model
        return self.predictor_.predict_expected(X, controls)


def combine(judgement: FitResults, behaviour: FitResults, rule: CombinationRule, params: dict) -> FitResults:
    """The combined results: weights and covariance by the rule, both components in the extras."""
    fj, fb = rule.judgement_factor, rule.behaviour_factor
    weights = fj * judgement.judgement_weights + fb * behaviour.weights
    cov_j = judgement.uncertainty.covariance * judgement.judgement_scale ** 2
    covariance = fj ** 2 * cov_j + fb ** 2 * behaviour.uncertainty.covariance
    se = pd.Series(np.sqrt(np.diag(covariance)), index=weights.index)
    jstats, bstats = judgement.fit_stats, behaviour.fit_stats
    stats = FitStats(converged=jstats.converged and bstats.converged, n_obs=jstats.n_obs, n_clusters=jstats.n_clusters,
                     n_params=jstats.n_params + bstats.n_params, rmse=jstats.rmse, iterations=jstats.iterations,
                     extra={"n_transactions": bstats.n_obs, "judgement_rmse": jstats.rmse,
                            "behaviour_rmse_log_price": bstats.rmse, "judgement_factor": fj, "behaviour_factor": fb,
                            "judgement_index_sd": rule.judgement_index_sd,
                            "behaviour_index_sd_log_price": rule.behaviour_index_sd})
    return FitResults(
        family=Combined.family, params=params, weights=weights, judgement_scale=1.0, scale_rule=rule.describe(),
        uncertainty=WaldUncertainty(se, covariance, judgement.uncertainty.cov_type,
                                    f"f_J^2 V_J + f_B^2 V_B (independent samples, factors held fixed); components: "
                                    f"{judgement.uncertainty.correction}; {behaviour.uncertainty.correction}"),
        fit_stats=stats, control_coefs=pd.Series(dtype=float), extras=CombinedExtras(judgement, behaviour, rule),
        capabilities=Capabilities(standard_errors=True, probabilities=False, refit=False, warm_start=False))


def _with_weights(estimator: LbmEstimator, native_weights: pd.Series) -> LbmEstimator:
    """A copy of a fitted estimator whose results carry other weights (for predictions only)."""
    twin = copy.copy(estimator)
    twin.results_ = dataclasses.replace(estimator.results, weights=native_weights)
    return twin


def contributions_by_dimension(contributions: pd.DataFrame, dimension_of: dict[str, str]) -> dict[str, dict[str, float]]:
    """Per dimension: the sum of each component's parts and of their absolute values (judgement points per sd)."""
    frame = contributions.assign(dimension=contributions["name"].map(dimension_of))
    out = {}
    for dimension, rows in frame.groupby("dimension", sort=True):
        out[str(dimension)] = {"judgement": float(rows["judgement_part"].sum()),
                               "behaviour": float(rows["behaviour_part"].sum()),
                               "judgement_abs": float(rows["judgement_part"].abs().sum()),
                               "behaviour_abs": float(rows["behaviour_part"].abs().sum())}
    return out
