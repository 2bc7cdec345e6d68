"""Production scoring with a frozen model: cell scores, dimension scores, classes, area aggregates.

This module and everything it imports stay free of the training stack (no statsmodels,
scikit-learn, pymc, mlflow or hydra); tests/test_scoring.py checks that.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lbm_model.catalog import Catalog, Indicator
from lbm_model.classes import CLASS_LABELS, N_CLASSES, assign_classes
from lbm_model.contract import validate_cells
from lbm_model.dimensions import AREA_LEVELS, DIMENSION_KEYS
from lbm_model.disclosure import DEFAULT_MIN_HOUSEHOLDS, protect
from lbm_model.errors import ContractError, ContractWarning
from lbm_model.frozen import read_frozen_model
from lbm_model.transforms import transform_values

CELL_OUTPUT_COLUMNS: tuple[str, ...] = ("cell_id", "year", "score", *DIMENSION_KEYS, "class", "class_label")


@dataclass(frozen=True)
class CompiledScorer:
    """A frozen model folded into arrays: contribution = slope * transform(x) + offset."""

    names: tuple[str, ...]
    transforms: tuple[str, ...]
    dimension_index: np.ndarray   # per indicator, position in DIMENSION_KEYS
    slope: np.ndarray             # weight / sd
    offset: np.ndarray            # -weight * mean / sd
    train_min: np.ndarray
    train_max: np.ndarray
    thresholds: np.ndarray
    content_sha256: str

    @classmethod
    def from_document(cls, document: dict) -> "CompiledScorer":
        entries = document["content"]["indicators"]
        weight = np.array([e["weight"] for e in entries], float)
        mean = np.array([e["mean"] for e in entries], float)
        sd = np.array([e["sd"] for e in entries], float)
        return cls(
            names=tuple(e["name"] for e in entries),
            transforms=tuple(e["transform"] for e in entries),
            dimension_index=np.array([DIMENSION_KEYS.index(e["dimension"]) for e in entries]),
            slope=weight / sd,
            offset=-weight * mean / sd,
            train_min=np.array([e["train_min"] for e in entries], float),
            train_max=np.array([e["train_max"] for e in entries], float),
            thresholds=np.array(document["content"]["classes"]["thresholds"], float),
            content_sha256=document["content_sha256"],
        )

    @classmethod
    def load(cls, path: str | Path) -> "CompiledScorer":
        """Read, verify and compile a frozen model (directory or model.json)."""
        return cls.from_document(read_frozen_model(path))

    def catalog(self) -> Catalog:
        return Catalog(indicators=tuple(Indicator(name=n, dimension=DIMENSION_KEYS[d], transform=t)
                                        for n, d, t in zip(self.names, self.dimension_index, self.transforms)))

    def dimension_scores(self, cells: pd.DataFrame) -> np.ndarray:
        """Per cell and dimension, the summed contributions (cells x 5)."""
        out = np.zeros((len(cells), len(DIMENSION_KEYS)))
        for i, name in enumerate(self.names):
            contribution = self.slope[i] * transform_values(cells[name].to_numpy(), self.transforms[i]) + self.offset[i]
            out[:, self.dimension_index[i]] += contribution
        return out

    def out_of_range_counts(self, cells: pd.DataFrame) -> dict[str, int]:
        """Per indicator, how many cells lie outside the training range."""
        counts = {}
        for i, name in enumerate(self.names):
            values = cells[name].to_numpy(float)
            n = int(((values < self.train_min[i]) | (values > self.train_max[i])).sum())
            if n:
                counts[name] = n
        return counts

    def score(self, cells: pd.DataFrame) -> pd.DataFrame:
        """One row per input cell: cell_id, year, score, the five dimensions, class, class_label."""
        dims = self.dimension_scores(cells)
        total = dims.sum(axis=1)
        classes = assign_classes(total, self.thresholds)
        frame = pd.DataFrame({"cell_id": cells["cell_id"].to_numpy(), "year": cells["year"].to_numpy(np.int64),
                              "score": total})
        for j, key in enumerate(DIMENSION_KEYS):
            frame[key] = dims[:, j]
        frame["class"] = classes.astype(np.int64)
        frame["class_label"] = np.asarray(CLASS_LABELS, dtype=object)[classes - 1]
        return frame


def select_years(cells: pd.DataFrame, years: list[int] | None, file: str) -> pd.DataFrame:
    """Keep the requested years; refuse a year the cells table does not have."""
    if not years:
        return cells
    missing = sorted(set(years) - set(cells["year"].unique().tolist()))
    if missing:
        raise ContractError(f"{file}: column 'year': no cells for year(s) {', '.join(map(str, missing))}; "
                            f"expected one of {', '.join(map(str, sorted(cells['year'].unique())))}.")
    return cells[cells["year"].isin(years)].reset_index(drop=True)


def score_cells(scorer: CompiledScorer, cells: pd.DataFrame, file: str, years: list[int] | None = None) -> pd.DataFrame:
    """Validate the cells for this model, warn about out-of-range values, and score them."""
    cells = validate_cells(cells, scorer.catalog(), file, indicators=list(scorer.names))
    cells = select_years(cells, years, file)
    outside = scorer.out_of_range_counts(cells)
    if outside:
        listing = ", ".join(f"{name}: {n}" for name, n in sorted(outside.items()))
        warnings.warn(f"{file}: values outside the model's training range (cells per indicator): {listing}.",
                      ContractWarning, stacklevel=2)
    scores = scorer.score(cells)
    scores["households"] = cells["households"].to_numpy()
    for level in AREA_LEVELS:
        scores[f"{level}_code"] = cells[f"{level}_code"].to_numpy()
    return scores


def area_figures(scores: pd.DataFrame, level: str) -> pd.DataFrame:
    """Household-weighted area scores and households per class, nothing suppressed (not for publication)."""
    if level not in AREA_LEVELS:
        raise ValueError(f"unknown area level {level!r}; expected one of {', '.join(AREA_LEVELS)}")
    key = f"{level}_code"
    weighted = scores[["score", *DIMENSION_KEYS]].mul(scores["households"], axis=0)
    weighted[[key, "year"]] = scores[[key, "year"]]
    weighted["households"] = scores["households"]
    grouped = weighted.groupby([key, "year"], sort=True)
    sums = grouped.sum()
    out = sums[["households"]].copy()
    out["cells"] = grouped.size()
    with np.errstate(invalid="ignore", divide="ignore"):
        for column in ["score", *DIMENSION_KEYS]:
            out[column] = sums[column] / sums["households"]
    per_class = (scores.assign(_c=scores["class"]).pivot_table(index=[key, "year"], columns="_c", values="households",
                                                              aggfunc="sum", fill_value=0)
                 .reindex(columns=range(1, N_CLASSES + 1), fill_value=0))
    for c in range(1, N_CLASSES + 1):
        out[f"households_class_{c}"] = per_class[c].reindex(out.index).to_numpy(np.int64)
    return out.reset_index()


AREA_FIGURES: tuple[str, ...] = ("score", *DIMENSION_KEYS, *(f"households_class_{c}" for c in range(1, N_CLASSES + 1)))


def aggregate_all(scores: pd.DataFrame, levels: list[str] | tuple[str, ...] = AREA_LEVELS,
                  min_households: int = DEFAULT_MIN_HOUSEHOLDS, complementary: bool = True) -> dict[str, pd.DataFrame]:
    """Area tables for ``levels``, protected together: primary suppression below ``min_households``
    and complementary suppression over buurt, wijk and gemeente (lbm_model/disclosure.py).

    The suppression pattern is always computed on all three levels, so the tables of one level
    cannot be combined with another level's (from a later call) to undo it. Suppressed areas keep
    their households and cells but get no score, dimension scores or per-class households
    (``suppressed`` = True, ``suppression`` = 'primary' or 'complementary').
    """
    unknown = [lvl for lvl in levels if lvl not in AREA_LEVELS]
    if unknown:
        raise ValueError(f"unknown area level(s) {', '.join(unknown)}; expected from {', '.join(AREA_LEVELS)}")
    frames = {lvl: area_figures(scores, lvl) for lvl in AREA_LEVELS}
    codes = scores[["year", *(f"{lvl}_code" for lvl in AREA_LEVELS)]]
    protected = protect(frames, codes, list(AREA_FIGURES), min_households, complementary)
    return {lvl: protected[lvl] for lvl in levels}


def aggregate_areas(scores: pd.DataFrame, level: str, min_households: int = DEFAULT_MIN_HOUSEHOLDS) -> pd.DataFrame:
    """One level's protected area table (see :func:`aggregate_all`)."""
    if level not in AREA_LEVELS:
        raise ValueError(f"unknown area level {level!r}; expected one of {', '.join(AREA_LEVELS)}")
    return aggregate_all(scores, (level,), min_households)[level]
