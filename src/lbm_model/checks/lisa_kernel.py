"""Conditional randomisation for local Moran's I, compiled once per machine and linear in n.

esda's ``Moran_Local`` draws the same permutations (``esda.crand.vec_permutations``) but
compiles its randomisation loop afresh in every process (it takes the statistic as a
function argument, which numba cannot cache: 15-60 s per run on the development machine) and
copies a length-n mask for every observation (quadratic in n). This kernel computes the same
pseudo p-values from the same permuted ids: for observation i, replicate r and neighbour slot
m it reads ``z`` at position ``permuted_ids[r, m]`` of the other sites (skipping i by an index
shift instead of a mask), in parallel over observations, cached on disk (numba
``cache=True``; see lbm_model.score_kernel for where the cache lives).

Reference: Anselin, L. (1995). Local indicators of spatial association - LISA.
Geographical Analysis 27, 93-115.
"""

from __future__ import annotations

import warnings

import numba
import numpy as np
from scipy import sparse

_ESDA_CACHING: list[bool] = []


@numba.njit(parallel=True, cache=True)
def folded_pseudo_p(z, indptr, weights, self_weights, observed, permuted_ids, scaling,
                    island_weight):  # pragma: no cover - compiled
    """esda's ``directed`` pseudo p-value of every local statistic (float32, as esda returns it)."""
    n = len(z)
    permutations = permuted_ids.shape[0]
    p_sim = np.empty(n, np.float32)
    for i in numba.prange(n):
        start, cardinality = indptr[i], indptr[i + 1] - indptr[i]
        larger = 0
        for r in range(permutations):
            lag = 0.0
            if cardinality == 0:                   # an island: one "fake" neighbour with island_weight
                j = permuted_ids[r, 0]
                lag = z[j if j < i else j + 1] * island_weight
                statistic = z[i] * lag * scaling
            else:
                for m in range(cardinality):
                    j = permuted_ids[r, m]         # position among the other sites: skip i
                    lag += z[j if j < i else j + 1] * weights[start + m]
                statistic = z[i] * (lag + self_weights[i] * z[i]) * scaling
            if statistic >= observed[i]:
                larger += 1
        if permutations - larger < larger:
            larger = permutations - larger
        p_sim[i] = (larger + 1.0) / (permutations + 1.0)
    return p_sim


def conditional_randomisation(z: np.ndarray, w_sparse, observed: np.ndarray, permutations: int, seed: int,
                              island_weight: float = 0.0) -> np.ndarray:
    """Pseudo p-values of local Moran's I as ``esda.Moran_Local(..., seed=seed)`` computes them.

    ``z`` is the standardised variable and ``w_sparse`` the transformed weights (as esda holds
    them), ``observed`` the local statistics.
    """
    from esda.crand import vec_permutations

    if not _ESDA_CACHING:
        vec_permutations.enable_caching()          # esda's permutation draws, compiled once per machine too
        _ESDA_CACHING.append(True)
    adjacency = sparse.csr_matrix(w_sparse, dtype=float, copy=True)   # esda's steps, in esda's storage order
    self_weights = adjacency.diagonal()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # changing the diagonal's sparsity warns; it is cheap here
        adjacency.setdiag(0)
    adjacency.eliminate_zeros()
    cardinalities = np.diff(adjacency.indptr)
    z = np.asarray(z, float)
    permuted_ids = vec_permutations(max(int(cardinalities.max()), 1), len(z), int(permutations), int(seed))
    return folded_pseudo_p(z, adjacency.indptr.astype(np.int64), adjacency.data.astype(float), self_weights.astype(float),
                           np.asarray(observed, float), permuted_ids, (len(z) - 1) / float((z * z).sum()),
                           float(island_weight))
