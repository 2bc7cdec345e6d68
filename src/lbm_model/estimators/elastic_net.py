"""Regularised selection: elastic net on the judgement, stability selection, then a post-selection refit.

1. Controls are partialled out of the judgement and the indicators (survey-weighted least
   squares, Frisch-Waugh), so the penalty falls on the indicators only.
2. scikit-learn's ``ElasticNetCV`` picks the penalty with folds blocked by gemeente
   (``GroupKFold``); ``alpha_rule="one_se"`` (default) takes the largest penalty whose
   cross-validated error is within one standard error of the minimum (glmnet's lambda.1se),
   ``"min"`` the minimum.
3. Stability selection (Meinshausen and Buehlmann 2010): the elastic net at that penalty is
   refitted on ``n_subsamples`` random halves of the buurten (whole buurten, so clustered
   respondents stay together); an indicator's selection frequency is the share of subsamples
   in which its coefficient is non-zero. Indicators at or above ``threshold`` are selected.
4. The weights come from a refit of the production family (``refit``: ordinal_logit or
   least_squares) on the selected indicators (post-selection refit, as Belloni and Chernozhukov's
   post-lasso), so they are on the same scale as every other family. Dropped indicators get a
   weight of exactly 0; every indicator's selection frequency is recorded in model.json.

Sign constraints (``sign_constraints=True``, from the catalog's ``expected_sign``): the penalised fits
run with non-negative coefficients on the indicators multiplied by their expected sign (an indicator
without an expectation enters twice, as x and -x, so it stays free: scikit-learn's ``positive=True``
then constrains only the signed ones). The post-selection refit is unconstrained, so selected
indicators whose refit weight has the wrong sign are dropped and the refit repeated until none is
left (recorded as ``dropped_for_sign``).

Standard errors of a refit that ignore the selection step would be too narrow, so this family
reports none (``NoUncertainty``; sign checks say "not applicable"). A refit repeats the whole
selection, so bootstrap and cross-validation checks are "not applicable" too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import ElasticNet, ElasticNetCV
from sklearn.model_selection import GroupKFold

from lbm_model.estimators.base import LbmEstimator
from lbm_model.estimators.diagnostics import FamilyDiagnostics
from lbm_model.estimators.linear import LeastSquares
from lbm_model.estimators.ordinal import OrdinalLogit, _probabilities
from lbm_model.estimators.results import (Capabilities, FitResults, FitStats, LinearExtras, NoUncertainty,
                                          OrdinalExtras)

REFIT_FAMILIES = {"ordinal_logit": OrdinalLogit, "least_squares": LeastSquares}
ALPHA_RULES = ("one_se", "min")


@dataclass(frozen=True, eq=False)
class SelectionExtras:
    """The refit's extras plus the selection: frequencies, selected set, penalty."""

    refit: OrdinalExtras | LinearExtras
    frequency: pd.Series          # selection frequency per indicator (0..1)
    selected: tuple[str, ...]
    alpha: float
    l1_ratio: float
    threshold: float
    n_subsamples: int
    dropped_for_sign: tuple[str, ...] = ()      # sign constraints: selected, but of the wrong sign after the refit

    def to_dict(self) -> dict:
        return {**self.refit.to_dict(),
                "selection": {"frequency": {k: float(v) for k, v in self.frequency.items()},
                              "selected": list(self.selected), "alpha": float(self.alpha),
                              "l1_ratio": float(self.l1_ratio), "threshold": float(self.threshold),
                              "n_subsamples": int(self.n_subsamples),
                              **({"dropped_for_sign": list(self.dropped_for_sign)} if self.dropped_for_sign else {})}}

    def diagnostics(self, min_respondents: int) -> FamilyDiagnostics:
        """Selection frequencies and the selected set (model-level rows only)."""
        table = pd.DataFrame({"name": self.frequency.index, "selection_frequency": self.frequency.to_numpy(),
                              "selected": [n in self.selected for n in self.frequency.index]})
        dropped = [n for n in self.frequency.index if n not in self.selected]
        return FamilyDiagnostics(
            {"selection.csv": table},
            {"n_selected": len(self.selected), "n_dropped": len(dropped), "alpha": self.alpha},
            f"{len(self.selected)} of {len(self.frequency)} indicators selected (frequency >= {self.threshold} over "
            f"{self.n_subsamples} half-samples of buurten); dropped: {', '.join(dropped) or 'none'}",
            {"selected": list(self.selected), "dropped": dropped})


