"""Global Moran's I from the compiled permutation kernel against esda, the reference.

The statistic and its moments under normality must be esda's to rounding; the permutation
summaries come from other random draws than esda's, so they must agree within Monte Carlo
error (the mean of 999 simulated I within 4 of their standard errors, p-values on the same side
of the significance threshold with a wide margin).
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

libpysal = pytest.importorskip("libpysal")

from lbm_model.checks.moran import global_moran  # noqa: E402
from lbm_model.checks.moran_kernel import permutation, permuted_moran  # noqa: E402
from lbm_model.checks.weights import build_weights, knn_adjacency  # noqa: E402


def esda_moran(values, graph, permutations, seed):
    import esda

    state = np.random.get_state()
    np.random.seed(seed)
    try:
        return esda.Moran(values, graph, transformation="r", permutations=permutations)
    finally:
        np.random.set_state(state)


@pytest.fixture(scope="module")
def trend_and_noise():
    rng = np.random.default_rng(8)
    points = rng.uniform(0, 10_000, (3000, 2))
    weights = build_weights(points, "knn", k=8)
    trend = np.sin(points[:, 0] / 1500) + rng.normal(0, 1.0, len(points))   # clustered
    noise = rng.normal(size=len(points))                                      # not clustered
    return weights, trend, noise


@pytest.mark.parametrize("case", ["trend", "noise"])
def test_statistic_moments_and_p_values_agree_with_esda(trend_and_noise, case):
    weights, trend, noise = trend_and_noise
    values = trend if case == "trend" else noise
    ours = global_moran(values, weights.graph, 999, seed=3)
    reference = esda_moran(values, weights.graph, 999, seed=3)
    assert ours.I == pytest.approx(reference.I, rel=1e-12, abs=1e-14)
    assert ours.EI == pytest.approx(reference.EI, rel=1e-12)
    assert ours.z_norm == pytest.approx(reference.z_norm, rel=1e-10)
    assert ours.p_norm == pytest.approx(reference.p_norm, rel=1e-8, abs=1e-300)
    monte_carlo_se = reference.seI_sim / np.sqrt(999)
    assert abs(ours.EI_sim - reference.EI_sim) < 4 * np.sqrt(2) * monte_carlo_se
    if case == "trend":
        assert ours.p_sim == reference.p_sim == 0.001 and ours.z_sim > 10
    else:        # under the null, p_sim is uniform; both draws give a non-significant value here
        assert ours.p_sim > 0.1 and reference.p_sim > 0.1
        assert abs(ours.z_sim - reference.z_sim) < 0.3


def test_columbus_moments_are_the_published_ones():
    """Anselin (2003), p. 10: moran.test of the OLS residuals under normality (see test_checks_columbus.py)."""
    from libpysal.examples import get_path

    db = libpysal.io.open(get_path("columbus.dbf"))
    y = np.array(db.by_col("CRIME"), float)
    X = np.column_stack([np.ones(len(y)), db.by_col("INC"), db.by_col("HOVAL")])
    w = libpysal.io.open(get_path("spdep_listw2WB_columbus"), "r", "geobugs_text").read()
    e = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    result = global_moran(e, w, 999, seed=1)
    assert round(result.I, 9) == 0.212374153 and round(result.z_norm, 4) == 2.4774
    assert result.p_sim < 0.05


def test_permutations_are_permutations_seeded_by_number():
    values = np.arange(1000, dtype=float)
    first = permutation(values, 7, 0)
    assert np.array_equal(np.sort(first), values) and not np.array_equal(first, values)
    assert np.array_equal(first, permutation(values, 7, 0))
    assert not np.array_equal(first, permutation(values, 7, 1))
    assert not np.array_equal(first, permutation(values, 8, 0))
    # every value lands in every position about equally often (uniform shuffles)
    positions = np.array([np.flatnonzero(permutation(np.arange(10.0), 1, r) == 0)[0] for r in range(5000)])
    counts = np.bincount(positions, minlength=10)
    assert counts.min() > 400 and counts.max() < 600


def test_simulated_values_do_not_depend_on_the_number_of_threads(trend_and_noise):
    weights, trend, _ = trend_and_noise
    z = trend - trend.mean()
    both = permuted_moran(z, weights.graph.sparse, 99, seed=5)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        one = permuted_moran(z, weights.graph.sparse, 99, seed=5)
    finally:
        numba.set_num_threads(threads)
    assert np.array_equal(both, one)
    W = weights.graph.sparse.tocsr()
    shuffled = permutation(z, 5, 42)                  # replicate 42 is z shuffled as permutation() draws it
    assert both[42] == pytest.approx(len(z) / W.sum() * (shuffled @ (W @ shuffled)) / (z @ z), rel=1e-12)


def test_knn_adjacency_equals_libpysal():
    from libpysal.graph import Graph

    points = np.random.default_rng(2).uniform(0, 1000, (500, 2))
    ours = knn_adjacency(points, 6)
    reference = Graph.build_knn(points, k=6).sparse
    assert (ours != reference).nnz == 0 and ours.sum() == 500 * 6
    assert knn_adjacency(np.vstack([points, points[:1]]), 6) is None      # coincident points: libpysal's clique rule

