"""Administrative areas: gemeenten around the municipal seats, wijken and buurten inside them.

Gemeenten are an additively weighted Voronoi partition (distance to a seat minus 1.5 times
its radius), so a city's gemeente covers the city and its hinterland. Inside each
gemeente, buurten are household-weighted k-means clusters of cells (denser areas get
smaller buurten) and wijken are clusters of buurt centroids. Codes follow CBS:
``GM0363``, ``WK036301``, ``BU03630101``.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from lbm_model.world.settlements import Settlements

G4_CODES = (363, 599, 518, 344)  # Amsterdam, Rotterdam, 's-Gravenhage, Utrecht


def assign_gemeenten(x: np.ndarray, y: np.ndarray, s: Settlements) -> np.ndarray:
    """Index of the gemeente (= municipal seat) of every cell."""
    seats = np.flatnonzero(s.is_seat)
    out = np.empty(x.size, dtype=np.int64)
    for start in range(0, x.size, 20_000):
        sl = slice(start, start + 20_000)
        d = np.hypot(x[sl, None] - s.x[None, seats], y[sl, None] - s.y[None, seats]) - 1.5 * s.radius[None, seats]
        out[sl] = np.argmin(d, axis=1)
    return out


def _kmeans(points: np.ndarray, weights: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 6) -> np.ndarray:
    """Weighted Lloyd iterations from weighted random seeds; labels 0..k'-1 (empty clusters dropped)."""
    k = max(1, min(k, points.shape[0]))
    centres = points[rng.choice(points.shape[0], size=k, replace=False, p=weights / weights.sum())]
    for _ in range(iterations):
        labels = cKDTree(centres).query(points)[1]
        mass = np.bincount(labels, weights=weights, minlength=k)
        used = mass > 0
        sums = np.stack([np.bincount(labels, weights=weights * points[:, d], minlength=k) for d in (0, 1)], axis=1)
        centres = sums[used] / mass[used, None]
    labels = cKDTree(centres).query(points)[1]
    return np.unique(labels, return_inverse=True)[1]


def allocate(total: int, sizes: np.ndarray, power: float, minimum: int, maximum: int | None = None) -> np.ndarray:
    """Split ``total`` units over groups proportionally to ``sizes ** power`` (largest remainder)."""
    share = sizes.astype(float) ** power
    raw = total * share / share.sum()
    counts = np.floor(raw).astype(np.int64)
    counts[np.argsort(-(raw - counts))[: total - counts.sum()]] += 1
    counts = np.maximum(counts, minimum)
    return counts if maximum is None else np.minimum(counts, maximum)


def partition(
    x: np.ndarray, y: np.ndarray, households: np.ndarray, gemeente: np.ndarray,
    n_buurten: int, n_wijken: int, rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Per cell a gemeente-local wijk number (1..99) and wijk-local buurt number (1..99)."""
    n_gm = int(gemeente.max()) + 1
    gm_households = np.bincount(gemeente, weights=households, minlength=n_gm)
    buurten_per_gm = allocate(n_buurten, gm_households, 0.9, minimum=2)
    wijk_no, buurt_no = np.zeros(x.size, np.int64), np.zeros(x.size, np.int64)
    points = np.column_stack([x, y])
    for g in range(n_gm):
        idx = np.flatnonzero(gemeente == g)
        w = households[idx] + 2.0
        buurt = _kmeans(points[idx], w, int(buurten_per_gm[g]), rng)
        nb = int(buurt.max()) + 1
        mass = np.bincount(buurt, weights=w, minlength=nb)
        centroids = np.stack([np.bincount(buurt, weights=w * points[idx, d]) / mass for d in (0, 1)], axis=1)
        n_wk = int(np.clip(round(nb * n_wijken / n_buurten), 1, 99))
        wijk_of_buurt = _kmeans(centroids, mass, n_wk, rng)
        local = np.zeros(nb, np.int64)  # buurt number inside its wijk
        for wk in range(int(wijk_of_buurt.max()) + 1):
            members = np.flatnonzero(wijk_of_buurt == wk)
            local[members] = np.arange(1, members.size + 1)
        wijk_no[idx] = wijk_of_buurt[buurt] + 1
        buurt_no[idx] = local[buurt]
    if buurt_no.max() > 99:
        raise ValueError("a wijk got more than 99 buurten; adjust the preset's wijk/buurt counts")
    return wijk_no, buurt_no


def gemeente_numbers(n: int, ranked: np.ndarray, n_g4: int, rng: np.random.Generator) -> np.ndarray:
    """Four-digit CBS-like numbers: the G4 get the real G4 codes, the rest random unique ones."""
    pool = np.setdiff1d(np.arange(1, 2000), G4_CODES)
    numbers = np.sort(rng.choice(pool, size=n, replace=False))
    out = np.empty(n, np.int64)
    top = ranked[: min(n_g4, len(G4_CODES), n)]
    out[top] = G4_CODES[: top.size]
    rest = np.setdiff1d(np.arange(n), top)
    out[rest] = numbers[: rest.size]
    return out


def municipality_groups(gm_households: np.ndarray, n_g4: int, n_g40: int) -> tuple[np.ndarray, np.ndarray]:
    """Rank gemeenten by households; the largest ``n_g4`` are G4, the next ``n_g40`` G40."""
    ranked = np.argsort(-gm_households, kind="stable")
    group = np.full(gm_households.size, "rest", dtype=object)
    group[ranked[:n_g4]] = "G4"
    group[ranked[n_g4 : n_g4 + n_g40]] = "G40"
    return ranked, group


def area_codes(gm_number: np.ndarray, wijk_no: np.ndarray, buurt_no: np.ndarray) -> tuple[np.ndarray, ...]:
    """CBS-style gemeente, wijk and buurt codes per cell."""
    gm = np.char.zfill(gm_number.astype(str), 4)
    wk = np.char.add(gm, np.char.zfill(wijk_no.astype(str), 2))
    bu = np.char.add(wk, np.char.zfill(buurt_no.astype(str), 2))
    return np.char.add("GM", gm), np.char.add("WK", wk), np.char.add("BU", bu)
