"""Sold dwellings and their prices from a planted hedonic process (the behaviour model's data).

Log price of dwelling i sold in cell c, year t:
``log(price) = BASE_LOG_PRICE + year_effect_t + place_ct + dwelling_i + buurt_effect + normal noise``
with ``place`` the sum of the indicators' own *price weights* times their standardised values
(weights that overlap with the judgement weights but differ: ``PRICE_WEIGHT_OVERLAP`` of their
shape plus an independent part), ``dwelling`` the effects of floor area, dwelling type and
building period (controls: never scored), and an iid buurt effect. Sales are drawn in proportion
to a cell's owner-occupied households, so the market is thin where renting dominates. Every draw
comes from the ``transactions`` stream (world/rng.py), so the other tables are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lbm_model.transforms import Standardisation
from lbm_model.world import calibration as cal
from lbm_model.world.geography import Geography
from lbm_model.world.indicators import IndicatorSpec
from lbm_model.world.rng import component_rng

FLOOR_AREA_EFFECT = 0.006          # log price per m2 of floor area
BASE_LOG_PRICE = float(np.log(300_000.0)) - FLOOR_AREA_EFFECT * 100.0   # a 100 m2 apartment of 1945-1990 at an average place
DWELLING_TYPE_EFFECTS = {"apartment": 0.0, "terraced": 0.05, "semi_detached": 0.12, "detached": 0.25}
BUILDING_PERIOD_EFFECTS = {"1945-1990": 0.0, "before_1945": 0.04, "after_1990": 0.08}
PRICE_CONTROLS = ("floor_area", "dwelling_type", "building_period")
YEAR_GROWTH = 0.04                 # log price growth per year
PLACE_INDEX_SD = 0.25              # sd of the planted place index over cells (log price)
PRICE_WEIGHT_OVERLAP = 0.7         # correlation of the price weights' shape with the judgement weights'
BUURT_PRICE_SD = 0.08
NOISE_SD = 0.15
SALES_PER_1000_OWNER_HOUSEHOLDS = 150   # over all years (small world: some tens of thousands of sales)


@dataclass
class TransactionsDraw:
    """The transactions table and the planted parameters that made it."""

    frame: pd.DataFrame
    price_weights: dict[str, float]

    def truth(self) -> dict:
        """The price process for truth.json."""
        return {"price_weights": self.price_weights, "base_log_price": BASE_LOG_PRICE,
                "floor_area_effect": FLOOR_AREA_EFFECT, "dwelling_type_effects": DWELLING_TYPE_EFFECTS,
                "building_period_effects": BUILDING_PERIOD_EFFECTS, "year_growth": YEAR_GROWTH,
                "buurt_effect_sd": BUURT_PRICE_SD, "noise_sd": NOISE_SD, "place_index_sd": PLACE_INDEX_SD,
                "weight_overlap": PRICE_WEIGHT_OVERLAP, "n_transactions": int(len(self.frame)),
                "sales_per_1000_owner_households": SALES_PER_1000_OWNER_HOUSEHOLDS}


def price_weights(specs: list[IndicatorSpec], values: np.ndarray, std: dict[str, Standardisation],
                  rng: np.random.Generator) -> dict[str, float]:
    """Per allowed indicator: ``PRICE_WEIGHT_OVERLAP`` of the judgement weights' shape plus an independent
    part, scaled so that the place index has sd ``PLACE_INDEX_SD`` over the base year's cells."""
    allowed = [s for s in specs if not s.stigmatising]
    judgement = np.array([s.weight for s in allowed])
    shape = (judgement - judgement.mean()) / judgement.std()
    own = rng.standard_normal(len(allowed))
    raw = PRICE_WEIGHT_OVERLAP * shape + np.sqrt(1 - PRICE_WEIGHT_OVERLAP ** 2) * own
    index_sd = cal.linear_term(values, specs, std, dict(zip((s.name for s in allowed), raw))).std()
    return {s.name: float(w * PLACE_INDEX_SD / index_sd) for s, w in zip(allowed, raw)}


def _dwellings(urbanity: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Floor area, type and building period of the sold dwellings (more, smaller apartments in towns)."""
    n = urbanity.size
    town = np.clip(urbanity, 0.0, 1.0)
    type_p = np.column_stack([0.15 + 0.5 * town, np.full(n, 0.35), 0.3 - 0.2 * town, 0.2 - 0.15 * town])
    cum = np.cumsum(type_p / type_p.sum(axis=1, keepdims=True), axis=1)
    kind = np.asarray(tuple(DWELLING_TYPE_EFFECTS), dtype=object)[(rng.uniform(size=(n, 1)) > cum[:, :-1]).sum(axis=1)]
    base_area = np.vectorize({"apartment": 75.0, "terraced": 110.0, "semi_detached": 135.0, "detached": 165.0}.get)(kind)
    area = np.round(base_area * rng.lognormal(0.0, 0.2, n))
    period = np.asarray(tuple(BUILDING_PERIOD_EFFECTS), dtype=object)[rng.integers(0, len(BUILDING_PERIOD_EFFECTS), n)]
    return {"floor_area": area, "dwelling_type": kind, "building_period": period}


def dwelling_term(dwellings: dict[str, np.ndarray]) -> np.ndarray:
    """The planted effect of the dwelling itself on log price."""
    return (FLOOR_AREA_EFFECT * dwellings["floor_area"]
            + np.vectorize(DWELLING_TYPE_EFFECTS.get)(dwellings["dwelling_type"]).astype(float)
            + np.vectorize(BUILDING_PERIOD_EFFECTS.get)(dwellings["building_period"]).astype(float))


def simulate_transactions(geo: Geography, specs: list[IndicatorSpec], values: dict[int, np.ndarray],
                          std: dict[str, Standardisation], owner_share: dict[int, np.ndarray], years: tuple[int, ...],
                          base_year: int, seed: int) -> TransactionsDraw:
    """Sales of every year with their dwelling controls and prices (ids T0000001...)."""
    weights = price_weights(specs, values[base_year], std, component_rng(seed, "transactions"))
    buurt = BUURT_PRICE_SD * component_rng(seed, "transactions", 1).standard_normal(int(geo.buurt.max()) + 1)
    parts = []
    for year in years:
        rng = component_rng(seed, "transactions", 2, year)
        owners = geo.households[year] * np.clip(owner_share[year], 0.0, 1.0)
        n = int(round(SALES_PER_1000_OWNER_HOUSEHOLDS / 1000 * owners.sum() / len(years)))
        cells = np.sort(rng.choice(geo.n_cells, size=n, p=owners / owners.sum()))
        dwellings = _dwellings(geo.urbanity[cells], rng)
        place = cal.linear_term(values[year], specs, std, weights)[cells]
        log_price = (BASE_LOG_PRICE + YEAR_GROWTH * (year - years[0]) + place + dwelling_term(dwellings)
                     + buurt[geo.buurt[cells]] + NOISE_SD * rng.standard_normal(n))
        parts.append(pd.DataFrame({"year": np.full(n, year, np.int64), "cell_id": geo.cell_id[cells],
                                   "price": np.round(np.exp(log_price), -2), **dwellings}))
    frame = pd.concat(parts, ignore_index=True)
    frame["floor_area"] = frame["floor_area"].astype(float)
    frame.insert(0, "transaction_id", [f"T{i:07d}" for i in range(1, len(frame) + 1)])
    return TransactionsDraw(frame=frame, price_weights=weights)
