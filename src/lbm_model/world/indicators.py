"""Indicator values per cell and year, built from shared smooth latent factors.

Every indicator has a latent value per cell: loadings times shared factors plus an
indicator-specific smooth field plus cell noise. Variation that is not urbanity or
building era is amplified in large urban regions (``heterogeneity``): big cities are
more segregated and more varied than the countryside, which is what makes the G4 both
more polarised and more often onvoldoende. The latent value maps to a raw value by the
indicator's kind (share, percentage, lognormal, distance, count or linear); distances are
log1p-transformed and counts sqrt-transformed in the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, logit

from lbm_model.catalog import Catalog, Indicator
from lbm_model.world.geography import Geography
from lbm_model.world.indicator_table import COMPOSITION_ROWS, INDICATOR_ROWS
from lbm_model.world.rng import component_rng

CONTROLS = ("age_group", "tenure", "household_type")
TRANSFORM_OF_KIND = {"dist": "log1p", "count": "sqrt"}
FIELD_SCALES_M = {"S": 800.0, "G": 1_200.0, "N": 600.0, "A": 1_500.0, "W": 2_500.0, "T": 2_000.0}
AMPLIFIED = ("S", "G", "N", "A", "W", "T")
HETEROGENEITY = (0.8, 1.55)  # amplitude of non-structural variation in rural areas and in the largest cities
SPECIFIC_NOISE_SHARE = 0.35  # share of indicator-specific variance that is cell-level noise
YEAR_NOISE_SD = 0.08  # cell-year noise, latent sd units
DEVELOPMENT_SD = 0.10  # local development per two years, latent sd units


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


def _standardise(v: np.ndarray) -> np.ndarray:
    return ((v - v.mean()) / v.std()).astype(np.float32)


def heterogeneity(geo: Geography) -> np.ndarray:
    """Amplitude of non-structural variation: low in rural areas, high in big-city regions."""
    lo, hi = HETEROGENEITY
    return (lo + (hi - lo) * expit(2.5 * (geo.regional_urbanity - 1.6))).astype(np.float32)


def building_era_factors(geo: Geography, seed: int) -> dict[str, np.ndarray]:
    """Pre-war centres, early post-war rings and recent edges / new towns, plus smooth noise."""
    rho, old = geo.rho, ~geo.new_town
    rural = geo.settlement < 0
    shapes = {
        "E1": np.where(rural, 0.35, old * np.exp(-((rho / 0.3) ** 2))),
        "E2": np.where(rural, 0.1, old * np.exp(-(((rho - 0.55) / 0.2) ** 2))),
        "E3": np.where(rural, 0.1, np.clip((rho - 0.65) / 0.3, 0, 1) + 0.8 * geo.new_town),
    }
    out = {}
    for k, (name, shape) in enumerate(shapes.items()):
        noise = geo.fields.field(component_rng(seed, "era", k), 1_000.0)
        out[name] = _standardise(_standardise(shape) + 0.6 * noise)
    return out


def latent_factors(geo: Geography, seed: int) -> dict[str, np.ndarray]:
    """The shared factors at every cell (U, R and E* structural; the rest amplified fields)."""
    amp = heterogeneity(geo)
    factors = {"U": geo.urbanity, "R": geo.regional_urbanity, **building_era_factors(geo, seed)}
    for k, name in enumerate(AMPLIFIED):
        factors[name] = amp * _standardise(geo.fields.field(component_rng(seed, "factor", k), FIELD_SCALES_M[name]))
    return factors


def base_latents(geo: Geography, specs: list[IndicatorSpec], seed: int) -> np.ndarray:
    """Latent values (n_indicators x n_cells, float32) of the base year, without year effects."""
    factors = latent_factors(geo, seed)
    amp = heterogeneity(geo)
    out = np.empty((len(specs), geo.n_cells), dtype=np.float32)
    for i, spec in enumerate(specs):
        rng = component_rng(seed, "indicator", i)
        common = sum((w * factors[f] for f, w in spec.loadings.items()), np.zeros(geo.n_cells, np.float32))
        unique_sd = np.sqrt(max(1.0 - sum(w * w for w in spec.loadings.values()), 0.25))
        specific = geo.fields.field(rng, float(rng.uniform(300.0, 900.0)))
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
    """Local improvement (+) or decline (-) relative to the base year: a random walk of smooth fields."""
    out = {base_year: np.zeros(geo.n_cells, np.float32)}
    for direction in (1, -1):
        level = np.zeros(geo.n_cells, np.float32)
        steps = sorted((y for y in years if (y - base_year) * direction > 0), key=lambda y: abs(y - base_year))
        for year in steps:
            level = level + DEVELOPMENT_SD * geo.fields.field(component_rng(seed, "development", year), 1_500.0)
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
        out[i] = raw_values(latent, spec)
    return out
