"""The truth record: every planted parameter and the numbers a recalibration should recover."""

from __future__ import annotations

import numpy as np

from lbm_model.transforms import Standardisation
from lbm_model.world.geography import Geography
from lbm_model.world.indicators import IndicatorSpec
from lbm_model.world.scales import ScalePreset
from lbm_model.world.survey import SurveyDraw

PROXY_FACTORS = ("S", "A")  # the factors that drive the composition columns
PROXY_LOADING = 0.6  # an allowed indicator loading at least this much on one of them is a planted proxy


def planted_proxies(specs: list[IndicatorSpec], r2: dict[str, float]) -> dict[str, dict]:
    """Allowed indicators built on the composition factors, with the composition columns they mirror."""
    comps = [s for s in specs if s.stigmatising]
    out = {}
    for spec in specs:
        if spec.stigmatising:
            continue
        factors = [f for f in PROXY_FACTORS if abs(spec.loadings.get(f, 0.0)) >= PROXY_LOADING]
        if factors:
            shared = [c.name for c in comps if any(abs(c.loadings.get(f, 0.0)) >= 0.4 for f in factors)]
            out[spec.name] = {"composition": shared, "r2": r2[spec.name]}
    return out


def _counts(preset: ScalePreset, geo: Geography, survey: SurveyDraw) -> dict:
    per_year = survey.frame["year"].value_counts().sort_index()
    groups = {g: int((geo.gemeente_groups == g).sum()) for g in ("G4", "G40", "rest")}
    return {
        "cells_per_year": {str(y): int(geo.n_cells) for y in preset.years},
        "households_per_year": {str(y): int(geo.households[y].sum()) for y in preset.years},
        "respondents": int(len(survey.frame)),
        "respondents_per_year": {str(int(y)): int(n) for y, n in per_year.items()},
        "buurten": int(np.unique(geo.buurt_code).size),
        "wijken": int(np.unique(geo.wijk_code).size),
        "gemeenten": int(geo.gemeente_codes.size),
        "gemeenten_per_group": groups,
    }


def build_truth(
    preset: ScalePreset, seed: int, geo: Geography, specs: list[IndicatorSpec], std: dict[str, Standardisation],
    survey: SurveyDraw, calibration: dict, diagnostics: dict, params: dict,
) -> dict:
    """A JSON-ready dict (see docs/synthetic-world.md for every key)."""
    allowed = [s for s in specs if not s.stigmatising]
    responses = survey.frame["response"].to_numpy()
    weights = np.array([s.weight for s in allowed])
    return {
        "seed": int(seed),
        "scale": preset.name,
        "years": list(preset.years),
        "survey_years": list(preset.survey_years),
        "base_year": preset.base_year,
        "counts": _counts(preset, geo, survey),
        "weights": {s.name: float(s.weight) for s in allowed},
        "dimensions": {s.name: s.dimension for s in specs},
        "standardisation": {name: {"mean": float(v.mean), "sd": float(v.sd)} for name, v in std.items()},
        "composition_effects": {s.name: float(s.composition_effect) for s in specs if s.stigmatising},
        "control_effects": params["control_effects"],
        "cutpoints": [float(c) for c in survey.cutpoints],
        "buurt_effect_sd": params["buurt_effect_sd"],
        "residual_field_sd": params["residual_field_sd"],
        "trend_scale": float(params["trend_scale"]),
        "planted_proxies": planted_proxies(specs, diagnostics["composition_r2"]),
        "calibration": calibration,
        "response_shares": [float(np.mean(responses == k)) for k in range(1, 6)],
        "diagnostics": {**diagnostics, "weight_sd": float(weights.std()), "weight_abs_range": [float(np.abs(weights).min()), float(np.abs(weights).max())]},
        "municipality_groups": {str(c): str(g) for c, g in zip(geo.gemeente_codes, geo.gemeente_groups)},
    }
