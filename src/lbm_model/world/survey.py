"""Respondents, their controls and their ordinal judgement of the living environment.

Latent judgement of respondent r in cell c, year t:
``eta = score_ct + composition_ct + controls_r + buurt_effect + residual_field(x, y) + logistic noise``
with ``score`` the true-weight sum over allowed indicators and ``composition`` the sum of
composition effects times standardised composition columns. The response is 1 plus the
number of cut-points below eta; cut-points are solved so that the weighted national
response distribution matches ``TARGET_RESPONSE_SHARES``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

from lbm_model.world.geography import Geography
from lbm_model.world.rng import component_rng

TARGET_RESPONSE_SHARES = (0.02, 0.05, 0.15, 0.45, 0.33)  # responses 1..5
CONTROL_EFFECTS: dict[str, dict[str, float]] = {
    "age_group": {"18-34": 0.0, "35-54": 0.15, "55-74": 0.35, "75+": 0.5},
    "tenure": {"owner": 0.0, "private_rent": -0.25, "social_rent": -0.35},
    "household_type": {"single": 0.0, "couple": 0.2, "family": 0.1},
}
OVERSAMPLING = {"G4": 1.6, "G40": 1.25, "rest": 1.0}  # city oversampling in the survey design
WEIGHT_NOISE_SD = 0.15  # lognormal non-response adjustment of the design weights
RESIDUAL_FIELD_SCALE_M = 1_500.0


@dataclass(frozen=True)
class CellContext:
    """What the survey needs of one year's cells (arrays over all cells)."""

    score: np.ndarray  # true-weight score
    composition: np.ndarray  # composition effects times standardised composition
    social_rent: np.ndarray  # raw shares, for drawing tenure and age
    private_rent: np.ndarray
    aged_65plus: np.ndarray


@dataclass
class SurveyDraw:
    """The survey table, its latent components per respondent, and the cut-points."""

    frame: pd.DataFrame
    latent: pd.DataFrame
    cutpoints: np.ndarray