def _signed_columns(Xr: np.ndarray, signs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns whose non-negative coefficients honour the expected signs: sign * x for a signed indicator, both
    x and -x for one without an expectation; and the indicator each column belongs to."""
    free = np.flatnonzero(signs == 0)
    columns = np.column_stack([Xr * np.where(signs == 0, 1, signs), -Xr[:, free]])
    return columns, np.concatenate([np.arange(Xr.shape[1]), free])


def partial_out(values: np.ndarray, controls: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Residuals of a survey-weighted least-squares regression of ``values`` on ``controls``."""
    root = np.sqrt(weight)
    coef = np.linalg.lstsq(controls * root[:, None], values * (root if values.ndim == 1 else root[:, None]),
                           rcond=None)[0]
    return values - controls @ coef


class ElasticNetSelection(LbmEstimator):
    """Stability-selected elastic net with a post-selection refit of the production family."""

    family = "elastic_net"
    runtime_params = ("progress",)

    needs_areas = True
    uses_expected_signs = True    # fit_model passes the catalog's expected_sign per indicator (expected_signs)

    def __init__(self, l1_ratio: float = 0.9, n_alphas: int = 40, n_folds: int = 5, alpha_rule: str = "one_se",
                 n_subsamples: int = 50, threshold: float = 0.6, refit: str = "ordinal_logit", random_state: int = 0,
                 progress: bool = False, sign_constraints: bool = False, expected_signs: dict | None = None) -> None:
        self.l1_ratio = l1_ratio
        self.n_alphas = n_alphas
        self.n_folds = n_folds
        self.alpha_rule = alpha_rule
        self.n_subsamples = n_subsamples
        self.threshold = threshold
        self.refit = refit
        self.random_state = random_state
        self.progress = progress
        self.sign_constraints = sign_constraints
        self.expected_signs = expected_signs      # indicator -> -1, 0 or 1 (the catalog's expected_sign)

    def fit(self, X: pd.DataFrame, y: np.ndarray, *, controls: pd.DataFrame | None = None,
            sample_weight: np.ndarray | None = None, groups: np.ndarray | None = None,
            areas: pd.DataFrame | None = None) -> "ElasticNetSelection":
        if self.refit not in REFIT_FAMILIES or self.alpha_rule not in ALPHA_RULES:
            raise ValueError(f"refit must be one of {tuple(REFIT_FAMILIES)} and alpha_rule one of {ALPHA_RULES}")
        Xa, y, controls, weight, groups = self._check_fit_input(X, y, controls, sample_weight, groups)
        if groups is None or areas is None or "gemeente_code" not in areas.columns:
            raise ValueError("the elastic_net family needs buurt groups and gemeente codes (areas) per respondent")
        design = np.column_stack([np.ones(len(y)), controls.to_numpy(float)])
        Xr, yr = partial_out(Xa, design, weight), partial_out(y, design, weight)
        signs = self._signs()
        Xs, owner = _signed_columns(Xr, signs) if signs is not None else (Xr, np.arange(Xr.shape[1]))
        alpha = self._penalty(Xs, yr, weight, areas["gemeente_code"].astype(str).to_numpy())
        frequency = pd.Series(self._selection_frequency(Xs, yr, weight, np.asarray(groups).astype(str), alpha, owner),
                              index=list(self.feature_names_in_))
        selected = tuple(n for n in frequency.index if frequency[n] >= self.threshold)
        inner, selected, wrong = self._refit(X, y, controls, weight, groups, selected, signs)
        self.results_ = self._results(inner.results, frequency, selected, alpha, wrong)
        return self

    def _signs(self) -> np.ndarray | None:
        """Expected sign per indicator when constrained (refused when a sign is missing)."""
        if not self.sign_constraints:
            return None
        names = list(self.feature_names_in_)
        missing = [n for n in names if n not in (self.expected_signs or {})]
        if missing:
            raise ValueError(f"sign_constraints needs the catalog's expected_sign of {', '.join(missing[:5])}")
        return np.array([int(np.sign(self.expected_signs[n])) for n in names])

    def _refit(self, X, y, controls, weight, groups, selected, signs):
        """The production family on the selected indicators; with sign constraints, selected indicators whose
        refit weight has the wrong sign are dropped and the refit repeated (returns estimator, kept, dropped)."""
        dropped: list[str] = []
        while True:
            if not selected:
                raise ValueError(f"stability selection kept no indicator (threshold {self.threshold}"
                                 f"{', after dropping wrong signs' if dropped else ''}); lower "
                                 "model.estimator.threshold or use alpha_rule=min")
            inner = REFIT_FAMILIES[self.refit](cov_type="nonrobust")
            inner.fit(X[list(selected)], y, controls=controls, sample_weight=weight, groups=groups)
            if signs is None:
                return inner, selected, ()
            expected = dict(zip(self.feature_names_in_, signs))
            wrong = [n for n, w in inner.results.weights.items() if expected[n] * w < 0]
            if not wrong:
                return inner, selected, tuple(dropped)
            dropped += wrong
            selected = tuple(n for n in selected if n not in wrong)

    def _penalty(self, Xr, yr, weight, gemeente) -> float:
        """The cross-validated penalty, folds blocked by gemeente (1-SE or minimum rule)."""
        n_folds = min(self.n_folds, np.unique(gemeente).size)
        if n_folds < 2:
            raise ValueError("blocked cross-validation needs respondents in at least two gemeenten")
        splits = list(GroupKFold(n_folds).split(Xr, yr, gemeente))
        cv = ElasticNetCV(l1_ratio=self.l1_ratio, alphas=self.n_alphas, cv=splits,
                          positive=self.sign_constraints).fit(Xr, yr, sample_weight=weight)
        if self.alpha_rule == "min":
            return float(cv.alpha_)
        mean, spread = cv.mse_path_.mean(axis=1), cv.mse_path_.std(axis=1, ddof=1) / np.sqrt(cv.mse_path_.shape[1])
        best = int(np.argmin(mean))
        return float(cv.alphas_[mean <= mean[best] + spread[best]].max())

    def _selection_frequency(self, Xr, yr, weight, buurt, alpha, owner) -> np.ndarray:
        """Share of half-samples of buurten in which each indicator's coefficient is non-zero (``owner``: the
        indicator of each design column)."""
        rng = np.random.default_rng(self.random_state)
        codes, position = np.unique(buurt, return_inverse=True)
        counts = np.zeros(int(owner.max()) + 1)
        for _ in range(self.n_subsamples):
            chosen = np.zeros(codes.size, bool)
            chosen[rng.choice(codes.size, codes.size // 2, replace=False)] = True
            keep = chosen[position]
            model = ElasticNet(alpha=alpha, l1_ratio=self.l1_ratio, positive=self.sign_constraints).fit(
                Xr[keep], yr[keep], sample_weight=weight[keep])
            counts += np.bincount(owner, weights=np.abs(model.coef_), minlength=counts.size) != 0
        return counts / self.n_subsamples

    def _results(self, inner: FitResults, frequency: pd.Series, selected: tuple[str, ...], alpha: float,
                 dropped_for_sign: tuple[str, ...] = ()) -> FitResults:
        weights = inner.weights.reindex(frequency.index, fill_value=0.0)
        stats = FitStats(converged=inner.fit_stats.converged, n_obs=inner.fit_stats.n_obs,
                         n_clusters=inner.fit_stats.n_clusters, n_params=inner.fit_stats.n_params,
                         rmse=inner.fit_stats.rmse, iterations=inner.fit_stats.iterations,
                         extra={**inner.fit_stats.extra, "n_selected": len(selected), "alpha": alpha})
        return FitResults(
            family=self.family, params=self.model_params(), weights=weights, judgement_scale=inner.judgement_scale,
            scale_rule=f"{inner.scale_rule} (post-selection {self.refit} refit; dropped indicators 0)",
            uncertainty=NoUncertainty("post-selection refit: Wald errors would ignore the selection step"),
            fit_stats=stats, control_coefs=inner.control_coefs,
            extras=SelectionExtras(inner.extras, frequency, selected, alpha, self.l1_ratio, self.threshold,
                                   self.n_subsamples, dropped_for_sign),
            capabilities=Capabilities(standard_errors=False, probabilities=isinstance(inner.extras, OrdinalExtras),
                                      refit=False, warm_start=False))

    def predict_proba(self, X: pd.DataFrame, controls: pd.DataFrame | None = None) -> np.ndarray:
        """P(Y = level) per row (ordinal refit only)."""
        extras = self.results.extras.refit
        if not isinstance(extras, OrdinalExtras):
            raise ValueError("class probabilities need refit=ordinal_logit")
        return _probabilities(extras.cutpoints, self.linear_index(X, controls))

    def predict_expected(self, X: pd.DataFrame, controls: pd.DataFrame | None = None) -> np.ndarray:
        """Expected judgement (1..5 scale) from the refit on the selected indicators."""
        extras = self.results.extras.refit
        if isinstance(extras, OrdinalExtras):
            return self.predict_proba(X, controls) @ extras.levels
        return extras.intercept + self.linear_index(X, controls)
