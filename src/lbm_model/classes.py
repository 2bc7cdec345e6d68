"""The nine published LBM classes and the rule that fixes their thresholds.

Thresholds are set once, when a model is frozen, and stored in the frozen model;
scoring only looks them up. Scores are on the judgement scale (see docs/scoring.md):
a deviation, in expected judgement points on the 1..5 scale, from the reference level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASS_LABELS: tuple[str, ...] = (
    "zeer onvoldoende",
    "ruim onvoldoende",
    "onvoldoende",
    "zwak",
    "voldoende",
    "ruim voldoende",
    "goed",
    "zeer goed",
    "uitstekend",
)
N_CLASSES = len(CLASS_LABELS)


@dataclass
class ThresholdRule:
    """Fixed-width classes anchored on the household-weighted scores of a base year.

    The eight thresholds are equally spaced, ``width`` apart. The width is either
    absolute (``width``, in score units) or relative to the base year's
    household-weighted standard deviation of cell scores (``width_sd``). The base
    year's household-weighted median is placed ``anchor_fraction`` of the way into
    class ``anchor_class`` (1..9).
    """

    base_year: int
    anchor_class: int = 6
    anchor_fraction: float = 0.309
    width_sd: float | None = 0.758
    width: float | None = None
    name: str = "fixed_width_anchored"

    def __post_init__(self) -> None:
        if (self.width is None) == (self.width_sd is None):
            raise ValueError("threshold rule needs exactly one of width or width_sd")
        if any(v is not None and not v > 0 for v in (self.width, self.width_sd)):
            raise ValueError(f"width={self.width}, width_sd={self.width_sd}: the one given must be a positive number")
        if not 2 <= self.anchor_class <= N_CLASSES - 1:
            raise ValueError("anchor_class must be an inner class (2..8)")
        if not 0.0 <= self.anchor_fraction < 1.0:
            raise ValueError("anchor_fraction must lie in [0, 1)")


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Quantile ``q`` of ``values`` under ``weights`` (inverted empirical CDF, midpoint rule)."""
    order = np.argsort(values, kind="stable")
    v, w = np.asarray(values, float)[order], np.asarray(weights, float)[order]
    cum = np.cumsum(w) - 0.5 * w
    return float(np.interp(q * w.sum(), cum, v))


def weighted_std(values: np.ndarray, weights: np.ndarray) -> float:
    """Weighted population standard deviation."""
    mean = np.average(values, weights=weights)
    return float(np.sqrt(np.average((values - mean) ** 2, weights=weights)))


def fix_thresholds(scores: np.ndarray, households: np.ndarray, rule: ThresholdRule) -> np.ndarray:
    """Eight increasing class thresholds from one base year's cell scores.

    ``scores`` and ``households`` are the base year's cells; cells without
    households carry no weight.
    """
    scores = np.asarray(scores, float)
    households = np.asarray(households, float)
    if households.sum() <= 0:
        raise ValueError("the base year has no households to anchor the classes on")
    width = rule.width if rule.width is not None else rule.width_sd * weighted_std(scores, households)
    if not width > 0:
        raise ValueError("class width must be positive; the base-year scores have no spread")
    median = weighted_quantile(scores, households, 0.5)
    lower_bound_of_anchor = median - rule.anchor_fraction * width
    # threshold k (1..8) separates class k from class k+1; the anchor class starts at threshold anchor_class-1
    k = np.arange(1, N_CLASSES)
    return lower_bound_of_anchor + (k - (rule.anchor_class - 1)) * width


def assign_classes(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Class 1..9 for every score: class k holds thresholds[k-2] <= score < thresholds[k-1]."""
    return np.searchsorted(np.asarray(thresholds, float), np.asarray(scores, float), side="right") + 1


def class_shares(classes: np.ndarray, households: np.ndarray) -> np.ndarray:
    """Household share in each of the nine classes (index 0 = class 1)."""
    totals = np.bincount(np.asarray(classes) - 1, weights=np.asarray(households, float), minlength=N_CLASSES)
    return totals / totals.sum()
