"""Settlements and inhabited cells: cities as density peaks, villages and scattered farms.

Each settlement is a noisy disc of 100 m cells around its centre. Households per cell
fall off from the centre (``exp(-FALLOFF * rho)``, rho = distance / radius) with
lognormal cell noise; bigger settlements are denser. Rural cells are scattered with a
smooth intensity and hold a few households each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lbm_model.world.fields import FieldMaker
from lbm_model.world.scales import ScalePreset

CELL_M = 100.0
FALLOFF = 2.0
RURAL_RHO = 1.6  # relative distance given to cells outside any settlement
PLACEMENT_ATTEMPTS = 5_000


def mean_density(households: np.ndarray) -> np.ndarray:
    """Mean households per inhabited cell of a settlement of the given size."""
    return 11.0 * (np.asarray(households, float) / 1000.0) ** 0.3


@dataclass(frozen=True)
class Settlements:
    """Settlement centres (metres), radii (metres) and sizes (households, 2020)."""

    x: np.ndarray
    y: np.ndarray
    radius: np.ndarray
    households: np.ndarray
    is_seat: np.ndarray  # municipal seat (the first n_gemeenten, largest first)
    new_town: np.ndarray  # built after 1970: no historic centre


def settlement_sizes(preset: ScalePreset, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Household counts of municipal seats (rank-size) and villages (log-uniform)."""
    ranks = np.arange(1, preset.n_gemeenten + 1)
    seats = preset.top_households * ranks ** -preset.zipf * rng.lognormal(0.0, 0.08, ranks.size)
    seats = np.sort(seats)[::-1]
    lo, hi = np.log(preset.village_households[0]), np.log(preset.village_households[1])
    villages = np.exp(rng.uniform(lo, hi, preset.n_villages))
    return seats, np.minimum(villages, seats.min())


def place_settlements(preset: ScalePreset, rng: np.random.Generator) -> Settlements:
    """Place settlements largest first, without overlap, inside the bounding box."""
    seats, villages = settlement_sizes(preset, rng)
    sizes = np.concatenate([seats, np.sort(villages)[::-1]])
    cells = sizes / mean_density(sizes)
    radius = np.sqrt(cells * CELL_M**2 / (np.pi * 0.8))
    xmin, ymin, xmax, ymax = preset.bbox
    xs, ys = np.empty(sizes.size), np.empty(sizes.size)
    for i, r in enumerate(radius):
        margin = min(r, 0.45 * (xmax - xmin))
        for _ in range(PLACEMENT_ATTEMPTS):  # rejection sampling; the last draw stands if none fits
            cx, cy = rng.uniform(xmin + margin, xmax - margin), rng.uniform(ymin + margin, ymax - margin)
            if i == 0 or (np.hypot(xs[:i] - cx, ys[:i] - cy) - 1.15 * (radius[:i] + r) - 600.0).min() > 0:
                break
        xs[i], ys[i] = cx, cy
    is_seat = np.arange(sizes.size) < seats.size
    new_town = is_seat & (rng.uniform(size=sizes.size) < 0.08) & (np.arange(sizes.size) >= 4)
    return Settlements(xs, ys, radius, sizes, is_seat, new_town)


def settlement_cells(s: Settlements, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cells (integer 100 m indices), owning settlement, relative distance and households."""
    parts: list[tuple[np.ndarray, ...]] = []
    for k in range(s.x.size):
        r_out = 1.35 * s.radius[k]
        span = np.arange(-np.ceil(r_out / CELL_M), np.ceil(r_out / CELL_M) + 1)
        gx, gy = np.meshgrid(np.floor(s.x[k] / CELL_M) + span, np.floor(s.y[k] / CELL_M) + span)
        dx, dy = (gx + 0.5) * CELL_M - s.x[k], (gy + 0.5) * CELL_M - s.y[k]
        theta = np.arctan2(dy, dx)
        wobble = sum(rng.uniform(0, 0.12) * np.cos(m * theta + rng.uniform(0, 2 * np.pi)) for m in (2, 3, 4, 5))
        rho = np.hypot(dx, dy) / (s.radius[k] * (1.0 + wobble))
        keep = (rho < 1.0) & (rng.uniform(size=rho.shape) < 0.95 - 0.2 * rho)
        rho = rho[keep]
        level = np.exp(-FALLOFF * rho) * rng.lognormal(0.0, 0.45, rho.size)
        households = level * s.households[k] / level.sum()
        parts.append((gx[keep], gy[keep], np.full(rho.size, k), rho, households))
    ix, iy, owner, rho, households = (np.concatenate(p) for p in zip(*parts))
    return ix.astype(np.int64), iy.astype(np.int64), owner.astype(np.int64), rho, households


def rural_cells(preset: ScalePreset, n: int, rng: np.random.Generator, raster_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Scattered rural cells (integer 100 m indices) with a smooth, clustered intensity."""
    xmin, ymin, xmax, ymax = preset.bbox
    gx = np.arange(xmin, xmax, raster_m) + raster_m / 2
    gy = np.arange(ymin, ymax, raster_m) + raster_m / 2
    px, py = (a.ravel() for a in np.meshgrid(gx, gy))
    intensity = np.exp(1.3 * FieldMaker(px, py, raster_m).field(rng, 4_000.0).astype(float))
    pick = rng.choice(px.size, size=n, p=intensity / intensity.sum())
    x = px[pick] + rng.uniform(-raster_m / 2, raster_m / 2, n)
    y = py[pick] + rng.uniform(-raster_m / 2, raster_m / 2, n)
    return np.floor(x / CELL_M).astype(np.int64), np.floor(y / CELL_M).astype(np.int64)


def merge_cells(preset: ScalePreset, s: Settlements, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """All inhabited cells once each, sorted by cell id, with base-year households."""
    ix, iy, owner, rho, hh = settlement_cells(s, rng)
    rx, ry = rural_cells(preset, preset.n_rural_cells, rng, preset.raster_m)
    rural_hh = rng.geometric(0.4, rx.size) + rng.uniform(0.0, 1.0, rx.size)
    ix, iy = np.concatenate([ix, rx]), np.concatenate([iy, ry])
    owner = np.concatenate([owner, np.full(rx.size, -1)])
    rho = np.concatenate([rho, np.full(rx.size, RURAL_RHO)])
    hh = np.concatenate([hh, rural_hh])
    key = ix * 100_000 + iy
    order = np.lexsort((-hh, key))  # per cell keep the settlement contributing most households
    key, ix, iy, owner, rho, hh = (a[order] for a in (key, ix, iy, owner, rho, hh))
    first = np.r_[True, key[1:] != key[:-1]]
    total_hh = np.add.reduceat(hh, np.flatnonzero(first))
    households = np.floor(total_hh + rng.uniform(size=total_hh.size)).astype(np.int64)
    return {
        "ix": ix[first], "iy": iy[first], "settlement": owner[first], "rho": rho[first],
        "households": np.maximum(households, 1),
    }
