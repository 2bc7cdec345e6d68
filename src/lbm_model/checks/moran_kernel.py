"""Permutation inference for global Moran's I, compiled once per machine and parallel over both cores.

esda's ``Moran`` draws every permutation with ``np.random.permutation`` and multiplies by the
sparse weights in Python, one permutation at a time: 16 s for 999 permutations at 450k cells,
more than half of it drawing the permutations. This kernel computes the same statistic,
``n / S0 * z_p' W z_p / z' z`` for permuted values ``z_p``, with its own draws: permutation ``r``
is a Fisher-Yates shuffle driven by a SplitMix64 stream seeded by ``(seed, r)``, so every
permutation depends on the seed and its number only, never on which thread ran it or how many
threads there are. Each thread shuffles into one reusable buffer and applies the CSR weights in
the same loop (no n-sized allocation per permutation). The draws differ from esda's (a
different generator), so simulated moments and pseudo p-values agree with esda's within
Monte Carlo error, and the statistic itself is identical (tests/test_moran_kernel.py).
Compiled code is cached on disk (numba ``cache=True``; see lbm_model.score_kernel).

Reference: Moran, P. A. P. (1950). Notes on continuous stochastic phenomena. Biometrika 37, 17-23.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy import sparse

CHUNK = 128   # permutations per kernel call (progress is reported between calls)
GROUP = 8     # permutations sharing one pass over the weights: a cell's 8 permuted values fill one cache line


@numba.njit(inline="always")
def _splitmix64(state):  # pragma: no cover - compiled
    """Next state and its 64-bit output (Steele, Lea and Flood 2014)."""
    state = state + np.uint64(0x9E3779B97F4A7C15)
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return state, z ^ (z >> np.uint64(31))


@numba.njit(inline="always")
def _stream_start(seed, replicate):  # pragma: no cover - compiled
    """The first state of permutation ``replicate``'s stream (seed and number mixed, then one step)."""
    state, _ = _splitmix64((np.uint64(seed) * np.uint64(0xBF58476D1CE4E5B9)) ^ np.uint64(replicate))
    return state


@numba.njit(inline="always")
def _shuffle(values, out, state):  # pragma: no cover - compiled
    """Fisher-Yates: ``out`` becomes a permutation of ``values``.

    Position ``j`` in 0..i comes from the upper 32 bits of a draw times (i + 1) (Lemire's
    multiply-shift; its bias is at most n / 2**32, under 1e-4 at a million cells).
    """
    n = len(values)
    out[:] = values
    for i in range(n - 1, 0, -1):
        state, draw = _splitmix64(state)
        j = np.int64(((draw >> np.uint64(32)) * np.uint64(i + 1)) >> np.uint64(32))
        out[i], out[j] = out[j], out[i]


@numba.njit(cache=True)
def permutation(values, seed, replicate):  # pragma: no cover - compiled
    """Permutation ``replicate`` of ``values`` as the kernel draws it (for tests)."""
    out = np.empty_like(values)
    _shuffle(values, out, _stream_start(seed, replicate))
    return out


@numba.njit(parallel=True, cache=True)
def permuted_cross_products(z, indptr, indices, weights, first, permutations, seed,
                            n_threads):  # pragma: no cover - compiled
    """``z_p' W z_p`` for permutations first..first+permutations-1 of ``z`` (W in CSR arrays).

    Permutations go in groups of ``GROUP``, in parallel over groups; within a group the
    permuted values sit side by side (cells x GROUP), so one pass over the weights serves the
    whole group and each neighbour's values are one contiguous read.
    """
    n = len(z)
    out = np.empty(permutations)
    n_groups = (permutations + GROUP - 1) // GROUP
    n_workers = min(n_threads, max(n_groups, 1))
    for worker in numba.prange(n_workers):
        shuffled = np.empty(n)
        side_by_side = np.zeros((n, GROUP))
        for group in range(worker, n_groups, n_workers):
            start = group * GROUP
            size = min(GROUP, permutations - start)
            for b in range(size):
                _shuffle(z, shuffled, _stream_start(seed, first + start + b))
                for i in range(n):
                    side_by_side[i, b] = shuffled[i]
            totals = np.zeros(GROUP)
            lag = np.empty(GROUP)
            for i in range(n):
                lag[:] = 0.0
                for m in range(indptr[i], indptr[i + 1]):
                    j, w = indices[m], weights[m]
                    for b in range(GROUP):
                        lag[b] += w * side_by_side[j, b]
                for b in range(GROUP):
                    totals[b] += side_by_side[i, b] * lag[b]
            for b in range(size):
                out[start + b] = totals[b]
    return out


def permuted_moran(z: np.ndarray, w_sparse, permutations: int, seed: int) -> np.ndarray:
    """Moran's I of ``permutations`` random permutations of ``z`` (centred values) under ``w_sparse``.

    Runs in chunks of ``CHUNK`` permutations so that a progress bar (with ETA) can follow them;
    chunking does not change the draws.
    """
    from lbm_model.progress import track

    W = sparse.csr_matrix(w_sparse, dtype=float)
    z = np.ascontiguousarray(z, dtype=float)
    indptr, indices = W.indptr.astype(np.int64), W.indices.astype(np.int32)
    starts = range(0, int(permutations), CHUNK)
    cross = np.concatenate([np.empty(0)] + [
        permuted_cross_products(z, indptr, indices, W.data, start, min(CHUNK, int(permutations) - start), int(seed),
                                numba.get_num_threads())
        for start in track(starts, len(starts), f"Moran's I, {permutations} permutations of {len(z):,} values")])
    return len(z) / W.sum() * cross / float(z @ z)
