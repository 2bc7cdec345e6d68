"""Assemble the synthetic world in memory: geography, indicators, scores, survey and truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lbm_model.catalog import Catalog
from lbm_model.errors import LbmError
from lbm_model.transforms import Standardisation
from lbm_model.world import calibration as cal
from lbm_model.world import indicators as ind
from lbm_model.world.candidates import Candidates, build_candidates
from lbm_model.world.geography import Geography, build_geography
from lbm_model.world.progress import Steps
from lbm_model.world.reference import ReferenceDraw, simulate_reference
from lbm_model.world.scales import ScalePreset, get_preset
from lbm_model.world.survey import CONTROL_EFFECTS, CellContext, SurveyDraw, buurt_effects, simulate_survey
from lbm_model.world.transactions import PRICE_CONTROLS, TransactionsDraw, simulate_transactions
from lbm_model.world.truth import build_truth

DEFAULT_BUURT_EFFECT_SD = 0.3
DEFAULT_RESIDUAL_FIELD_SD = 0.0
DRIFT_SD_2014_2020 = 0.25  # rise of the household-weighted mean score, in base-year score sd, over six years


@dataclass
class World:
    """Everything generated, before it is written to files."""

    preset: ScalePreset
    seed: int
    geography: Geography
    specs: list[ind.IndicatorSpec]
    catalog: Catalog
    values: dict[int, np.ndarray]  # year -> raw indicator values, n_indicators x n_cells (float64)
    standardisation: dict[str, Standardisation]
    scores: dict[int, np.ndarray]  # year -> true-weight score per cell
    survey: SurveyDraw
    truth: dict
    candidates: Candidates  # next-version candidate indicators (written after the catalog's other columns)
    transactions: TransactionsDraw  # sold dwellings from the planted hedonic process
    reference: ReferenceDraw        # local surveys' area table (external validation)


def _contexts(world_values: dict[int, np.ndarray], specs: list[ind.IndicatorSpec], std: dict[str, Standardisation],
              scores: dict[int, np.ndarray], years: tuple[int, ...]) -> dict[int, CellContext]:
    effects = {s.name: s.composition_effect for s in specs if s.stigmatising}
    index = {s.name: i for i, s in enumerate(specs)}
    return {
        year: CellContext(
            score=scores[year],
            composition=cal.linear_term(world_values[year], specs, std, effects),
            social_rent=world_values[year][index["social_rent_share"]],
            private_rent=world_values[year][index["private_rent_share"]],
            aged_65plus=world_values[year][index["aged_65plus_share"]],
        )
        for year in years
    }


def build_world(
    scale: str = "small", seed: int = 0, *, buurt_effect_sd: float | None = None,
    residual_field_sd: float | None = None, progress: bool = False,
) -> World:
    """Generate the whole world in memory; deterministic in (scale, seed, options)."""
    preset = get_preset(scale)
    buurt_sd = DEFAULT_BUURT_EFFECT_SD if buurt_effect_sd is None else float(buurt_effect_sd)
    resid_sd = DEFAULT_RESIDUAL_FIELD_SD if residual_field_sd is None else float(residual_field_sd)
    if buurt_sd < 0 or resid_sd < 0:
        raise LbmError(f"buurt_effect_sd and residual_field_sd must be >= 0 (got {buurt_sd}, {resid_sd})")
    with Steps(progress, total=7 + len(preset.years)) as steps:
        steps.start("settlements, cells and areas")
        geo = build_geography(preset, seed)
        steps.start("latent factors and indicator fields")
        specs = ind.indicator_specs()
        base = ind.base_latents(geo, specs, seed)
        trend = cal.drift_scale(base, specs, geo.households[preset.base_year].astype(float), DRIFT_SD_2014_2020 / 6.0)
        development = ind.development_fields(geo, preset.years, preset.base_year, seed)
        values = {}
        for year in preset.years:
            steps.start(f"indicator values {year}")
            values[year] = ind.year_values(base, specs, year, preset.base_year, development[year], trend, seed)
        candidates = build_candidates(geo, buurt_effects(geo, 1.0, seed), buurt_sd, base,
                                      {s.name: i for i, s in enumerate(specs)}, len(preset.years), seed)
        del base
        steps.start("standardisation, true scores and class calibration")
        std = cal.fit_all_standardisations(values, specs)
        weights = {s.name: s.weight for s in specs if not s.stigmatising}
        scores = {year: cal.linear_term(values[year], specs, std, weights) for year in preset.years}
        calibration = cal.class_calibration(scores, geo.households, geo.group, preset.base_year)
        steps.start("survey respondents and responses")
        survey = simulate_survey(geo, _contexts(values, specs, std, scores, preset.survey_years),
                                 preset.respondents_per_wave, buurt_sd, resid_sd, seed)
        steps.start("proxy and collinearity diagnostics")
        diagnostics = {"composition_r2": cal.composition_r2(values, specs, std), "vif": cal.variance_inflation(values, specs, std)}
        truth = build_truth(preset, seed, geo, specs, std, survey, calibration, diagnostics,
                            {"buurt_effect_sd": buurt_sd, "residual_field_sd": resid_sd, "trend_scale": trend,
                             "control_effects": CONTROL_EFFECTS})
        add_candidates_to_truth(truth, candidates)
        steps.start("transactions")
        transactions = simulate_transactions(geo, specs, values, std, _owner_shares(values, specs), preset.years,
                                             preset.base_year, seed)
        truth["transactions"] = transactions.truth()
        steps.start("reference (local surveys)")
        reference = simulate_reference(geo, scores, preset.survey_years, preset.base_year, seed)
        truth["reference"] = reference.truth()
        steps.finish()
    catalog = ind.build_catalog(specs)
    catalog = type(catalog)(catalog.indicators + candidates.catalog_entries(), catalog.controls, PRICE_CONTROLS)
    return World(preset, seed, geo, specs, catalog, values, std, scores, survey, truth, candidates, transactions,
                 reference)


def _owner_shares(values: dict[int, np.ndarray], specs: list[ind.IndicatorSpec]) -> dict[int, np.ndarray]:
    """Owner-occupied share of every cell and year: what is neither social nor private rent."""
    index = {s.name: i for i, s in enumerate(specs)}
    return {year: 1.0 - v[index["social_rent_share"]] - v[index["private_rent_share"]] for year, v in values.items()}


def add_candidates_to_truth(truth: dict, candidates: Candidates) -> None:
    """``candidates`` (role, level, true weight), ``weights_next`` (the weights of the set with candidates) and the
    candidates' standardisation; ``weights`` stays the 3.0-shaped set's."""
    truth["candidates"] = candidates.truth()
    truth["weights_next"] = {**truth["weights"], **candidates.weights}
    truth["standardisation"].update({name: {"mean": float(v.mean), "sd": float(v.sd)}
                                     for name, v in candidates.standardisation.items()})

