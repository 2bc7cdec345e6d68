"""From respondents and cell-years to areas: mean residuals per cell or buurt, buurt centres and scores.

Residuals are aggregated to the location: a cell's respondents of all survey years are
pooled (the same 100 m cell in two years is one place, not two neighbours at distance 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LEVEL_KEYS = {"cell": "cell_id", "buurt": "buurt_code"}


def buurt_centres(cells: pd.DataFrame) -> pd.DataFrame:
    """Household-weighted centre (x, y in metres) of every buurt over all its cell-years.

    A buurt without households gets the plain mean of its cells' centres.
    """
    hh = cells["households"].to_numpy(float)
    frame = pd.DataFrame({"buurt_code": cells["buurt_code"].to_numpy(), "hh": hh,
                          "wx": cells["x"].to_numpy(float) * hh, "wy": cells["y"].to_numpy(float) * hh,
                          "x": cells["x"].to_numpy(float), "y": cells["y"].to_numpy(float)})
    g = frame.groupby("buurt_code", sort=True)
    sums, means = g[["hh", "wx", "wy"]].sum(), g[["x", "y"]].mean()
    has_hh = sums["hh"] > 0
    x = np.where(has_hh, sums["wx"] / sums["hh"].where(has_hh, 1.0), means["x"])
    y = np.where(has_hh, sums["wy"] / sums["hh"].where(has_hh, 1.0), means["y"])
    return pd.DataFrame({"x": x, "y": y}, index=sums.index)


def cell_centres(cells: pd.DataFrame) -> pd.DataFrame:
    """One centre per cell_id (cells keep their location across years)."""
    return cells.groupby("cell_id", sort=True)[["x", "y"]].first()


def mean_residuals(cells: pd.DataFrame, cell_position: np.ndarray, residuals: np.ndarray, weights: np.ndarray,
                   level: str) -> pd.DataFrame:
    """Survey-weighted mean residual per cell or buurt, with respondents and the area centre.

    Returns a frame indexed by ``cell_id`` or ``buurt_code`` (sorted) with columns
    ``mean_residual`` (judgement points), ``respondents``, ``x``, ``y``.
    """
    key = LEVEL_KEYS[level]
    frame = pd.DataFrame({key: cells[key].to_numpy()[cell_position], "wr": residuals * weights, "w": weights})
    g = frame.groupby(key, sort=True)
    out = pd.DataFrame({"mean_residual": g["wr"].sum() / g["w"].sum(), "respondents": g.size()})
    centres = cell_centres(cells) if level == "cell" else buurt_centres(cells)
    return out.join(centres, how="left")


def buurt_scores(cells: pd.DataFrame, scores: pd.Series, year: int) -> pd.DataFrame:
    """Household-weighted buurt score in ``year`` with households and the buurt centre."""
    in_year = (cells["year"] == year).to_numpy()
    hh = cells["households"].to_numpy(float)[in_year]
    frame = pd.DataFrame({"buurt_code": cells["buurt_code"].to_numpy()[in_year], "hh": hh,
                          "ws": scores.to_numpy(float)[in_year] * hh})
    g = frame.groupby("buurt_code", sort=True)[["hh", "ws"]].sum()
    g = g[g["hh"] > 0]
    out = pd.DataFrame({"score": g["ws"] / g["hh"], "households": g["hh"].astype(np.int64)})
    return out.join(buurt_centres(cells), how="left")
