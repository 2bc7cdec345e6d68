"""Spatial weights between points (cell or buurt centres, EPSG:28992 metres): scipy k-d trees, sparse matrices.

Two kinds, chosen in ``checks.spatial.weights``: k nearest neighbours and a binary distance band.
Both are row-standardised. Points without any neighbour inside a distance band
(islands) are dropped from that analysis and counted, so Moran's I is never diluted by
rows of zeros.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import sparse

KINDS = ("knn", "distance_band")


@dataclass(frozen=True)
class SpatialWeights:
    """Row-standardised weights over the points ``keep`` (positions in the input)."""

    sparse: sparse.csr_matrix   # n x n, every row sums to one
    keep: np.ndarray            # positions of the points that take part
    kind: str
    description: str
    n_input: int

    @cached_property
    def graph(self):
        """The same weights as a libpysal Graph (built on first use: esda's local Moran takes one; at
        hundreds of thousands of cells building it costs seconds the global statistics do not need)."""
        from libpysal.graph import Graph

        return Graph.from_sparse(self.sparse)

    def lag(self, values: np.ndarray) -> np.ndarray:
        """The spatial lag: the weighted mean of each point's neighbours' ``values``."""
        return self.sparse @ np.asarray(values, float)

    @property
    def n(self) -> int:
        return int(len(self.keep))

    @property
    def n_dropped(self) -> int:
        """Points left out (islands of a distance band)."""
        return int(self.n_input - len(self.keep))


def distance_band_adjacency(xy: np.ndarray, threshold_m: float) -> sparse.csr_matrix:
    """Binary symmetric adjacency of points at most ``threshold_m`` apart (k-d tree pairs, no self-links).

    Equivalent to libpysal's ``Graph.build_distance_band(binary=True)`` but built from
    scipy's k-d tree pairs, which is one to two orders of magnitude faster for hundreds of
    thousands of cells.
    """
    from scipy.spatial import cKDTree

    pairs = cKDTree(xy).query_pairs(threshold_m, output_type="ndarray")
    n = len(xy)
    rows = np.concatenate([pairs[:, 0], pairs[:, 1]])
    cols = np.concatenate([pairs[:, 1], pairs[:, 0]])
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))


def knn_adjacency(xy: np.ndarray, k: int) -> sparse.csr_matrix | None:
    """Binary adjacency of every point to its ``k`` nearest others (scipy k-d tree), or None when
    two points coincide (libpysal's ``Graph.build_knn(coplanar="clique")`` handles those).

    Equivalent to ``Graph.build_knn`` for distinct points, and about ten times faster at
    hundreds of thousands of cells (it validates no geometries).
    """
    from scipy.spatial import cKDTree

    if len(np.unique(xy, axis=0)) < len(xy):
        return None
    _, neighbours = cKDTree(xy).query(xy, k=k + 1)
    n = len(xy)
    # distinct points: each point's nearest is itself, at distance 0
    return sparse.csr_matrix((np.ones(n * k), (np.repeat(np.arange(n), k), neighbours[:, 1:].ravel())), shape=(n, n))


def build_weights(xy: np.ndarray, kind: str, *, k: int = 8, threshold_m: float | None = None) -> SpatialWeights:
    """k-nearest-neighbour or distance-band weights between the rows of ``xy`` (metres).

    Parameters
    ----------
    xy : (n, 2) array of coordinates in metres.
    kind : ``knn`` or ``distance_band``.
    k : neighbours per point for ``knn`` (reduced to n - 1 for tiny inputs).
    threshold_m : band radius in metres for ``distance_band``.
    """
    xy = np.asarray(xy, dtype=float)
    n = len(xy)
    if n < 3:
        raise ValueError(f"spatial weights need at least 3 points, got {n}")
    if kind == "knn":
        k_used = int(min(k, n - 1))
        adjacency = knn_adjacency(xy, k_used)
        if adjacency is None:
            from libpysal.graph import Graph

            adjacency = Graph.build_knn(xy, k=k_used, coplanar="clique").sparse
        return SpatialWeights(row_standardised(adjacency), np.arange(n), kind,
                              f"{k_used} nearest neighbours, row-standardised", n)
    if kind == "distance_band":
        if threshold_m is None or threshold_m <= 0:
            raise ValueError("distance_band weights need a positive threshold in metres")
        adjacency = distance_band_adjacency(xy, float(threshold_m))
        keep = np.flatnonzero(np.asarray(adjacency.sum(axis=1)).ravel() > 0)
        if len(keep) < 3:
            raise ValueError(f"a {threshold_m:g} m distance band leaves fewer than 3 connected points")
        return SpatialWeights(row_standardised(adjacency[keep][:, keep]), keep, kind,
                              f"binary distance band {threshold_m:g} m, row-standardised", n)
    raise ValueError(f"unknown weights kind {kind!r}; expected one of {', '.join(KINDS)}")


def row_standardised(adjacency) -> sparse.csr_matrix:
    """The weights with every non-empty row summing to one (libpysal's transform 'r')."""
    W = sparse.csr_matrix(adjacency, dtype=float)
    sums = np.asarray(W.sum(axis=1)).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums != 0)
    return sparse.csr_matrix(sparse.diags(scale) @ W)
