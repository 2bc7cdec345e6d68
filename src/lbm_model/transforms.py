"""Indicator transforms and standardisation: shared by fitting, the synthetic world and scoring.

Kept free of training libraries so that the production scorer can import it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def transform_values(values: np.ndarray, transform: str) -> np.ndarray:
    """Apply a catalog transform (``none``, ``log1p`` or ``sqrt``) to raw indicator values."""
    values = np.asarray(values, dtype=float)
    if transform == "none":
        return values
    if transform == "log1p":
        return np.log1p(values)
    if transform == "sqrt":
        return np.sqrt(values)
    raise ValueError(f"unknown transform {transform!r}; expected one of none, log1p, sqrt")


def transform_domain_ok(values: np.ndarray, transform: str) -> np.ndarray:
    """Boolean mask of values the transform is defined for."""
    values = np.asarray(values, dtype=float)
    if transform == "log1p":
        return values > -1.0
    if transform == "sqrt":
        return values >= 0.0
    return np.ones(values.shape, dtype=bool)


@dataclass(frozen=True)
class Standardisation:
    """Centre and scale of one transformed indicator (population sd, ddof=0)."""

    mean: float
    sd: float

    def apply(self, transformed: np.ndarray) -> np.ndarray:
        return (np.asarray(transformed, float) - self.mean) / self.sd


def fit_standardisation(transformed: np.ndarray) -> Standardisation:
    """Standardisation constants over all given cell-year rows (unweighted)."""
    transformed = np.asarray(transformed, float)
    sd = float(transformed.std())
    if not sd > 0 or transformed.min() == transformed.max():  # a constant's sd can round to ~1e-17, not 0
        raise ValueError("indicator has no variation; it cannot be standardised")
    return Standardisation(mean=float(transformed.mean()), sd=sd)
