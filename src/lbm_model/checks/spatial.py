"""Spatial autocorrelation of the model's residuals (a gate) and of the scores (descriptive).

Clustered residuals mean whole neighbourhoods are systematically misjudged. The residual
check averages observed-minus-expected judgements per cell with respondents and per
buurt, and tests Moran's I (Moran 1950) under every configured weights type with
seeded permutation inference; buurt residuals also get local Moran clusters (Anselin
1995), a cluster map and a Moran scatter plot (Anselin 1996). The same statistics for the
base year's scores are descriptive only (scores of neighbouring places are meant to be
alike) and always pass.

Disclosure: residual figures and tables are at buurt level and only for buurten with at
least ``disclosure.min_respondents`` respondents; the cell level yields global numbers only. Buurt
score tables and maps show only the buurten the area tables publish (``disclosure.min_households``
with complementary suppression), so the evidence cannot undo the tables' suppression.

References
----------
Moran, P. A. P. (1950). Notes on continuous stochastic phenomena. Biometrika 37, 17-23.
Anselin, L. (1995). Local indicators of spatial association - LISA. Geographical Analysis 27, 93-115.
Anselin, L. (1996). The Moran scatterplot as an ESDA tool. In Spatial Analytical Perspectives on GIS.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

from lbm_model.checks import figures
from lbm_model.checks.areas import buurt_scores, mean_residuals
from lbm_model.checks.context import CheckContext
from lbm_model.checks.evidence import EvidenceWriter
from lbm_model.checks.moran import LISA_LABELS, MoranResult, global_moran, local_moran
from lbm_model.checks.result import FAIL, PASS, WARN, Check, CheckResult, worst
from lbm_model.disclosure import published_areas
from lbm_model.errors import ConfigError

RESIDUALS, SCORES = "residual_autocorrelation", "score_autocorrelation"
MIN_AREAS = 5        # fewer areas than this give no meaningful autocorrelation


class Level(StrEnum):
    cell = "cell"
    buurt = "buurt"


class WeightsKind(StrEnum):
    knn = "knn"
    distance_band = "distance_band"


@dataclass
class SpatialConfig:
    """``checks.spatial``: Moran's I of residuals (graded) and scores (descriptive), LISA maps."""

    permutations: int = 999
    levels: list[Level] = field(default_factory=lambda: [Level.cell, Level.buurt])
    weights: list[WeightsKind] = field(default_factory=lambda: [WeightsKind.knn, WeightsKind.distance_band])
    knn_k: int = 8
    distance_band_m: dict[str, float] = field(default_factory=lambda: {"cell": 500.0, "buurt": 2500.0})
    alpha: float = 0.05
    warn_moran_i: dict[str, float] = field(default_factory=lambda: {"cell": 0.03, "buurt": 0.05})
    fail_moran_i: dict[str, float] = field(default_factory=lambda: {"cell": 0.1, "buurt": 0.2})
    lisa: bool = True
    lisa_permutations: int = 999
    score_levels: list[Level] = field(default_factory=lambda: [Level.cell, Level.buurt])
    score_permutations: int = 999

    def __post_init__(self) -> None:
        def refuse(key: str, value, expected: str) -> None:
            raise ConfigError(f"checks.spatial.{key}={value!r}; expected {expected}.")

        if not self.weights:
            refuse("weights", list(self.weights), "a non-empty list from knn, distance_band")
        for key in ("permutations", "lisa_permutations", "score_permutations", "knn_k"):
            if getattr(self, key) < (1 if key == "knn_k" else 0):
                refuse(key, getattr(self, key), "a positive whole number")
        if not 0 < self.alpha < 1:
            refuse("alpha", self.alpha, "a probability between 0 and 1")
        levels = {str(v) for v in (*self.levels, *self.score_levels)}
        for key in ("distance_band_m", "warn_moran_i", "fail_moran_i"):
            table = getattr(self, key)
            needed = levels if key == "distance_band_m" else {str(v) for v in self.levels}
            if key == "distance_band_m" and WeightsKind.distance_band not in self.weights:
                continue
            if not needed <= set(table) or not all(v > 0 for v in table.values()):
                refuse(key, dict(table), f"positive numbers for {', '.join(sorted(needed))}")


@dataclass(frozen=True)
class MoranRow:
    """Moran's I at one level under one kind of weights, and its verdict."""

    level: str
    weights: str
    weights_description: str
    n_areas: int
    n_islands_dropped: int
    moran: MoranResult
    verdict: str = PASS

    def to_dict(self) -> dict:
        """Flat, for audit.json and the evidence table."""
        return {"level": str(self.level), "weights": str(self.weights), "weights_description": self.weights_description,
                "n_areas": self.n_areas, "n_islands_dropped": self.n_islands_dropped, **self.moran.to_dict(),
                "verdict": self.verdict}


