"""An independent local survey in some gemeenten: the reference table for external validation.

Municipalities run their own surveys (the LBM 3.0 instrument report validates against them). Here a
share ``GEMEENTE_SHARE`` of the gemeenten asks residents for a grade of their neighbourhood (1..10) in
the last ``N_YEARS`` survey years. Respondent r in cell c (drawn in proportion to households,
``RESPONDENTS_PER_1000_HOUSEHOLDS`` per gemeente and year), buurt b:

``grade = clip(round(GRADE_MEAN + slope * (true_score_c - mean) + area_effect_b + NOISE_SD * normal), 1, 10)``

with ``true_score`` the true-weight score (the same as the survey's), ``slope`` such that the score part
has sd ``SCORE_SD`` grade points over the base year's households, and an area effect of the local survey
alone (the indicators do not see it). The reference table has one row per buurt, wijk and gemeente
and year with at least ``MIN_REPORTED`` respondents: ``value`` the mean grade, ``n`` the respondents,
``sd`` the sample sd of their grades. Every draw comes from the ``reference`` stream (world/rng.py),
so every other table is unchanged. truth.json records the construction and the correlation of the
household-weighted true-weight area scores with ``value`` over the areas ``lbm validate`` keeps
(at least 10 respondents and 10 households).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lbm_model.world.geography import Geography
from lbm_model.world.rng import component_rng

GEMEENTE_SHARE = 0.5               # gemeenten with a local survey
N_YEARS = 2                        # the last survey years
RESPONDENTS_PER_1000_HOUSEHOLDS = 50
GRADE_MEAN = 7.2
SCORE_SD = 0.6                     # grade points per sd of the true score over households
AREA_EFFECT_SD = 0.25
NOISE_SD = 1.1
MIN_REPORTED = 2                   # the local survey publishes areas with at least this many respondents
MIN_RESPONDENTS = 10               # primer: survey-based area figures need 10 respondents (lbm validate's rule)
MIN_HOUSEHOLDS = 10
LEVELS = ("buurt", "wijk", "gemeente")


@dataclass
class ReferenceDraw:
    """The reference table and its construction for truth.json."""

    frame: pd.DataFrame
    construction: dict

    def truth(self) -> dict:
        return self.construction


def _area_codes(geo: Geography, level: str) -> np.ndarray:
    return getattr(geo, f"{level}_code")


def simulate_reference(geo: Geography, scores: dict[int, np.ndarray], survey_years: tuple[int, ...], base_year: int,
                       seed: int) -> ReferenceDraw:
    """The local surveys' area table (buurt, wijk and gemeente rows) and what truth.json records."""
    rng = component_rng(seed, "reference")
    n_gm = int(geo.gemeente.max()) + 1
    chosen = np.sort(rng.choice(n_gm, size=max(3, int(round(GEMEENTE_SHARE * n_gm))), replace=False))
    area_effect = AREA_EFFECT_SD * component_rng(seed, "reference", 1).standard_normal(int(geo.buurt.max()) + 1)
    base_hh = geo.households[base_year].astype(float)
    centre = np.average(scores[base_year], weights=base_hh)
    slope = SCORE_SD / np.sqrt(np.average((scores[base_year] - centre) ** 2, weights=base_hh))
    years = tuple(survey_years[-N_YEARS:])
    rows, correlations = [], {level: {} for level in LEVELS}
    for year in years:
        draw = component_rng(seed, "reference", 2, year)
        cells = _respondent_cells(geo, chosen, geo.households[year].astype(float), draw)
        latent = GRADE_MEAN + slope * (scores[year][cells] - centre) + area_effect[geo.buurt[cells]]
        grade = np.clip(np.round(latent + NOISE_SD * draw.standard_normal(cells.size)), 1, 10)
        for level in LEVELS:
            table = _area_table(_area_codes(geo, level)[cells], grade, level, year)
            rows.append(table)
            correlations[level][str(year)] = _true_correlation(table, geo, scores[year], geo.households[year], level)
    frame = pd.concat(rows, ignore_index=True)
    construction = {
        "gemeenten": [str(c) for c in geo.gemeente_codes[chosen]], "years": list(years),
        "respondents_per_1000_households": RESPONDENTS_PER_1000_HOUSEHOLDS,
        "grade": {"mean": GRADE_MEAN, "score_slope": float(slope), "score_centre": float(centre), "score_sd": SCORE_SD,
                  "area_effect_sd": AREA_EFFECT_SD, "noise_sd": NOISE_SD, "rounded_and_clipped_to": [1, 10]},
        "min_reported_respondents": MIN_REPORTED, "rows": int(len(frame)),
        "true_score_correlation": correlations,
        "correlation_rule": f"Pearson, household-weighted true-weight area scores against value, areas with >= "
                            f"{MIN_RESPONDENTS} respondents and >= {MIN_HOUSEHOLDS} households",
    }
    return ReferenceDraw(frame=frame, construction=construction)


def _respondent_cells(geo: Geography, chosen: np.ndarray, households: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Respondents' cells: in every chosen gemeente, in proportion to households."""
    parts = []
    for gm in chosen:
        inside = np.flatnonzero(geo.gemeente == gm)
        weight = households[inside]
        n = int(round(RESPONDENTS_PER_1000_HOUSEHOLDS / 1000 * weight.sum()))
        parts.append(np.sort(rng.choice(inside, size=n, p=weight / weight.sum())))
    return np.concatenate(parts)


def _area_table(codes: np.ndarray, grade: np.ndarray, level: str, year: int) -> pd.DataFrame:
    """Mean grade, respondents and sample sd per area (areas with at least MIN_REPORTED respondents)."""
    grouped = pd.DataFrame({"area_code": codes, "grade": grade}).groupby("area_code", sort=True)["grade"]
    table = pd.DataFrame({"value": grouped.mean(), "n": grouped.size(), "sd": grouped.std(ddof=1)}).reset_index()
    table = table[table["n"] >= MIN_REPORTED].reset_index(drop=True)
    return pd.DataFrame({"area_code": table["area_code"].astype(str), "level": level,
                         "year": np.full(len(table), year, np.int64), "value": table["value"].astype(float),
                         "n": table["n"].astype(np.int64), "sd": table["sd"].astype(float)})


def _true_correlation(table: pd.DataFrame, geo: Geography, score: np.ndarray, households: np.ndarray,
                      level: str) -> dict:
    """Pearson correlation of the household-weighted true score per area with the reference value."""
    codes = _area_codes(geo, level)
    frame = pd.DataFrame({"code": codes, "weighted": score * households, "households": households})
    sums = frame.groupby("code", sort=True)[["weighted", "households"]].sum()
    kept = table[(table["n"] >= MIN_RESPONDENTS)].join(sums, on="area_code")
    kept = kept[kept["households"] >= MIN_HOUSEHOLDS]
    area_score = kept["weighted"] / kept["households"]
    r = float(np.corrcoef(area_score, kept["value"])[0, 1]) if len(kept) >= 3 else None
    return {"r": r, "areas": int(len(kept))}
