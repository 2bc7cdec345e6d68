"""The cells of the synthetic world with their areas, households per year and urbanity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lbm_model.world.areas import area_codes, assign_gemeenten, gemeente_numbers, municipality_groups, partition
from lbm_model.world.fields import FieldMaker
from lbm_model.world.rng import component_rng
from lbm_model.world.scales import ScalePreset
from lbm_model.world.settlements import CELL_M, Settlements, merge_cells, place_settlements

HOUSEHOLD_GROWTH = 0.006  # per year, national
HOUSEHOLD_NOISE = 0.04  # lognormal sd of a cell's year-to-year household change


@dataclass
class Geography:
    """Per-cell arrays (one entry per inhabited cell, sorted by cell id) and area tables."""

    cell_id: np.ndarray
    x: np.ndarray
    y: np.ndarray
    settlement: np.ndarray  # owning settlement index, -1 for rural cells
    settlement_households: np.ndarray  # size of the owning settlement (households), 0 rural
    rho: np.ndarray  # distance to the settlement centre / its radius (1.6 for rural)
    new_town: np.ndarray
    gemeente: np.ndarray  # gemeente index
    gemeente_code: np.ndarray
    wijk_code: np.ndarray
    buurt_code: np.ndarray
    buurt: np.ndarray  # buurt index 0..n_buurten-1
    group: np.ndarray  # G4, G40 or rest, per cell
    gemeente_codes: np.ndarray  # per gemeente index
    gemeente_groups: np.ndarray  # per gemeente index
    households: dict[int, np.ndarray]  # year -> households per cell (int64)
    urbanity: np.ndarray  # standardised log local household density (~400 m)
    regional_urbanity: np.ndarray  # standardised log regional household density (~3 km)
    fields: FieldMaker
    base_year: int
    big_city_households: float

    @property
    def n_cells(self) -> int:
        return self.x.size


def cell_ids(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """``E1234N4567``: the 100 m column and row indices in EPSG:28992."""
    return np.char.add(np.char.add("E", np.char.zfill(ix.astype(str), 4)), np.char.add("N", np.char.zfill(iy.astype(str), 4)))


def households_by_year(base: np.ndarray, years: tuple[int, ...], base_year: int, rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Households per cell and year: slow growth plus a little cell-level change around the base year."""
    out: dict[int, np.ndarray] = {}
    for year in years:
        if year == base_year:
            out[year] = base.astype(np.int64)
            continue
        expected = base * (1.0 + HOUSEHOLD_GROWTH) ** (year - base_year) * rng.lognormal(0.0, HOUSEHOLD_NOISE, base.size)
        out[year] = np.floor(expected + rng.uniform(size=base.size)).astype(np.int64)
    return out


def standardised_log_density(fields: FieldMaker, x: np.ndarray, y: np.ndarray, households: np.ndarray, scale_m: float) -> np.ndarray:
    """Standardised log1p of Gaussian-smoothed households per hectare."""
    density = fields.smoothed(households.astype(float), x, y, scale_m) * (1e4 / fields.raster_m**2)
    value = np.log1p(np.maximum(density, 0.0))
    return ((value - value.mean()) / value.std()).astype(np.float32)


def build_geography(preset: ScalePreset, seed: int) -> Geography:
    """Settlements, cells, areas, groups and households for every year."""
    s: Settlements = place_settlements(preset, component_rng(seed, "settlements"))
    cells = merge_cells(preset, s, component_rng(seed, "cells"))
    x = (cells["ix"] + 0.5) * CELL_M
    y = (cells["iy"] + 0.5) * CELL_M
    base = cells["households"]
    gemeente = assign_gemeenten(x, y, s)
    n_gm = int(gemeente.max()) + 1
    gm_households = np.bincount(gemeente, weights=base, minlength=n_gm)
    ranked, gm_groups = municipality_groups(gm_households, preset.n_g4, preset.n_g40)
    area_rng = component_rng(seed, "areas")
    gm_codes_num = gemeente_numbers(n_gm, ranked, preset.n_g4, area_rng)
    wijk_no, buurt_no = partition(x, y, base.astype(float), gemeente, preset.n_buurten, preset.n_wijken, area_rng)
    gm_code, wk_code, bu_code = area_codes(gm_codes_num[gemeente], wijk_no, buurt_no)
    fields = FieldMaker(x, y, preset.raster_m)
    owner = cells["settlement"]
    return Geography(
        cell_id=cell_ids(cells["ix"], cells["iy"]), x=x, y=y, settlement=owner,
        settlement_households=np.where(owner >= 0, s.households[np.maximum(owner, 0)], 0.0),
        rho=cells["rho"], new_town=np.where(owner >= 0, s.new_town[np.maximum(owner, 0)], False),
        gemeente=gemeente, gemeente_code=gm_code, wijk_code=wk_code, buurt_code=bu_code,
        buurt=np.unique(bu_code, return_inverse=True)[1], group=gm_groups[gemeente],
        gemeente_codes=np.char.add("GM", np.char.zfill(gm_codes_num.astype(str), 4)), gemeente_groups=gm_groups,
        households=households_by_year(base, preset.years, preset.base_year, component_rng(seed, "households")),
        urbanity=standardised_log_density(fields, x, y, base, 400.0),
        regional_urbanity=standardised_log_density(fields, x, y, base, 3_000.0),
        fields=fields,
        base_year=preset.base_year,
        big_city_households=preset.big_city_households,
    )