def _moran_rows(values: pd.Series, xy: np.ndarray, level: str, ctx: CheckContext,
                permutations: int) -> tuple[list[MoranRow], dict]:
    """Global Moran's I of ``values`` under every configured weights type; also returns the weights."""
    cfg = ctx.config.spatial
    rows, weights = [], {}
    for kind in cfg.weights:
        w = weights[kind] = ctx.spatial_weights(xy, kind, k=cfg.knn_k,
                                               threshold_m=float(cfg.distance_band_m.get(level, 0)) or None)
        moran = global_moran(values.to_numpy(float)[w.keep], w.sparse, permutations, ctx.config.seed)
        rows.append(MoranRow(level, kind, w.description, w.n, w.n_dropped, moran))
    return rows, weights


def _grade(row: MoranRow, ctx: CheckContext) -> str:
    cfg = ctx.config.spatial
    if not (row.moran.p < cfg.alpha and row.moran.I > 0):
        return PASS
    if row.moran.I >= float(cfg.fail_moran_i[row.level]):
        return FAIL
    return WARN if row.moran.I >= float(cfg.warn_moran_i[row.level]) else PASS


def _lisa_evidence(values: pd.Series, w, ctx: CheckContext, ev: EvidenceWriter, what: str,
                   table_extra: pd.DataFrame) -> tuple[dict[str, int], pd.Series]:
    """Local Moran of buurt ``values`` under knn weights ``w``: table, scatter plot; returns counts and categories."""
    cfg = ctx.config.spatial
    lisa = local_moran(values.to_numpy(float), w.graph, cfg.lisa_permutations, ctx.config.seed, cfg.alpha)
    category = pd.Series(lisa.label, index=values.index, name="lisa_category")
    table = table_extra.assign(local_i=lisa.Is, quadrant=[LISA_LABELS[q] for q in lisa.quadrant],
                               p_sim=lisa.p_sim, lisa_category=category.to_numpy())
    ev.table(table.reset_index(), f"lisa_{what}_buurt.csv")
    z = (values.to_numpy(float) - values.mean()) / values.std(ddof=0)
    lag = w.lag(z)
    moran_i = float(np.sum(z * lag) / np.sum(z * z))
    note = f"{len(values):,} buurten, {w.description}"
    ev.figure(figures.moran_scatter(z, lag, moran_i, f"Moran scatter plot: buurt {what}", note),
              f"moran_scatter_{what}_buurt.png")
    counts = {label.replace(" ", "_").replace("-", "_"): int((category == label).sum()) for label in LISA_LABELS.values()}
    return counts, category


def _map(ctx: CheckContext, category: pd.Series, ev: EvidenceWriter, what: str, note: str) -> None:
    cells = ctx.inputs.cells
    base = cells[(cells["year"] == ctx.base_year) & (cells["households"] > 0)]
    cat = base["buurt_code"].map(category).fillna("suppressed").to_numpy(dtype=object)
    fig = figures.lisa_map(base[["x", "y"]].to_numpy(float), cat, f"LISA clusters of buurt {what}", note)
    ev.figure(fig, f"lisa_{what}_buurt_map.png")


def _metrics(rows: list[MoranRow]) -> dict[str, float]:
    out = {}
    for r in rows:
        prefix = f"{r.level}.{r.weights}"
        out.update({f"{prefix}.moran_i": r.moran.I, f"{prefix}.p_sim": r.moran.p, f"{prefix}.z_norm": r.moran.z_norm,
                    f"{prefix}.n_areas": r.n_areas})
    return out


def _listing(rows: list[MoranRow]) -> str:
    return ", ".join(f"{r.level}/{r.weights} I={r.moran.I:.3f}" for r in rows)


