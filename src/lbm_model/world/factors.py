"""The shared latent factors of the world and the big-city structure behind them.

Structural factors come from the geography: local and regional urbanity (U, R) and the
building eras (E1 pre-war centres, E2 early post-war rings, E3 recent edges and new
towns). Random factors are smooth fields: status (S), greenness (G), nuisance (N) and
settledness (A) vary at neighbourhood scale *within* every place (each settlement's
household-weighted mean and sd are normalised), water (W) and transport corridors (T)
regionally. All random variation is scaled by ``heterogeneity``: larger in the biggest
cities, which are more segregated and varied than the countryside; there status also
has a centre-ring gradient (``POLARISATION``). This is what makes the G4 both more often
onvoldoende and more often zeer goed than the G40.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from lbm_model.world.geography import Geography
from lbm_model.world.rng import component_rng

FIELD_SCALES_M = {"S": 350.0, "G": 600.0, "N": 300.0, "A": 700.0, "W": 2_500.0, "T": 2_000.0}
HIGHPASS_M = {"S": 3_000.0, "G": 4_000.0, "N": 3_000.0, "A": 4_000.0}  # neighbourhood-scale factors
AMPLIFIED = ("S", "G", "N", "A", "W", "T")
HETEROGENEITY = (0.95, 1.4)  # amplitude of random variation outside big cities and inside the largest
POLARISATION = 1.5  # status gap between centre and early post-war ring in the largest cities, latent sd
STATUS_SKEW = 0.2  # lognormal shape of the status field (0: symmetric)
BIG_CITY_SLOPE = 0.15  # log-size scale of the transition to big-city structure


def _standardise(v: np.ndarray) -> np.ndarray:
    return ((v - v.mean()) / v.std()).astype(np.float32)


def building_era_factors(geo: Geography, seed: int) -> dict[str, np.ndarray]:
    """Pre-war centres (larger in big cities), early post-war rings and recent edges / new towns, plus smooth noise."""
    rho, old = geo.rho, ~geo.new_town
    rural = geo.settlement < 0
    shapes = {
        "E1": np.where(rural, 0.35, old * np.exp(-((rho / 0.3) ** 2)) * (0.7 + 0.4 * big_city(geo))),
        "E2": np.where(rural, 0.1, old * np.exp(-(((rho - 0.55) / 0.2) ** 2))),
        "E3": np.where(rural, 0.1, np.clip((rho - 0.65) / 0.3, 0, 1) + 0.8 * geo.new_town),
    }
    out = {}
    for k, (name, shape) in enumerate(shapes.items()):
        noise = geo.fields.field(component_rng(seed, "era", k), 1_000.0)
        out[name] = _standardise(_standardise(shape) + 0.6 * noise)
    return out


def big_city(geo: Geography) -> np.ndarray:
    """0 outside the largest cities, towards 1 inside them (logistic in log settlement size)."""
    size = np.maximum(geo.settlement_households, 1.0)
    return expit(np.log(size / geo.big_city_households) / BIG_CITY_SLOPE).astype(np.float32)


def heterogeneity(geo: Geography) -> np.ndarray:
    """Amplitude of random variation: ``HETEROGENEITY[0]`` outside big cities, up to ``[1]`` in the largest."""
    lo, hi = HETEROGENEITY
    return lo + (hi - lo) * big_city(geo)


def city_polarisation(geo: Geography) -> np.ndarray:
    """Status gradient inside big cities: affluent historic centres, deprived early post-war rings (city mean 0)."""
    inside = geo.settlement >= 0
    centre = np.where(inside & ~geo.new_town, np.exp(-((geo.rho / 0.3) ** 2)), 0.0)
    ring = np.where(inside, np.exp(-(((geo.rho - 0.55) / 0.2) ** 2)), 0.0)
    return within_settlement((POLARISATION * big_city(geo) * (centre - ring)).astype(np.float32), geo)


def within_settlement(values: np.ndarray, geo: Geography, rescale: bool = False) -> np.ndarray:
    """Remove each settlement's household-weighted mean (and with ``rescale`` its sd).

    Random fields then vary within places, not between them; rural cells form one group.
    Rescaling gives every place the same spread, so that differences in spread between
    places come only from the designed heterogeneity.
    """
    group = np.where(geo.settlement >= 0, geo.settlement + 1, 0)
    weights = geo.households[geo.base_year].astype(np.float64) + 1.0
    total = np.bincount(group, weights=weights)
    mean = np.bincount(group, weights=weights * values) / total
    out = values - mean[group]
    if rescale:
        sd = np.sqrt(np.bincount(group, weights=weights * out**2) / total)
        out = out / np.maximum(sd, 1e-6)[group]
    return out.astype(np.float32)


def latent_factors(geo: Geography, seed: int) -> dict[str, np.ndarray]:
    """The shared factors at every cell (U, R and E* structural; the rest amplified fields)."""
    amp = heterogeneity(geo)
    factors = {"U": geo.urbanity, "R": geo.regional_urbanity, **building_era_factors(geo, seed)}
    for k, name in enumerate(AMPLIFIED):
        smooth = geo.fields.field(component_rng(seed, "factor", k), FIELD_SCALES_M[name], HIGHPASS_M.get(name))
        if name in HIGHPASS_M:
            smooth = within_settlement(smooth, geo, rescale=True)
        if name == "S" and STATUS_SKEW > 0:  # right-skewed status: a few affluent enclaves, many ordinary streets
            smooth = np.expm1(STATUS_SKEW * smooth)
        factors[name] = amp * _standardise(smooth)
    factors["S"] = factors["S"] + city_polarisation(geo)
    return factors
