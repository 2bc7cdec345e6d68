"""Local Moran's pseudo p-values from the cached kernel against esda's own conditional randomisation.

esda is the reference: the kernel must give esda's statistics, quadrants and p-values exactly
(same seed, same permutation draws). esda compiles its loop in every process (15-60 s), hence slow.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

libpysal = pytest.importorskip("libpysal")

from lbm_model.checks.moran import local_moran  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("case", ["columbus", "knn_with_islands_free_random"])
def test_local_moran_equals_esda(case):
    import esda
    from libpysal.examples import get_path

    if case == "columbus":
        db = libpysal.io.open(get_path("columbus.dbf"))
        values = np.array(db.by_col("CRIME"), float)
        w = libpysal.io.open(get_path("spdep_listw2WB_columbus"), "r", "geobugs_text").read()
    else:
        rng = np.random.default_rng(4)
        points = rng.uniform(0, 100, (1500, 2))
        w = libpysal.weights.KNN.from_array(points, k=7)
        values = rng.normal(size=1500) + points[:, 0] / 40          # a trend: clusters exist
    ours = local_moran(values, w, permutations=999, seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        reference = esda.Moran_Local(values, w, transformation="r", permutations=999, seed=11, keep_simulations=False)
    np.testing.assert_array_equal(ours.Is, reference.Is)
    np.testing.assert_array_equal(ours.quadrant, reference.q)
    np.testing.assert_array_equal(ours.p_sim, np.asarray(reference.p_sim, float))
    assert (ours.p_sim < 0.05).sum() >= 3                              # significant clusters are found
    assert len(np.unique(ours.p_sim)) > 10


def test_local_moran_p_values_are_seeded_and_bounded():
    rng = np.random.default_rng(5)
    points = rng.uniform(0, 100, (400, 2))
    w = libpysal.weights.KNN.from_array(points, k=5)
    values = points[:, 0] + rng.normal(0, 10, 400)                      # strong east-west trend
    first, again = local_moran(values, w, 199, seed=3), local_moran(values, w, 199, seed=3)
    np.testing.assert_array_equal(first.p_sim, again.p_sim)
    assert not np.array_equal(first.p_sim, local_moran(values, w, 199, seed=4).p_sim)
    assert first.p_sim.min() == np.float32(1 / 200) and first.p_sim.max() <= np.float32(100 / 200)  # float32 as esda
    assert (first.label[first.p_sim < 0.05] != "not significant").all()
    assert set(first.label[first.p_sim < 0.05]) <= {"high-high", "low-low", "low-high", "high-low"}
    assert {"high-high", "low-low"} <= set(first.label)                 # the trend's two ends
