"""Spatial econometric families on buurt-aggregated data (PySAL's spreg): spatial error and spatial lag.

Aggregation: buurten with at least ``min_respondents`` respondents; per buurt the survey-weighted
mean judgement, the survey-weighted mean of the respondents' standardised indicators and
controls (respondents are drawn with probability proportional to households, so this estimates
the household-weighted buurt mean) and the survey-weighted centroid of their cells.
Spatial weights: libpysal k-nearest-neighbour graph of the centroids (``k_neighbours``),
row-standardised.

- ``spatial_error``: ``spreg.ML_Error``, y = X beta + u, u = lambda W u + e. Weights = beta.
- ``spatial_lag``: ``spreg.ML_Lag``, y = rho W y + X beta + e. Weights = *direct effects*
  (LeSage and Pace 2009): beta times the mean diagonal of (I - rho W)^-1, the average effect of
  a buurt's own indicator on its own judgement including feedback through its neighbours.

Both are linear in judgement points (identity scale rule). The Lagrange-multiplier tests of an
OLS on the same data (``spreg.OLS(spat_diag=True)``: LM error, LM lag, their robust forms, SARMA)
go into model.json and the evidence. A refit repeats aggregation and graph, so the resampling
checks are "not applicable". Predictions for respondents use the fixed part only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lbm_model.estimators.base import LbmEstimator, weighted_rmse
from lbm_model.estimators.diagnostics import FamilyDiagnostics
from lbm_model.estimators.results import Capabilities, FitResults, FitStats, NoUncertainty, WaldUncertainty

LM_TESTS = ("lm_error", "lm_lag", "rlm_error", "rlm_lag", "lm_sarma")


@dataclass(frozen=True)
class BuurtData:
    """The buurt-aggregated design."""

    y: np.ndarray
    X: np.ndarray
    controls: np.ndarray
    centroids: np.ndarray
    respondents: np.ndarray
    n_dropped: int          # buurten with too few respondents


def aggregate_buurten(X: np.ndarray, y: np.ndarray, controls: np.ndarray, weight: np.ndarray, areas: pd.DataFrame,
                      min_respondents: int) -> BuurtData:
    """Survey-weighted buurt means of judgement, indicators, controls and cell coordinates."""
    codes, position = np.unique(areas["buurt_code"].astype(str).to_numpy(), return_inverse=True)
    counts = np.bincount(position)
    totals = np.bincount(position, weights=weight)

    def mean(values: np.ndarray) -> np.ndarray:
        values = values.reshape(len(weight), -1)
        return np.column_stack([np.bincount(position, weights=weight * v) for v in values.T]) / totals[:, None]

    keep = counts >= min_respondents
    xy = areas[["x", "y"]].to_numpy(float)
    return BuurtData(y=mean(y)[keep, 0], X=mean(X)[keep], controls=mean(controls)[keep] if controls.size else
                     np.empty((int(keep.sum()), 0)), centroids=mean(xy)[keep], respondents=counts[keep],
                     n_dropped=int((~keep).sum()))


@dataclass(frozen=True, eq=False)
class SpatialExtras:
    """Intercept, the spatial parameter and the LM diagnostics."""

    intercept: float
    spatial_parameter: str        # "lambda" (error) or "rho" (lag)
    spatial_value: float
    lm_tests: dict[str, tuple[float, float]]
    n_buurten: int
    n_buurten_dropped: int
    direct_multiplier: float = 1.0

    def to_dict(self) -> dict:
        return {"intercept": float(self.intercept), self.spatial_parameter: float(self.spatial_value),
                "direct_effect_multiplier": float(self.direct_multiplier), "n_buurten": self.n_buurten,
                "lm_tests": {k: {"statistic": float(v[0]), "p_value": float(v[1])} for k, v in self.lm_tests.items()}}

    def diagnostics(self, min_respondents: int) -> FamilyDiagnostics:
        table = pd.DataFrame([{"test": k, "statistic": v[0], "p_value": v[1]} for k, v in self.lm_tests.items()])
        metrics = {self.spatial_parameter: self.spatial_value, "n_buurten": self.n_buurten,
                   **{f"{k}_p": v[1] for k, v in self.lm_tests.items()}}
        return FamilyDiagnostics(
            {"lm_tests.csv": table}, metrics,
            f"{self.spatial_parameter} = {self.spatial_value:.3f} on {self.n_buurten} buurten "
            f"({self.n_buurten_dropped} with too few respondents left out); LM error p = "
            f"{self.lm_tests['lm_error'][1]:.3g}, LM lag p = {self.lm_tests['lm_lag'][1]:.3g}",
            {"n_buurten_dropped": self.n_buurten_dropped})


class _SpatialFamily(LbmEstimator):
    """Shared aggregation, graph and diagnostics of the two spatial families."""

    needs_areas = True

    def __init__(self, min_respondents: int = 10, k_neighbours: int = 6) -> None:
        self.min_respondents = min_respondents
        self.k_neighbours = k_neighbours

    def fit(self, X: pd.DataFrame, y: np.ndarray, *, controls: pd.DataFrame | None = None,
            sample_weight: np.ndarray | None = None, groups: np.ndarray | None = None,
            areas: pd.DataFrame | None = None):
        Xa, y, controls, weight, _ = self._check_fit_input(X, y, controls, sample_weight, groups)
        if areas is None or any(c not in areas.columns for c in ("buurt_code", "x", "y")):
            raise ValueError(f"the {self.family} family needs buurt codes and cell coordinates (areas) per respondent")
        control_names = [c for c in controls.columns]
        data = aggregate_buurten(Xa, y, controls.to_numpy(float), weight, areas, self.min_respondents)
        n_terms = Xa.shape[1] + len(control_names) + 1
        if len(data.y) <= n_terms + self.k_neighbours:
            raise ValueError(f"{len(data.y)} buurten with at least {self.min_respondents} respondents are too few for "
                             f"{n_terms} terms; lower model.estimator.min_respondents or use fewer indicators")
        design = np.column_stack([data.X, data.controls])
        # constant controls (e.g. a level absent after aggregation) are not identified: refuse them clearly
        flat = [name for name, sd in zip(control_names, data.controls.std(axis=0)) if sd == 0]
        if flat:
            raise ValueError(f"control(s) {', '.join(flat)} do not vary between buurten")
        graph = self._weights(data.centroids)
        lm_tests = _lm_tests(data.y, design, graph)
        fitted = self._fit_spatial(data.y, design, graph)
        self.results_ = self._results(fitted, lm_tests, data, design, graph, list(self.feature_names_in_),
                                      control_names, y, Xa, controls.to_numpy(float), weight)
        return self

    def _weights(self, centroids: np.ndarray):
        from libpysal.weights import KNN

        graph = KNN.from_array(centroids, k=self.k_neighbours)
        graph.transform = "r"
        return graph

    def _results(self, fitted, lm_tests, data: BuurtData, design, graph, names, control_names, y, Xa, controls,
                 weight) -> FitResults:
        k = len(names)
        betas = np.asarray(fitted.betas, float).ravel()
        const, slopes = betas[0], betas[1:1 + design.shape[1]]
        multiplier = self._direct_multiplier(fitted, graph)
        weights = pd.Series(slopes[:k] * multiplier, index=names)
        control_coefs = pd.Series(slopes[k:] * multiplier, index=control_names)
        intercept = self._intercept(fitted, const)
        expected = intercept + Xa @ weights.to_numpy() + (controls @ control_coefs.to_numpy() if controls.size else 0.0)
        extras = SpatialExtras(intercept=intercept, spatial_parameter=self.spatial_parameter,
                               spatial_value=float(getattr(fitted, self.spatial_parameter.replace("lambda", "lam"))),
                               lm_tests=lm_tests, n_buurten=len(data.y), n_buurten_dropped=data.n_dropped,
                               direct_multiplier=multiplier)
        stats = FitStats(converged=True, n_obs=len(data.y), n_clusters=len(data.y), n_params=len(betas),
                         rmse=weighted_rmse(y, expected, weight),
                         extra={"loglike": float(fitted.logll), self.spatial_parameter: extras.spatial_value,
                                "buurt_pseudo_r2": float(fitted.pr2)})
        return FitResults(
            family=self.family, params=self.model_params(), weights=weights, judgement_scale=1.0,
            scale_rule=self.scale_rule, uncertainty=self._uncertainty(fitted, names, design.shape[1]),
            fit_stats=stats, control_coefs=control_coefs, extras=extras,
            capabilities=Capabilities(standard_errors=self.has_standard_errors, probabilities=False, refit=False,
                                      warm_start=False))

    def predict_expected(self, X: pd.DataFrame, controls: pd.DataFrame | None = None) -> np.ndarray:
        """Fixed-part judgement (1..5 scale) for every row (no spatial feedback between respondents)."""
        return self.results.extras.intercept + self.linear_index(X, controls)


def _lm_tests(y: np.ndarray, design: np.ndarray, graph) -> dict[str, tuple[float, float]]:
    """Lagrange-multiplier tests for spatial error and lag dependence of an OLS on the same data."""
    import spreg

    ols = spreg.OLS(y.reshape(-1, 1), design, w=graph, spat_diag=True)
    return {name: (float(getattr(ols, name)[0]), float(getattr(ols, name)[1])) for name in LM_TESTS}


class SpatialError(_SpatialFamily):
    """Maximum-likelihood spatial error model of the buurt mean judgement."""

    family = "spatial_error"
    spatial_parameter = "lambda"
    scale_rule = "identity: spatial error model coefficients on buurt means are in judgement points"
    has_standard_errors = True

    def _fit_spatial(self, y, design, graph):
        import spreg

        return spreg.ML_Error(y.reshape(-1, 1), design, w=graph, method="full")

    def _direct_multiplier(self, fitted, graph) -> float:
        return 1.0

    def _intercept(self, fitted, const: float) -> float:
        return float(const)

    def _uncertainty(self, fitted, names, n_slopes):
        k = len(names)
        cov = np.asarray(fitted.vm, float)[1:1 + k, 1:1 + k]
        return WaldUncertainty(pd.Series(np.sqrt(np.diag(cov)), index=names), cov, "nonrobust",
                               "none (ML information matrix, spreg.ML_Error)")


class SpatialLag(_SpatialFamily):
    """Maximum-likelihood spatial lag model; the weights are direct effects."""

    family = "spatial_lag"
    spatial_parameter = "rho"
    scale_rule = ("identity: direct effects (beta x mean diagonal of (I - rho W)^-1) of the spatial lag model on "
                  "buurt means, in judgement points")
    has_standard_errors = False

    def _fit_spatial(self, y, design, graph):
        import spreg

        return spreg.ML_Lag(y.reshape(-1, 1), design, w=graph, method="full", spat_impacts="full")

    def _direct_multiplier(self, fitted, graph) -> float:
        """Mean diagonal of (I - rho W)^-1, as spreg computes it for its impacts table (the 'full' method)."""
        return float(fitted.sp_multipliers["full"][0])

    def _intercept(self, fitted, const: float) -> float:
        return float(const) / (1.0 - float(fitted.rho))      # the constant's total effect (row-standardised W)

    def _uncertainty(self, fitted, names, n_slopes):
        return NoUncertainty("direct effects of a spatial lag model: no delta-method standard errors yet")
