"""Golden test: Moran's I of OLS residuals for the Columbus crime data, against published numbers.

Source: Anselin, L. (2003). An Introduction to Spatial Regression Analysis in R. Spatial
Analysis Laboratory, University of Illinois, Urbana-Champaign, pp. 9-10 ("Moran's I Test
for Residual Spatial Autocorrelation" and "What Not To Do"): lm(CRIME ~ INC + HOVAL,
data=columbus) with the row-standardised contiguity weights col.gal.nb (230 links):

    lm.morantest:  Observed Moran's I 0.212374153, Expectation -0.033268284,
                   Variance 0.008394853, standard deviate 2.681, p-value 0.00367
    moran.test on the residuals, randomisation=FALSE ("what not to do"):
                   Moran I 0.212374153, Expectation -0.020833333, standard deviate 2.4774

Data and weights ship with libpysal: examples/columbus/columbus.dbf and
examples/wmat/spdep_listw2WB_columbus (spdep's col.gal.nb in GeoBUGS format). libpysal's
examples/columbus/columbus.gal is a queen contiguity file with 236 links; it gives a
different I (0.2221) and is not the published benchmark's weights.
"""

from __future__ import annotations

import numpy as np
import pytest

libpysal = pytest.importorskip("libpysal")

from lbm_model.checks.moran import global_moran, regression_residual_moran  # noqa: E402


@pytest.fixture(scope="module")
def columbus():
    from libpysal.examples import get_path

    db = libpysal.io.open(get_path("columbus.dbf"))
    y = np.array(db.by_col("CRIME"), float)
    X = np.column_stack([np.ones(len(y)), db.by_col("INC"), db.by_col("HOVAL")])
    w = libpysal.io.open(get_path("spdep_listw2WB_columbus"), "r", "geobugs_text").read()
    assert w.n == 49 and w.nonzero == 230 and list(w.id_order) == list(db.by_col("POLYID"))
    w.transform = "r"
    return y, X, w


def test_ols_coefficients_match_the_published_regression(columbus):
    y, X, _ = columbus
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(beta, [68.6190, -1.5973, -0.2739], atol=5e-5)


def test_residual_moran_matches_lm_morantest(columbus):
    y, X, w = columbus
    result = regression_residual_moran(y, X, w)
    assert round(result.I, 3) == 0.212
    assert result.I == pytest.approx(0.212374153, abs=1e-8)
    assert result.EI == pytest.approx(-0.033268284, abs=1e-8)
    assert result.VI == pytest.approx(0.008394853, abs=1e-8)
    assert round(result.z, 3) == 2.681
    assert result.p_greater == pytest.approx(0.00367, abs=5e-6)


def test_residual_moran_with_a_libpysal_graph_gives_the_same(columbus):
    y, X, w = columbus
    graph = libpysal.graph.Graph.from_W(w).transform("r")
    assert regression_residual_moran(y, X, graph).z == pytest.approx(2.681000, abs=1e-5)


def test_esda_moran_of_the_residuals_matches_the_naive_published_test(columbus):
    y, X, w = columbus
    e = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    result = global_moran(e, w, permutations=99, seed=1)
    assert round(result.I, 3) == 0.212
    assert result.EI == pytest.approx(-0.020833333, abs=1e-8)
    assert round(result.z_norm, 4) == 2.4774
    assert 0 < result.p_sim < 0.05


def test_permutation_inference_is_seeded_and_leaves_numpy_state_alone(columbus):
    y, X, w = columbus
    e = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    first = global_moran(e, w, permutations=199, seed=7)
    assert np.random.random() == before
    assert global_moran(e, w, permutations=199, seed=7) == first
    assert global_moran(e, w, permutations=199, seed=8).EI_sim != first.EI_sim