def residual_autocorrelation(ctx: CheckContext) -> CheckResult:
    """Moran's I of mean residuals per cell and per buurt; LISA clusters of buurt residuals."""
    cfg, disclosure = ctx.config.spatial, ctx.config.disclosure
    ev = EvidenceWriter(ctx.export_dir, RESIDUALS)
    rows, details = [], {}
    for level in cfg.levels:
        areas = mean_residuals(ctx.inputs.cells, ctx.data.cell_position, ctx.residuals, ctx.data.weight, level)
        if level == "buurt":
            small = int((areas["respondents"] < disclosure.min_respondents).sum())
            areas = areas[areas["respondents"] >= disclosure.min_respondents]
            details["buurten_below_min_respondents"] = small
        if len(areas) < MIN_AREAS:
            details.setdefault("skipped_levels", {})[level] = f"only {len(areas)} areas"
            continue
        xy = areas[["x", "y"]].to_numpy(float)
        level_rows, weights = _moran_rows(areas["mean_residual"], xy, level, ctx, cfg.permutations)
        rows += level_rows
        if level == "buurt" and cfg.lisa:
            knn = weights.get("knn") or ctx.spatial_weights(xy, "knn", k=cfg.knn_k)
            counts, category = _lisa_evidence(areas["mean_residual"], knn, ctx, ev, "residuals",
                                              areas[["respondents", "mean_residual"]])
            details["lisa_buurt_counts"] = counts
            _map(ctx, category, ev, "residuals",
                 f"buurten with >= {disclosure.min_respondents} respondents; others shown as suppressed")
    rows = [dataclasses.replace(r, verdict=_grade(r, ctx)) for r in rows]
    if rows:
        ev.table(pd.DataFrame([r.to_dict() for r in rows]), "moran_residuals.csv")
    verdict = worst([*(r.verdict for r in rows), *([WARN] if details.get("skipped_levels") else [])])
    details["moran"] = [r.to_dict() for r in rows]
    flagged = [f"{r.level}/{r.weights} I={r.moran.I:.3f} ({r.verdict})" for r in rows if r.verdict != PASS]
    what = f"residuals ({ctx.estimator.response_unit}, per {ctx.estimator.row_name.rstrip('s')})"
    details["residual_unit"] = ctx.estimator.response_unit
    summary = (f"{what} cluster in space: significant Moran's I above threshold at " + "; ".join(flagged) if flagged
               else f"no significant clustering of {what} above threshold ({_listing(rows)})")
    skipped = details.get("skipped_levels", {})
    if skipped:
        summary += "; not measured: " + ", ".join(f"{lvl} ({why})" for lvl, why in skipped.items())
    return CheckResult(RESIDUALS, verdict, _metrics(rows), details, tuple(ev.files), summary)


def _cell_scores(ctx: CheckContext, ev: EvidenceWriter) -> list[MoranRow]:
    cells, score = ctx.inputs.cells, ctx.dimension_scores["score"]
    mask = ((cells["year"] == ctx.base_year) & (cells["households"] > 0)).to_numpy()
    values, xy = score[mask], cells.loc[mask, ["x", "y"]].to_numpy(float)
    if len(values) < MIN_AREAS:
        return []
    rows, weights = _moran_rows(values, xy, "cell", ctx, ctx.config.spatial.score_permutations)
    z = (values.to_numpy() - values.mean()) / values.std(ddof=0)
    w = weights.get("knn") or ctx.spatial_weights(xy, "knn", k=ctx.config.spatial.knn_k)
    lag = w.lag(z)
    ev.figure(figures.moran_scatter(z, lag, float(z @ lag / (z @ z)), f"Moran scatter plot: cell scores {ctx.base_year}",
                                    f"{len(z):,} inhabited cells, {w.description}"), "moran_scatter_scores_cell.png")
    return rows


def _buurt_scores(ctx: CheckContext, ev: EvidenceWriter, details: dict) -> list[MoranRow]:
    cfg, min_households = ctx.config.spatial, ctx.config.disclosure.min_households
    areas = buurt_scores(ctx.inputs.cells, ctx.dimension_scores["score"], ctx.base_year)
    areas = areas[areas.index.isin(published_areas(ctx.inputs.cells, ctx.base_year, "buurt", min_households))]
    if len(areas) < MIN_AREAS:
        return []
    xy = areas[["x", "y"]].to_numpy(float)
    rows, weights = _moran_rows(areas["score"], xy, "buurt", ctx, cfg.score_permutations)
    if cfg.lisa:
        knn = weights.get("knn") or ctx.spatial_weights(xy, "knn", k=cfg.knn_k)
        counts, category = _lisa_evidence(areas["score"], knn, ctx, ev, "scores", areas[["households", "score"]])
        details["lisa_buurt_counts"] = counts
        _map(ctx, category, ev, "scores", f"buurten published in the area tables (>= {min_households} households, "
                                          f"complementary suppression), {ctx.base_year}")
    return rows


def score_autocorrelation(ctx: CheckContext) -> CheckResult:
    """Descriptive: Moran's I of the base year's cell and buurt scores, LISA map of buurt scores."""
    ev = EvidenceWriter(ctx.export_dir, SCORES)
    rows, details = [], {"descriptive": True, "year": ctx.base_year}
    for level in ctx.config.spatial.score_levels:
        rows += _cell_scores(ctx, ev) if level == "cell" else _buurt_scores(ctx, ev, details)
    if rows:
        ev.table(pd.DataFrame([r.to_dict() for r in rows]), "moran_scores.csv")
    details["moran"] = [r.to_dict() for r in rows]
    summary = "descriptive: " + (_listing(rows) or "too few areas")
    return CheckResult(SCORES, PASS, _metrics(rows), details, tuple(ev.files), summary)


RESIDUAL_CHECK = Check(RESIDUALS, residual_autocorrelation, "spatial", SpatialConfig)
SCORE_CHECK = Check(SCORES, score_autocorrelation, "spatial", SpatialConfig)
