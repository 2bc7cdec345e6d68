"""Scores with the true weights, class shares per year and group, and planted-structure diagnostics.

Scoring follows the estimation code exactly: transform each indicator (transforms.py),
standardise it over all cell-year rows (unweighted mean, population sd), and sum
weight times standardised value over the allowed indicators; composition never enters.
Class thresholds come from classes.py with the base year's scores and households.
"""

from __future__ import annotations

import numpy as np

from lbm_model.classes import ThresholdRule, assign_classes, class_shares, fix_thresholds, weighted_std
from lbm_model.transforms import Standardisation, fit_standardisation, transform_values
from lbm_model.world.indicators import IndicatorSpec, raw_values

GROUPS = ("G4", "G40", "rest")
SUMMARIES = {"onvoldoende_or_lower": (1, 3), "zwak_or_lower": (1, 4), "goed_or_better": (7, 9), "zeer_goed_or_better": (8, 9)}


def fit_all_standardisations(values: dict[int, np.ndarray], specs: list[IndicatorSpec]) -> dict[str, Standardisation]:
    """Standardisation of every transformed indicator over all cell-year rows (years in file order)."""
    years = sorted(values)
    return {
        spec.name: fit_standardisation(transform_values(np.concatenate([values[y][i] for y in years]), spec.transform))
        for i, spec in enumerate(specs)
    }


def standardised(values: np.ndarray, specs: list[IndicatorSpec], std: dict[str, Standardisation], i: int) -> np.ndarray:
    """The standardised transformed values of indicator ``i`` for one year's matrix."""
    return std[specs[i].name].apply(transform_values(values[i], specs[i].transform))


def linear_term(values: np.ndarray, specs: list[IndicatorSpec], std: dict[str, Standardisation], coef: dict[str, float]) -> np.ndarray:
    """Sum of coefficient times standardised value, over the indicators named in ``coef``."""
    total = np.zeros(values.shape[1])
    for i, spec in enumerate(specs):
        if spec.name in coef:
            total += coef[spec.name] * standardised(values, specs, std, i)
    return total


def summarise(classes: np.ndarray, households: np.ndarray) -> dict:
    """Nine class shares and the published summary shares."""
    shares = class_shares(classes, households)
    out = {"shares": [float(s) for s in shares]}
    for key, (lo, hi) in SUMMARIES.items():
        out[key] = float(shares[lo - 1 : hi].sum())
    return out


def class_calibration(scores: dict[int, np.ndarray], households: dict[int, np.ndarray], group: np.ndarray, base_year: int) -> dict:
    """Thresholds from the base year and household shares per class, year and municipality group."""
    rule = ThresholdRule(base_year=base_year)
    thresholds = fix_thresholds(scores[base_year], households[base_year], rule)
    by_year = {}
    for year in sorted(scores):
        classes = assign_classes(scores[year], thresholds)
        entry = {"national": summarise(classes, households[year])}
        for g in GROUPS:
            mask = group == g
            entry[g] = summarise(classes[mask], households[year][mask])
        by_year[str(year)] = entry
    return {
        "thresholds": [float(t) for t in thresholds],
        "rule": {"name": rule.name, "base_year": base_year, "anchor_class": rule.anchor_class,
                 "anchor_fraction": rule.anchor_fraction, "width_sd": rule.width_sd},
        "years": by_year,
    }


def drift_scale(base: np.ndarray, specs: list[IndicatorSpec], households: np.ndarray, target_sd_per_year: float) -> float:
    """Multiplier on the catalogue's relative trends so the score's household mean rises as targeted.

    Linearises the score around the base-year latents: each indicator's household-weighted
    derivative of its standardised transformed value, times weight and trend.
    """
    step, per_unit = 0.05, 0.0
    score = np.zeros(base.shape[1])
    for i, spec in enumerate(specs):
        if spec.stigmatising:
            continue
        now = transform_values(raw_values(base[i], spec), spec.transform)
        after = transform_values(raw_values(base[i] + np.float32(step), spec), spec.transform)
        sd = now.std()
        score += spec.weight * (now - now.mean()) / sd
        per_unit += spec.weight * spec.trend * np.average((after - now) / step, weights=households) / sd
    return float(target_sd_per_year * weighted_std(score, households) / per_unit)


def composition_r2(values: dict[int, np.ndarray], specs: list[IndicatorSpec], std: dict[str, Standardisation]) -> dict[str, float]:
    """R-squared of every allowed indicator regressed (OLS, intercept) on all composition columns, all rows."""
    years = sorted(values)
    comp = [i for i, s in enumerate(specs) if s.stigmatising]
    x = np.column_stack([np.ones(sum(values[y].shape[1] for y in years))] +
                        [np.concatenate([standardised(values[y], specs, std, i) for y in years]) for i in comp])
    xtx_inv = np.linalg.inv(x.T @ x)
    out = {}
    for i, spec in enumerate(specs):
        if spec.stigmatising:
            continue
        z = np.concatenate([standardised(values[y], specs, std, i) for y in years])
        beta = xtx_inv @ (x.T @ z)
        resid = z - x @ beta
        out[spec.name] = float(1.0 - resid @ resid / ((z - z.mean()) @ (z - z.mean())))
    return out


def variance_inflation(values: dict[int, np.ndarray], specs: list[IndicatorSpec], std: dict[str, Standardisation]) -> dict[str, float]:
    """Variance inflation factor of every allowed indicator among the allowed indicators (all rows)."""
    allowed = [i for i, s in enumerate(specs) if not s.stigmatising]
    gram = np.zeros((len(allowed), len(allowed)))
    n = 0
    for y in sorted(values):
        z = np.stack([standardised(values[y], specs, std, i) for i in allowed])
        gram += z @ z.T
        n += z.shape[1]
    vif = np.diag(np.linalg.inv(gram / n))
    return {specs[i].name: float(v) for i, v in zip(allowed, vif)}