def sample_cells(geo: Geography, year: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Respondent cells (probability proportional to households, cities oversampled) and design weights."""
    factor = np.vectorize(OVERSAMPLING.get)(geo.group).astype(float)
    p = geo.households[year] * factor
    cells = rng.choice(geo.n_cells, size=n, p=p / p.sum())
    weight = rng.lognormal(0.0, WEIGHT_NOISE_SD, n) / factor[cells]
    return cells, weight / weight.mean()


def _pick(rng: np.random.Generator, probs: np.ndarray, levels: tuple[str, ...]) -> np.ndarray:
    """One level per row from row-wise probabilities."""
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    idx = (rng.uniform(size=(probs.shape[0], 1)) > cum[:, :-1]).sum(axis=1)
    return np.asarray(levels, dtype=object)[idx]


def draw_controls(ctx: CellContext, cells: np.ndarray, urbanity: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Age group, tenure (follows the cell's rental shares) and household type."""
    old = ctx.aged_65plus[cells] / 0.2
    age_p = np.column_stack([np.full(cells.size, 0.26), np.full(cells.size, 0.34), 0.27 * old**0.7, 0.13 * old])
    age = _pick(rng, age_p, tuple(CONTROL_EFFECTS["age_group"]))
    social = np.clip(ctx.social_rent[cells], 0.01, 0.9)
    private = np.clip(ctx.private_rent[cells], 0.01, 0.9)
    scale = np.minimum(1.0, 0.95 / (social + private))
    tenure_p = np.column_stack([1.0 - scale * (social + private), scale * private, scale * social])
    tenure = _pick(rng, tenure_p, tuple(CONTROL_EFFECTS["tenure"]))
    single = expit(-0.7 + 0.5 * urbanity[cells] + 0.9 * (age == "75+") + 0.4 * (age == "18-34"))
    family_share = np.select([age == "35-54", age == "18-34"], [0.55, 0.25], 0.08)
    type_p = np.column_stack([single, (1 - single) * (1 - family_share), (1 - single) * family_share])
    return {"age_group": age, "tenure": tenure, "household_type": _pick(rng, type_p, tuple(CONTROL_EFFECTS["household_type"]))}


def control_term(controls: dict[str, np.ndarray]) -> np.ndarray:
    """Sum of the control effects of every respondent."""
    return sum(np.vectorize(CONTROL_EFFECTS[name].get)(values).astype(float) for name, values in controls.items())


def solve_cutpoints(eta: np.ndarray, weights: np.ndarray, shares: tuple[float, ...] = TARGET_RESPONSE_SHARES) -> np.ndarray:
    """Cut-points so that the weighted mean predicted response distribution equals ``shares``."""
    targets = np.cumsum(shares)[:-1]
    lo, hi = float(eta.min()) - 30.0, float(eta.max()) + 30.0

    def gap(c: float, target: float) -> float:
        return float(np.average(expit(c - eta), weights=weights)) - target

    return np.array([brentq(gap, lo, hi, args=(t,), xtol=1e-10) for t in targets])


def buurt_effects(geo: Geography, sd: float, seed: int) -> np.ndarray:
    """The unexplained iid effect of every buurt on the latent judgement (constant over years)."""
    return sd * component_rng(seed, "buurt").standard_normal(int(geo.buurt.max()) + 1)


def residual_field(geo: Geography, sd: float, seed: int) -> np.ndarray:
    """Smooth unexplained variation over space with standard deviation ``sd`` over cells."""
    if sd == 0:
        return np.zeros(geo.n_cells)
    field = geo.fields.field(component_rng(seed, "residual"), RESIDUAL_FIELD_SCALE_M).astype(float)
    return sd * (field - field.mean()) / field.std()


def simulate_survey(
    geo: Geography, contexts: dict[int, CellContext], per_wave: int, buurt_effect_sd: float,
    residual_field_sd: float, seed: int,
) -> SurveyDraw:
    """Respondents of every survey wave with controls, latent components and responses."""
    buurt_effect = buurt_effects(geo, buurt_effect_sd, seed)
    residual = residual_field(geo, residual_field_sd, seed)
    parts = []
    for year, ctx in sorted(contexts.items()):
        rng = component_rng(seed, "survey", year)
        cells, weight = sample_cells(geo, year, per_wave, rng)
        controls = draw_controls(ctx, cells, geo.urbanity, component_rng(seed, "controls", year))
        latent = pd.DataFrame({
            "score": ctx.score[cells], "composition": ctx.composition[cells], "controls": control_term(controls),
            "buurt_effect": buurt_effect[geo.buurt[cells]], "residual_field": residual[cells],
            "noise": component_rng(seed, "noise", year).logistic(size=cells.size),
        })
        frame = pd.DataFrame({"year": np.full(cells.size, year, np.int64), "cell_id": geo.cell_id[cells], "weight": weight, **controls})
        parts.append((frame, latent, cells))
    frame = pd.concat([p[0] for p in parts], ignore_index=True)
    latent = pd.concat([p[1] for p in parts], ignore_index=True)
    latent["cell"] = np.concatenate([p[2] for p in parts])
    systematic = latent[["score", "composition", "controls", "buurt_effect", "residual_field"]].sum(axis=1).to_numpy()
    cutpoints = solve_cutpoints(systematic, frame["weight"].to_numpy())
    latent["eta"] = systematic + latent["noise"].to_numpy()
    frame["response"] = (1 + (latent["eta"].to_numpy()[:, None] > cutpoints[None, :]).sum(axis=1)).astype(np.int64)
    frame.insert(0, "respondent_id", [f"R{i:07d}" for i in range(1, len(frame) + 1)])
    columns = ["respondent_id", "year", "cell_id", "response", "weight", *CONTROL_EFFECTS]
    return SurveyDraw(frame=frame[columns], latent=latent, cutpoints=cutpoints)
