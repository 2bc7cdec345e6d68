"""What replacing one frozen model by another changes for households and areas.

Both models score the same cells of one year; a transition matrix counts households by old class
(rows 1..9) and new class (columns 1..9). Promotion gates (registry.py) read the share of
households that change class; ``lbm compare`` (:func:`compare_models`) adds the same matrix for
published buurten, wijken and gemeenten (area classes from the area scores, areas suppressed as
``lbm score`` suppresses them), households per class under each model, the largest movers among
published areas with the dimension that drove the move, and the shift of each dimension.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lbm_model.classes import CLASS_LABELS, N_CLASSES, assign_classes
from lbm_model.dimensions import AREA_LEVELS, DIMENSION_KEYS
from lbm_model.scoring import DEFAULT_MIN_HOUSEHOLDS, CompiledScorer, aggregate_all, score_cells, select_years


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


def transitions(year: int, old_class: np.ndarray, new_class: np.ndarray, households: np.ndarray,
                old_score: np.ndarray, new_score: np.ndarray) -> ClassTransitions:
    """Households by (old, new) class, and the correlation of the scores of units with households."""
    households = np.asarray(households, float)
    index = (np.asarray(old_class) - 1) * N_CLASSES + (np.asarray(new_class) - 1)
    matrix = np.bincount(index, weights=households, minlength=N_CLASSES * N_CLASSES).reshape(N_CLASSES, N_CLASSES)
    weighted = households > 0
    correlation = float(np.corrcoef(np.asarray(old_score)[weighted], np.asarray(new_score)[weighted])[0, 1]) \
        if weighted.sum() > 1 else float("nan")
    return ClassTransitions(int(year), matrix, correlation)


def class_transitions(old: CompiledScorer, new: CompiledScorer, cells: pd.DataFrame, year: int,
                      file: str = "cells") -> ClassTransitions:
    """Score ``cells`` of ``year`` with both models and count households per (old, new) class."""
    cells = select_years(cells, [year], file)
    before, after = score_cells(old, cells, file), score_cells(new, cells, file)
    return transitions(year, before["class"].to_numpy(), after["class"].to_numpy(), before["households"].to_numpy(),
                       before["score"].to_numpy(), after["score"].to_numpy())


@dataclass(frozen=True, eq=False)
class VersionComparison:
    """Everything ``lbm compare`` reports about replacing ``old`` by ``new`` in one year."""

    year: int
    old_version: str
    new_version: str
    levels: dict[str, ClassTransitions]        # "cell" and each published area level
    shares: pd.DataFrame                       # households and shares per class under each model (cells)
    movers: dict[str, pd.DataFrame]            # per area level: the largest risers and fallers (published areas)
    dimension_shifts: pd.DataFrame             # household-weighted mean of each dimension under each model
    cell_classes: pd.DataFrame                 # per cell: x, y, buurt_code, households, class_old, class_new (not published)
    published_buurten: frozenset[str]          # buurten lbm score publishes in this year (the same under both models)
    min_households: int = DEFAULT_MIN_HOUSEHOLDS

    def summary(self) -> dict:
        return {"year": self.year, "old_model": self.old_version, "new_model": self.new_version,
                "min_households": self.min_households,
                "levels": {level: {"units_weighted_by": "households", "households": t.total_households,
                                   "share_changing_class": t.share_changed, "score_correlation": t.score_correlation}
                           for level, t in self.levels.items()},
                "shares": self.shares.to_dict(orient="records"),
                "dimension_shifts": self.dimension_shifts.to_dict(orient="records")}


def _area_frame(old_tables: dict, new_tables: dict, level: str, old: CompiledScorer, new: CompiledScorer) -> pd.DataFrame:
    """Published areas of one level under both models (the suppression pattern depends on households only,
    so it is the same under both), with each model's area class."""
    key = f"{level}_code"
    columns = [key, "households", "score", *DIMENSION_KEYS]
    before = old_tables[level].loc[lambda t: ~t["suppressed"], columns]
    after = new_tables[level].loc[lambda t: ~t["suppressed"], [key, "score", *DIMENSION_KEYS]]
    merged = before.merge(after, on=key, suffixes=("_old", "_new"), validate="one_to_one")
    merged["class_old"] = assign_classes(merged["score_old"].to_numpy(), old.thresholds)
    merged["class_new"] = assign_classes(merged["score_new"].to_numpy(), new.thresholds)
    return merged


def driving_dimension(frame: pd.DataFrame) -> pd.Series:
    """Per row of a frame with ``<dim>_old``/``<dim>_new`` and ``score_old``/``score_new``: the dimension whose
    score moved most in the direction of the total change."""
    change = frame["score_new"] - frame["score_old"]
    dims = pd.DataFrame({d: frame[f"{d}_new"] - frame[f"{d}_old"] for d in DIMENSION_KEYS}, index=frame.index)
    return dims.mul(np.sign(change), axis=0).idxmax(axis=1)


def largest_movers(areas: pd.DataFrame, level: str, n: int) -> pd.DataFrame:
    """The ``n`` largest rises and ``n`` largest falls in area score, with the dimension that moved most in
    the direction of the total change."""
    change = areas["score_new"] - areas["score_old"]
    out = pd.DataFrame({f"{level}_code": areas[f"{level}_code"], "households": areas["households"],
                        "score_old": areas["score_old"], "score_new": areas["score_new"], "change": change,
                        "class_old": areas["class_old"], "class_new": areas["class_new"],
                        "driving_dimension": driving_dimension(areas)})
    ordered = out.sort_values(["change", f"{level}_code"], kind="mergesort")
    falls, rises = ordered.head(n), ordered[ordered["change"] > 0].tail(n).iloc[::-1]
    return pd.concat([rises.assign(direction="rise"), falls[falls["change"] < 0].assign(direction="fall")],
                     ignore_index=True)


