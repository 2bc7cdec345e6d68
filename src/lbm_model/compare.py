"""What replacing one frozen model by another changes for households: class transitions.

Both models score the same cells of one year; the transition matrix counts households by old
class (rows 1..9) and new class (columns 1..9). Promotion gates (registry.py) read the share of
households that change class; version comparison reports build on the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lbm_model.classes import N_CLASSES
from lbm_model.scoring import CompiledScorer, score_cells, select_years


@dataclass(frozen=True, eq=False)
class ClassTransitions:
    """Households by old and new class (9 x 9) in one year, and the score correlation."""

    year: int
    households: np.ndarray        # [old class - 1, new class - 1]
    score_correlation: float

    @property
    def total_households(self) -> float:
        return float(self.households.sum())

    @property
    def share_changed(self) -> float:
        """Share of households whose class differs between the two models."""
        total = self.total_households
        return float((total - np.trace(self.households)) / total) if total > 0 else 0.0

    def table(self) -> pd.DataFrame:
        labels = [f"class_{c}" for c in range(1, N_CLASSES + 1)]
        return pd.DataFrame(self.households, index=pd.Index(labels, name="old"), columns=labels)


def class_transitions(old: CompiledScorer, new: CompiledScorer, cells: pd.DataFrame, year: int,
                      file: str = "cells") -> ClassTransitions:
    """Score ``cells`` of ``year`` with both models and count households per (old, new) class."""
    cells = select_years(cells, [year], file)
    before, after = score_cells(old, cells, file), score_cells(new, cells, file)
    households = before["households"].to_numpy(float)
    index = (before["class"].to_numpy() - 1) * N_CLASSES + (after["class"].to_numpy() - 1)
    matrix = np.bincount(index, weights=households, minlength=N_CLASSES * N_CLASSES).reshape(N_CLASSES, N_CLASSES)
    weighted = households > 0
    correlation = float(np.corrcoef(before["score"][weighted], after["score"][weighted])[0, 1]) if weighted.sum() > 1 \
        else float("nan")
    return ClassTransitions(int(year), matrix, correlation)
