"""Indicator values per cell and year, built from the shared latent factors (factors.py).

Every indicator has a latent value per cell: loadings times shared factors plus an
indicator-specific smooth field plus cell noise, the last two scaled by the local
heterogeneity. The latent value maps to a raw value by the indicator's kind (share,
percentage, lognormal, distance, count or linear); distances are log1p-transformed and
counts sqrt-transformed in the catalog. Years add a trend, a slow local development field
and a little cell-year noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, logit

from lbm_model.catalog import Catalog, Indicator
from lbm_model.world.factors import heterogeneity, latent_factors, within_settlement
from lbm_model.world.geography import Geography
from lbm_model.world.indicator_table import COMPOSITION_ROWS, INDICATOR_ROWS
from lbm_model.world.rng import component_rng

CONTROLS = ("age_group", "tenure", "household_type")
TRANSFORM_OF_KIND = {"dist": "log1p", "count": "sqrt"}
SPECIFIC_SCALES_M = (150.0, 450.0)  # range of kernel sd of the indicator-specific fields
SPECIFIC_HIGHPASS_M = 3_000.0
SPECIFIC_NOISE_SHARE = 0.35  # share of indicator-specific variance that is cell-level noise
YEAR_NOISE_SD = 0.08  # cell-year noise, latent sd units
DEVELOPMENT_SD = 0.025  # local development per two years, latent sd units


@dataclass(frozen=True)
class IndicatorSpec:
    """How one indicator is generated and what its true effect is."""

    name: str
    dimension: str
    kind: str
    centre: float
    spread: float
    loadings: dict[str, float]
    weight: float  # latent weight per sd (0 for composition)
    expected_sign: int
    trend: float
    description: str
    stigmatising: bool = False
    composition_effect: float = 0.0
    transform: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "transform", TRANSFORM_OF_KIND.get(self.kind, "none"))

    @property
    def decimals(self) -> int:
        """Stored precision: about four significant digits at the indicator's typical level."""
        level = self.centre * 100.0 if self.kind == "pct" else self.centre
        return max(0, 3 - int(np.floor(np.log10(level))))


def indicator_specs() -> list[IndicatorSpec]:
    """All indicators: the allowed ones, then the six stigmatising composition columns."""
    specs = [IndicatorSpec(*row) for row in INDICATOR_ROWS]
    for name, dim, kind, centre, spread, loadings, effect, trend, description in COMPOSITION_ROWS:
        specs.append(IndicatorSpec(name, dim, kind, centre, spread, loadings, 0.0, 0, trend, description,
                                   stigmatising=True, composition_effect=effect))
    return specs


def build_catalog(specs: list[IndicatorSpec]) -> Catalog:
    """The catalog in the contract's shape."""
    return Catalog(
        indicators=tuple(Indicator(s.name, s.dimension, s.description, s.expected_sign, s.stigmatising, s.transform) for s in specs),
        controls=CONTROLS,
    )


def base_latents(geo: Geography, specs: list[IndicatorSpec], seed: int) -> np.ndarray:
    """Latent values (n_indicators x n_cells, float32) of the base year, without year effects."""
    factors = latent_factors(geo, seed)
    amp = heterogeneity(geo)
    out = np.empty((len(specs), geo.n_cells), dtype=np.float32)
    for i, spec in enumerate(specs):
        rng = component_rng(seed, "indicator", i)
        common = sum((w * factors[f] for f, w in spec.loadings.items()), np.zeros(geo.n_cells, np.float32))
        unique_sd = np.sqrt(max(1.0 - sum(w * w for w in spec.loadings.values()), 0.25))
        specific = within_settlement(geo.fields.field(rng, float(rng.uniform(*SPECIFIC_SCALES_M)), SPECIFIC_HIGHPASS_M), geo)
        noise = rng.standard_normal(geo.n_cells, dtype=np.float32)
        mix = np.sqrt(1 - SPECIFIC_NOISE_SHARE) * specific + np.sqrt(SPECIFIC_NOISE_SHARE) * noise
        out[i] = common + unique_sd * amp * mix
    return out


def raw_values(latent: np.ndarray, spec: IndicatorSpec) -> np.ndarray:
    """Map a latent value to the indicator's raw unit (always inside the transform's domain)."""
    z = latent.astype(np.float64) * spec.spread
    if spec.kind in ("share", "pct"):
        share = expit(logit(spec.centre) + z)
        return share * 100.0 if spec.kind == "pct" else share
    if spec.kind == "lognormal":
        return spec.centre * np.exp(z)
    if spec.kind == "dist":
        return np.maximum(np.expm1(np.log1p(spec.centre) + z), 0.0)
    if spec.kind == "count":
        return np.round(np.maximum(np.sqrt(spec.centre) + z, 0.0) ** 2)
    if spec.kind == "linear":
        return spec.centre + z
    raise ValueError(f"unknown indicator kind {spec.kind!r}")


def development_fields(geo: Geography, years: tuple[int, ...], base_year: int, seed: int) -> dict[int, np.ndarray]:
    """Local improvement (+) or decline (-) relative to the base year: a random walk of smooth fields.

    Each step is centred on its household-weighted mean, so local development moves areas
    relative to each other without shifting the national trend.
    """
    out = {base_year: np.zeros(geo.n_cells, np.float32)}
    households = geo.households[base_year]
    for direction in (1, -1):
        level = np.zeros(geo.n_cells, np.float32)
        steps = sorted((y for y in years if (y - base_year) * direction > 0), key=lambda y: abs(y - base_year))
        for year in steps:
            step = geo.fields.field(component_rng(seed, "development", year), 1_500.0)
            level = level + np.float32(DEVELOPMENT_SD) * (step - np.float32(np.average(step, weights=households)))
            out[year] = level * direction
    return out


def year_values(
    base: np.ndarray, specs: list[IndicatorSpec], year: int, base_year: int,
    development: np.ndarray, trend_scale: float, seed: int,
) -> np.ndarray:
    """Raw indicator values (n_indicators x n_cells, float64) for one year."""
    out = np.empty(base.shape, dtype=np.float64)
    for i, spec in enumerate(specs):
        rng = component_rng(seed, "year", year, i)
        direction = np.sign(spec.weight) if spec.weight else np.sign(spec.composition_effect)
        latent = (base[i] + np.float32(trend_scale * spec.trend * (year - base_year)) + np.float32(direction) * development
                  + np.float32(YEAR_NOISE_SD) * rng.standard_normal(base.shape[1], dtype=np.float32))
        out[i] = np.round(raw_values(latent, spec), spec.decimals)
    return out
