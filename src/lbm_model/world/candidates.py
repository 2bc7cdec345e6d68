"""Candidate indicators for the next version: some carry a true effect, some are planted noise.

Every existing column of the world stays bit-identical: candidates are drawn from their own
random stream (``component_rng(seed, "candidates", i)``) and add nothing to the latent
judgement. The two *signal* candidates are two buurt-level measurements whose sum is the
world's unexplained buurt effect (drawn as before, ``survey.buurt_effects``):

    c1 = (b + u) / sqrt(2),   c2 = (b - u) / sqrt(2),   buurt_effect = sd_b * b = sd_b / sqrt(2) * (c1 + c2)

with ``b`` the standard-normal buurt draw behind the effect and ``u`` an independent
standard-normal buurt draw, so c1 and c2 are uncorrelated and each has a true weight of
``sd_b / sqrt(2)`` per latent unit. The 3.0-shaped set leaves that effect to the error term;
a set with the candidates can explain it. The *noise* candidates have a true weight of
exactly 0: two buurt-level ones and two cell-level decoys correlated with a real indicator
(so a selection method must tell them apart from the indicator they resemble).

Candidates are constant over the years. Raw value = centre + spread x latent, rounded like
every other indicator (about four significant digits; the truth uses the rounded values).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lbm_model.catalog import Indicator
from lbm_model.transforms import Standardisation, fit_standardisation
from lbm_model.world.geography import Geography
from lbm_model.world.rng import component_rng

DECOY_CORRELATION = 0.5  # latent correlation of a cell-level decoy with the real indicator it resembles


@dataclass(frozen=True)
class CandidateSpec:
    """One candidate: how it is generated and what it truly does."""

    name: str
    dimension: str
    description: str
    expected_sign: int
    role: str          # "signal" (part of the buurt effect) or "noise" (true weight 0)
    level: str         # "buurt" (constant within a buurt) or "cell"
    centre: float
    spread: float
    resembles: str | None = None  # cell-level decoys: the real indicator they correlate with

    @property
    def decimals(self) -> int:
        return max(0, 3 - int(np.floor(np.log10(self.centre))))


CANDIDATES: tuple[CandidateSpec, ...] = (
    CandidateSpec("public_space_quality_scale", "fys", "residents' rating of the quality of public space in the buurt "
                  "(survey scale 0-10)", 1, "signal", "buurt", 6.5, 0.6),
    CandidateSpec("neighbourhood_reputation_scale", "soc", "reputation of the buurt among residents of the wider "
                  "region (survey scale 0-10)", 1, "signal", "buurt", 6.0, 0.7),
    CandidateSpec("street_lighting_score", "onv", "municipal street-lighting inspection score of the buurt (0-10)",
                  1, "noise", "buurt", 7.0, 0.5),
    CandidateSpec("neighbourhood_app_use_share", "soc", "share of households using a neighbourhood app (buurt)",
                  0, "noise", "buurt", 0.2, 0.04),
    CandidateSpec("parcel_locker_density_per_km2", "vrz", "parcel lockers per km2 within 1 km", 0, "noise", "cell",
                  12.0, 3.0, resembles="n_shops_daily_1km"),
    CandidateSpec("shared_car_density_per_km2", "vrz", "shared cars per km2 within 1 km", 0, "noise", "cell",
                  5.0, 1.5, resembles="dwelling_value_mean"),
)


@dataclass
class Candidates:
    """The candidates' raw values (n_candidates x n_cells, the same every year) and true weights."""

    specs: tuple[CandidateSpec, ...]
    values: np.ndarray
    standardisation: dict[str, Standardisation]
    weights: dict[str, float]     # true weight per sd of the standardised candidate (0 for noise)

    def catalog_entries(self) -> tuple[Indicator, ...]:
        return tuple(Indicator(s.name, s.dimension, s.description, s.expected_sign, False, "none", candidate=True)
                     for s in self.specs)

    def truth(self) -> dict:
        """truth.json's ``candidates`` record: role, level, true weight and, for decoys, what they resemble."""
        return {s.name: {"role": s.role, "level": s.level, "weight": self.weights[s.name], "resembles": s.resembles}
                for s in self.specs}


def _standard(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / x.std()


def candidate_latents(geo: Geography, buurt_draw: np.ndarray, base: np.ndarray, indicator_index: dict[str, int],
                      seed: int) -> np.ndarray:
    """Latent values (n_candidates x n_cells): signal and noise as documented in the module docstring."""
    n_buurten = buurt_draw.size
    independent = component_rng(seed, "candidates", 0).standard_normal(n_buurten)
    signal = {0: (buurt_draw + independent) / np.sqrt(2.0), 1: (buurt_draw - independent) / np.sqrt(2.0)}
    out = np.empty((len(CANDIDATES), geo.n_cells))
    for i, spec in enumerate(CANDIDATES):
        rng = component_rng(seed, "candidates", i + 1)
        if spec.role == "signal":
            out[i] = signal[len([s for s in CANDIDATES[:i] if s.role == "signal"])][geo.buurt]
        elif spec.level == "buurt":
            out[i] = rng.standard_normal(n_buurten)[geo.buurt]
        else:
            like = _standard(base[indicator_index[spec.resembles]].astype(np.float64))
            out[i] = DECOY_CORRELATION * like + np.sqrt(1 - DECOY_CORRELATION**2) * rng.standard_normal(geo.n_cells)
    return out


def build_candidates(geo: Geography, buurt_draw: np.ndarray, buurt_effect_sd: float, base: np.ndarray,
                     indicator_index: dict[str, int], n_years: int, seed: int) -> Candidates:
    """Raw values, standardisation (over all cell-year rows) and true weights of every candidate."""
    latent = candidate_latents(geo, buurt_draw, base, indicator_index, seed)
    values = np.empty_like(latent)
    std, weights = {}, {}
    for i, spec in enumerate(CANDIDATES):
        values[i] = np.round(spec.centre + spec.spread * latent[i], spec.decimals)
        std[spec.name] = fit_standardisation(np.tile(values[i], n_years))
        per_latent_unit = buurt_effect_sd / np.sqrt(2.0) if spec.role == "signal" else 0.0
        weights[spec.name] = float(per_latent_unit * std[spec.name].sd / spec.spread)
    return Candidates(CANDIDATES, values, std, weights)
