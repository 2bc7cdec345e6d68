"""Linear multilevel model: random intercepts for gemeente and for buurt within gemeente (statsmodels MixedLM).

y = const + X beta + controls gamma + u_gemeente + v_buurt + e,  u ~ N(0, s2_g), v ~ N(0, s2_b), e ~ N(0, s2_e)

The fixed effects are the weights (judgement points per sd, like least squares). The area
effects and variance components are reported (``MultilevelExtras``: the ``family_diagnostics``
check writes them as evidence) and never used in scoring: predictions and scores use the fixed
part only. Gemeente is MixedLM's group, the buurt intercepts a variance component within it
(statsmodels' ``VCSpec``).

Two numerical choices, both measured:
- ``method="bfgs"`` by default: with statsmodels 0.14/0.15, ``fit(method="lbfgs")`` was seen to
  report convergence at a zero group variance where BFGS finds the right answer (issue 10); the
  tests check the variance components against planted ones.
- Start values from a cheap intercept-only MixedLM on the least-squares residuals: the full fit
  then needs a few BFGS steps instead of dozens (about 10x faster on the small world).

MixedLM has no case weights, so survey weights are *not* used by this family. That is recorded
(``fit_stats.survey_weights_used = 0`` in model.json, a warning at fit time), never silent.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.regression.mixed_linear_model import MixedLM, MixedLMParams, VCSpec

from lbm_model.estimators.base import LbmEstimator, weighted_rmse
from lbm_model.estimators.diagnostics import FamilyDiagnostics
from lbm_model.estimators.results import Capabilities, FitResults, FitStats, WaldUncertainty

METHODS = ("bfgs", "lbfgs", "cg", "powell", "nm")
AREA_COLUMNS = ("buurt_code", "gemeente_code")


@dataclass(frozen=True, eq=False)
class MultilevelExtras:
    """Intercept, variance components and area effects (BLUPs) with their respondent counts."""

    intercept: float
    intercept_se: float | None
    variance_components: dict[str, float]       # gemeente, buurt, residual (judgement points squared)
    area_effects: dict[str, pd.DataFrame]        # level -> code, effect, respondents

    def to_dict(self) -> dict:
        """model.json: the intercept and the variance components (area effects are evidence, never scored)."""
        return {"intercept": float(self.intercept),
                "variance_components": {k: float(v) for k, v in self.variance_components.items()}}

    def diagnostics(self, min_respondents: int) -> FamilyDiagnostics:
        """Variance components and the area effects of areas with at least ``min_respondents`` respondents."""
        total = sum(self.variance_components.values())
        components = pd.DataFrame({"component": list(self.variance_components),
                                   "variance": list(self.variance_components.values()),
                                   "sd": np.sqrt(list(self.variance_components.values())),
                                   "share": [v / total for v in self.variance_components.values()]})
        tables = {"variance_components.csv": components}
        suppressed = {}
        for level, frame in self.area_effects.items():
            shown = frame[frame["respondents"] >= min_respondents]
            suppressed[level] = int(len(frame) - len(shown))
            tables[f"{level}_effects.csv"] = shown.reset_index(drop=True)
        metrics = {f"variance_{k}": v for k, v in self.variance_components.items()}
        metrics.update({f"sd_{k}": float(np.sqrt(v)) for k, v in self.variance_components.items()})
        metrics["icc_area"] = (self.variance_components["gemeente"] + self.variance_components["buurt"]) / total
        summary = (f"area variance: gemeente sd {np.sqrt(self.variance_components['gemeente']):.3f}, buurt sd "
                   f"{np.sqrt(self.variance_components['buurt']):.3f}, residual sd "
                   f"{np.sqrt(self.variance_components['residual']):.3f} judgement points; area effects reported, "
                   "never scored")
        return FamilyDiagnostics(tables, metrics, summary, {"areas_below_min_respondents": suppressed,
                                                            "min_respondents": min_respondents})


def _vc_spec(gemeente: np.ndarray, buurt: np.ndarray) -> tuple[VCSpec, list[np.ndarray]]:
    """Buurt indicator matrices within each gemeente (MixedLM's groups, in sorted order)."""
    mats, names, codes_per_group = [], [], []
    for code in np.unique(gemeente):
        rows = np.flatnonzero(gemeente == code)
        codes, position = np.unique(buurt[rows], return_inverse=True)
        mat = np.zeros((len(rows), len(codes)))
        mat[np.arange(len(rows)), position] = 1.0
        mats.append(mat)
        names.append([str(c) for c in codes])
        codes_per_group.append(codes)
    return VCSpec(["buurt"], [names], [mats]), codes_per_group


class Multilevel(LbmEstimator):
    """Random-intercept (gemeente, buurt-in-gemeente) linear model of the 1..5 judgement."""

    family = "multilevel"
    runtime_params = ("progress",)

    needs_areas = True

    def __init__(self, method: str = "bfgs", reml: bool = True, max_iter: int = 200, progress: bool = False) -> None:
        self.method = method
        self.reml = reml
        self.max_iter = max_iter
        self.progress = progress

    def fit(self, X: pd.DataFrame, y: np.ndarray, *, controls: pd.DataFrame | None = None,
            sample_weight: np.ndarray | None = None, groups: np.ndarray | None = None,
            areas: pd.DataFrame | None = None) -> "Multilevel":
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}")
        Xa, y, controls, weight, _ = self._check_fit_input(X, y, controls, sample_weight, groups)
        if areas is None or any(c not in areas.columns for c in AREA_COLUMNS):
            raise ValueError("the multilevel family needs areas with buurt_code and gemeente_code per respondent")
        if not np.allclose(weight, weight[0]):
            warnings.warn("multilevel: statsmodels MixedLM has no case weights; the survey weights were not used "
                          "(recorded as fit_stats.survey_weights_used = 0)", stacklevel=2)
        gemeente = areas["gemeente_code"].astype(str).to_numpy()
        buurt = areas["buurt_code"].astype(str).to_numpy()
        names = ["const", *self.feature_names_in_, *controls.columns]
        exog = np.column_stack([np.ones(len(y)), Xa, controls.to_numpy(float)])
        vc, buurt_codes = _vc_spec(gemeente, buurt)
        model = MixedLM(y, exog, groups=gemeente, exog_re=np.ones((len(y), 1)), exog_vc=vc)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # statsmodels' ConvergenceWarning is read from result.converged below
            result = model.fit(method=[self.method], reml=self.reml, maxiter=self.max_iter, disp=self.progress,
                               start_params=self._start(y, exog, gemeente, vc))
        self.results_ = self._results(result, names, y, exog, weight, gemeente, buurt, buurt_codes)
        return self

    def _start(self, y, exog, gemeente, vc) -> MixedLMParams:
        """Variance components of an intercept-only MixedLM on the least-squares residuals (relative to the scale)."""
        residual = y - exog @ np.linalg.lstsq(exog, y, rcond=None)[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quick = MixedLM(residual, np.ones((len(y), 1)), groups=gemeente, exog_re=np.ones((len(y), 1)),
                            exog_vc=vc).fit(method=[self.method], reml=self.reml)
        scale = max(float(quick.scale), 1e-12)
        cov_re = np.maximum(np.asarray(quick.cov_re, float), 1e-4 * scale) / scale
        vcomp = np.maximum(np.asarray(quick.vcomp, float), 1e-4 * scale) / scale
        return MixedLMParams.from_components(fe_params=None, cov_re=cov_re, vcomp=vcomp)

    def _results(self, result, names, y, exog, weight, gemeente, buurt, buurt_codes) -> FitResults:
        params = pd.Series(np.asarray(result.fe_params), index=names)
        k_fe = len(names)
        cov = np.asarray(result.cov_params())[:k_fe, :k_fe]
        bse = pd.Series(np.sqrt(np.diag(cov)), index=names)
        k = self.n_features_in_
        components = {"gemeente": float(np.asarray(result.cov_re)[0, 0]), "buurt": float(np.asarray(result.vcomp)[0]),
                      "residual": float(result.scale)}
        fixed = exog @ params.to_numpy()
        stats = FitStats(converged=bool(result.converged), n_obs=len(y), n_clusters=int(np.unique(buurt).size),
                         n_params=k_fe + 3, rmse=weighted_rmse(y, fixed, weight),
                         iterations=None,
                         extra={"loglike": float(result.llf), "survey_weights_used": 0.0,
                                **{f"variance_{c}": v for c, v in components.items()}})
        extras = MultilevelExtras(intercept=float(params.iloc[0]), intercept_se=float(bse.iloc[0]),
                                  variance_components=components,
                                  area_effects=_area_effects(result, gemeente, buurt, buurt_codes))
        return FitResults(
            family=self.family, params=self.model_params(), weights=params.iloc[1:1 + k], judgement_scale=1.0,
            scale_rule="identity: fixed effects of the linear multilevel model are in judgement points",
            uncertainty=WaldUncertainty(bse.iloc[1:1 + k], cov[1:1 + k, 1:1 + k], "nonrobust",
                                        "none (model-based MixedLM covariance of the fixed effects)"),
            fit_stats=stats, control_coefs=params.iloc[1 + k:], extras=extras,
            capabilities=Capabilities(standard_errors=True, probabilities=False, refit=False, warm_start=False))

    def predict_expected(self, X: pd.DataFrame, controls: pd.DataFrame | None = None) -> np.ndarray:
        """Fixed-part judgement (1..5 scale): area effects are never part of a prediction or a score."""
        return self.results.extras.intercept + self.linear_index(X, controls)


def _area_effects(result, gemeente, buurt, buurt_codes) -> dict[str, pd.DataFrame]:
    """Predicted gemeente and buurt intercepts (BLUPs) with the number of respondents behind each."""
    random = result.random_effects
    gem_rows, buurt_rows = [], []
    for group_codes, code in zip(buurt_codes, np.unique(gemeente)):
        effects = np.asarray(random[code], float)
        gem_rows.append((code, effects[0], int(np.sum(gemeente == code))))
        for b, effect in zip(group_codes, effects[1:]):
            buurt_rows.append((b, effect, int(np.sum(buurt == b))))
    columns = ["code", "effect", "respondents"]
    return {"gemeente": pd.DataFrame(gem_rows, columns=columns), "buurt": pd.DataFrame(buurt_rows, columns=columns)}
