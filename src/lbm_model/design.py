"""Degenerate estimation designs refused before any fit, with the figures and what to do.

The inputs can each follow the contract and still give a design no estimator can use: one
response level, a handful of respondents, all respondents in one buurt (buurt-clustered
standard errors need several), survey weights whose sums overflow, indicators that are exact
copies or combinations of each other at the respondents' cells, or a base year without
households to anchor the classes on. Each is a :class:`DesignError` (exit 2) raised before the
fit, so nothing is written, and a fit that still yields a non-finite weight or standard error is
refused the same way (:func:`check_fit_is_finite`): no NaN reaches a frozen model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lbm_model.errors import ContractError

# Respondents per estimated coefficient below which weights are not estimated but guessed.
MIN_RESPONDENTS_PER_PARAMETER = 5
# Survey weights: each within these bounds and at most this many times the smallest.
WEIGHT_BOUNDS = (1e-100, 1e100)
MAX_WEIGHT_RATIO = 1e12
# An eigenvalue of the indicators' correlation matrix below this (relative to the largest) is an exact dependence.
SINGULAR = 1e-10


class DesignError(ContractError):
    """Inputs that pass the per-column contract but give an estimation design no model can be fitted on."""


def check_weights(weights: np.ndarray, file: str) -> None:
    """Survey weights whose sums neither overflow nor underflow, and not absurdly unequal."""
    low, high = float(weights.min()), float(weights.max())
    if low < WEIGHT_BOUNDS[0] or high > WEIGHT_BOUNDS[1] or not np.isfinite(weights.sum()):
        raise DesignError(f"{file}: column 'weight': survey weights between {low:.3g} and {high:.3g}; their sums "
                          f"overflow or underflow the arithmetic. Expected weights between {WEIGHT_BOUNDS[0]:g} and "
                          f"{WEIGHT_BOUNDS[1]:g}: rescale them (e.g. divide by their mean; only their ratios matter).")
    if high / low > MAX_WEIGHT_RATIO:
        raise DesignError(f"{file}: column 'weight': the largest survey weight ({high:.3g}) is {high / low:.3g} times the "
                          f"smallest ({low:.3g}); expected at most {MAX_WEIGHT_RATIO:g} times (check the weights' units; "
                          "trim extreme weights before estimation).")


def check_design(indicators: pd.DataFrame, controls: pd.DataFrame, response: np.ndarray, weight: np.ndarray,
                 cluster: np.ndarray, file: str) -> None:
    """Refuse a design with one response level, too few respondents or buurten, or dependent indicators."""
    levels = np.unique(response)
    if len(levels) < 2:
        raise DesignError(f"{file}: column 'response': every respondent answered {int(levels[0])}; expected at least two "
                          "different responses (the weights explain differences in judgement; there are none).")
    n, parameters = len(response), indicators.shape[1] + controls.shape[1] + len(levels) - 1
    if n < MIN_RESPONDENTS_PER_PARAMETER * parameters:
        raise DesignError(f"{file}: {n} respondents for {parameters} coefficients ({indicators.shape[1]} indicators, "
                          f"{controls.shape[1]} control columns, {len(levels) - 1} thresholds); expected at least "
                          f"{MIN_RESPONDENTS_PER_PARAMETER} respondents per coefficient ({MIN_RESPONDENTS_PER_PARAMETER * parameters}). "
                          "Pool more survey waves or exclude indicators (indicators.exclude=[...]).")
    buurten = len(np.unique(cluster))
    if buurten < 2:
        raise DesignError(f"{file}: all {n} respondents live in one buurt ({cluster[0]}); standard errors clustered by "
                          "buurt need respondents in several buurten, and one buurt cannot separate place from "
                          "neighbourhood. Expected a survey spread over many buurten.")
    check_weights(weight, file)
    check_independent_indicators(indicators, weight)


def check_market_design(indicators: pd.DataFrame, controls: pd.DataFrame, cluster: np.ndarray, file: str) -> None:
    """The behaviour model's design: enough transactions per coefficient, several buurten, independent indicators."""
    n, parameters = len(cluster), 1 + indicators.shape[1] + controls.shape[1]
    if n < MIN_RESPONDENTS_PER_PARAMETER * parameters:
        raise DesignError(f"{file}: {n} transactions for {parameters} coefficients ({indicators.shape[1]} indicators, "
                          f"{controls.shape[1]} control and year columns, an intercept); expected at least "
                          f"{MIN_RESPONDENTS_PER_PARAMETER} transactions per coefficient "
                          f"({MIN_RESPONDENTS_PER_PARAMETER * parameters}). Add sales years or exclude indicators "
                          "(indicators.exclude=[...]).")
    if len(np.unique(cluster)) < 2:
        raise DesignError(f"{file}: all {n} transactions lie in one buurt ({cluster[0]}); standard errors clustered by "
                          "buurt need sales in several buurten. Expected transactions spread over many buurten.")
    check_independent_indicators(indicators, np.ones(n))