def compare_models(old_document: dict, new_document: dict, cells: pd.DataFrame, year: int, *, file: str = "cells",
                   min_households: int = DEFAULT_MIN_HOUSEHOLDS, n_movers: int = 20) -> VersionComparison:
    """Score ``cells`` of ``year`` with both frozen models and compare them at cell and area level."""
    old, new = CompiledScorer.from_document(old_document), CompiledScorer.from_document(new_document)
    cells = select_years(cells, [year], file)
    before, after = score_cells(old, cells, file), score_cells(new, cells, file)
    households = before["households"].to_numpy(float)
    levels = {"cell": transitions(year, before["class"].to_numpy(), after["class"].to_numpy(), households,
                                  before["score"].to_numpy(), after["score"].to_numpy())}
    old_tables, new_tables = aggregate_all(before, min_households=min_households), aggregate_all(after, min_households=min_households)
    movers = {}
    for level in AREA_LEVELS:
        areas = _area_frame(old_tables, new_tables, level, old, new)
        levels[level] = transitions(year, areas["class_old"].to_numpy(), areas["class_new"].to_numpy(),
                                    areas["households"].to_numpy(), areas["score_old"].to_numpy(),
                                    areas["score_new"].to_numpy())
        movers[level] = largest_movers(areas, level, n_movers)
    cell_table = levels["cell"].households
    shares = pd.DataFrame({"class": range(1, N_CLASSES + 1), "label": CLASS_LABELS,
                           "households_old": cell_table.sum(axis=1), "households_new": cell_table.sum(axis=0)})
    total = households.sum()
    shares["share_old"], shares["share_new"] = shares["households_old"] / total, shares["households_new"] / total
    dimension_shifts = pd.DataFrame({
        "dimension": list(DIMENSION_KEYS),
        "mean_old": [float(np.average(before[d], weights=households)) for d in DIMENSION_KEYS],
        "mean_new": [float(np.average(after[d], weights=households)) for d in DIMENSION_KEYS]})
    dimension_shifts["change"] = dimension_shifts["mean_new"] - dimension_shifts["mean_old"]
    where = before[["cell_id"]].merge(cells[["cell_id", "x", "y"]], on="cell_id", how="left", validate="one_to_one")
    cell_classes = pd.DataFrame({"x": where["x"].to_numpy(float), "y": where["y"].to_numpy(float),
                                 "buurt_code": before["buurt_code"].astype(str).to_numpy(), "households": households,
                                 "class_old": before["class"].to_numpy(), "class_new": after["class"].to_numpy()})
    published = frozenset(old_tables["buurt"].loc[~old_tables["buurt"]["suppressed"], "buurt_code"].astype(str))
    return VersionComparison(int(year), old_document["content"]["model_version"],
                             new_document["content"]["model_version"], levels, shares, movers, dimension_shifts,
                             cell_classes, published, min_households)


@dataclass(frozen=True, eq=False)
class Development:
    """One frozen model's scores of two years side by side (a consistent series: back-casting with one model):
    per cell and per published area the change in score, split by dimension, and the dimension that drove it."""

    model_version: str
    year_from: int
    year_to: int
    cells: pd.DataFrame
    areas: dict[str, pd.DataFrame]

    def summary(self) -> dict:
        def moved(frame: pd.DataFrame) -> dict:
            return {"units": int(len(frame)), "mean_change": float(frame["change"].mean()) if len(frame) else None,
                    "driving_dimension_counts": {k: int(v) for k, v in frame["driving_dimension"].value_counts().items()}}

        return {"model": self.model_version, "year_from": self.year_from, "year_to": self.year_to,
                "cell": moved(self.cells), **{level: moved(frame) for level, frame in self.areas.items()}}


def _as_development(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Old/new columns renamed to from/to, with the change per dimension and the driving dimension."""
    out = pd.DataFrame({key: frame[key], "score_from": frame["score_old"], "score_to": frame["score_new"],
                        "change": frame["score_new"] - frame["score_old"]})
    for d in DIMENSION_KEYS:
        out[f"change_{d}"] = frame[f"{d}_new"] - frame[f"{d}_old"]
    out["driving_dimension"] = driving_dimension(frame)
    if "class_old" in frame:
        out["class_from"], out["class_to"], out["households"] = frame["class_old"], frame["class_new"], frame["households"]
    return out.sort_values("change", kind="mergesort").reset_index(drop=True)


def develop_model(document: dict, cells: pd.DataFrame, year_from: int, year_to: int, *, file: str = "cells",
                  min_households: int = DEFAULT_MIN_HOUSEHOLDS) -> Development:
    """Score ``year_from`` and ``year_to`` with one model; cells present in both years and areas published in both
    (each year suppressed as ``lbm score`` does) get their change, split by dimension."""
    scorer = CompiledScorer.from_document(document)
    scored = score_cells(scorer, select_years(cells, [year_from, year_to], file), file)
    first, second = (scored[scored["year"] == y] for y in (year_from, year_to))
    columns = ["cell_id", "score", *DIMENSION_KEYS]
    both = first[columns].merge(second[columns], on="cell_id", suffixes=("_old", "_new"), validate="one_to_one")
    tables = [aggregate_all(part, min_households=min_households) for part in (first, second)]
    areas = {level: _as_development(_area_frame(tables[0], tables[1], level, scorer, scorer), f"{level}_code")
             for level in AREA_LEVELS}
    return Development(document["content"]["model_version"], int(year_from), int(year_to),
                       _as_development(both, "cell_id"), areas)