def check_independent_indicators(indicators: pd.DataFrame, weight: np.ndarray) -> None:
    """No indicator is an exact linear combination of others at the respondents' cells (VIF infinite)."""
    X = indicators.to_numpy(float)
    sd = np.sqrt(np.average((X - np.average(X, axis=0, weights=weight)) ** 2, axis=0, weights=weight))
    flat = [name for name, s in zip(indicators.columns, sd) if not s > 0]
    if flat:
        raise DesignError(f"indicator(s) {', '.join(flat)} take one value at every respondent's cell; their weights "
                          f"cannot be estimated. Exclude them (indicators.exclude=[{', '.join(flat)}]).")
    centred = (X - np.average(X, axis=0, weights=weight)) / sd
    corr = centred.T @ (centred * weight[:, None]) / weight.sum()
    eigval, eigvec = np.linalg.eigh(corr)
    null = eigval <= SINGULAR * eigval.max()
    if not null.any():
        return
    loading = np.abs(eigvec[:, null]).max(axis=1)
    involved = [name for name, x in zip(indicators.columns, loading) if x > 1e-6]
    pairs = [(a, b, corr[i, j]) for i, a in enumerate(indicators.columns) for j, b in enumerate(indicators.columns)
             if i < j and a in involved and b in involved and abs(corr[i, j]) > 0.999]
    shown = "; ".join(f"{a} and {b} correlate {r:.6f}" for a, b, r in pairs[:5])
    raise DesignError(f"indicators {', '.join(involved)} are exactly collinear at the respondents' cells (variance "
                      f"inflation factor infinite; smallest eigenvalue of their correlation matrix "
                      f"{eigval.min():.2e}" + (f"; {shown}" if shown else "") + "): their separate weights cannot be "
                      f"estimated. Exclude all but one (indicators.exclude=[{', '.join(involved[1:])}]) or fix the "
                      "cells table if a column was copied by mistake.")


def check_fit_is_finite(weights: pd.Series, standard_errors: pd.Series | None, respondents: int, buurten: int) -> None:
    """A fit whose weights or standard errors are not finite numbers is refused (nothing is frozen)."""
    bad = [name for name, w in weights.items() if not np.isfinite(w)]
    kind = "weights"
    if not bad and standard_errors is not None:
        bad, kind = [name for name, s in standard_errors.items() if not np.isfinite(s)], "standard errors"
    if bad:
        raise DesignError(f"the fit gave non-finite {kind} for {', '.join(map(str, bad))} ({respondents} respondents in "
                          f"{buurten} buurten); the design cannot support these indicators. Nothing was frozen. Use "
                          "more respondents and buurten, or fewer indicators (indicators.exclude=[...]).")


def check_base_year_households(cells: pd.DataFrame, base_year: int, file: str) -> None:
    """The classes are anchored on the base year's households: it must have some."""
    households = int(cells.loc[cells["year"] == base_year, "households"].sum())
    if households <= 0:
        held = cells[cells["households"] > 0].groupby("year")["households"].sum()
        raise DesignError(f"{file}: column 'households': the base year {base_year} has no households, so the classes "
                          f"cannot be anchored on it; years with households: "
                          f"{', '.join(map(str, held.index)) or 'none'} (override classes.base_year=YEAR).")
