"""The behaviour model (model=hedonic) on the synthetic world's transactions.

Recovery of the planted price weights (truth.json, ``transactions``), the dwelling controls and the
year effects; the family contract (fit, audit, freeze, verified load, scoring exactly like the fit);
the recorded scale rule; no transaction id in any artifact.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from lbm_model.audit import run_audit
from lbm_model.classes import ThresholdRule
from lbm_model.errors import LbmError
from lbm_model.estimators import FAMILIES, Hedonic
from lbm_model.frozen import read_frozen_model
from lbm_model.recalibrate import class_thresholds, fit_model, freeze, select_indicators
from lbm_model.scoring import CompiledScorer

pytestmark = pytest.mark.slow   # fits, audits and freezes on the small world


@pytest.fixture(scope="module")
def truth(small_world):
    return json.loads((small_world / "truth.json").read_text())["transactions"]


@pytest.fixture(scope="module")
def fitted(market_inputs):
    return fit_model(market_inputs, Hedonic(), select_indicators(market_inputs))


def test_price_weights_are_recovered_from_the_planted_truth(fitted, truth):
    planted = pd.Series(truth["price_weights"])
    estimated = fitted.results.weights.reindex(planted.index)
    assert np.corrcoef(estimated, planted)[0, 1] >= 0.95
    # the planted weights are recovered within their clustered standard errors, not just in shape
    z = (estimated - planted) / fitted.results.standard_errors.reindex(planted.index)
    assert np.mean(np.abs(z) < 1.96) > 0.85


def test_dwelling_controls_and_year_effects_are_recovered_and_not_scored(fitted, truth):
    coefs = fitted.results.control_coefs
    assert coefs["floor_area"] == pytest.approx(truth["floor_area_effect"], rel=0.05)
    for level, effect in truth["dwelling_type_effects"].items():
        if effect:
            assert coefs[f"dwelling_type[{level}]"] == pytest.approx(effect, abs=0.015)
    years = sorted(int(k.removeprefix("year[").removesuffix("]")) for k in coefs.index if k.startswith("year["))
    assert years == [2016, 2018, 2020]          # 2014 is the reference year
    for year in years:
        assert coefs[f"year[{year}]"] == pytest.approx(truth["year_growth"] * (year - 2014), abs=0.01)
    assert not set(coefs.index) & set(fitted.results.weights.index)


def test_the_price_weights_differ_from_the_judgement_weights(small_world, truth):
    judgement = json.loads((small_world / "truth.json").read_text())["weights"]
    names = list(truth["price_weights"])
    r = np.corrcoef([judgement[n] for n in names], [truth["price_weights"][n] for n in names])[0, 1]
    assert 0.4 < r < 0.9       # overlap, but a different model


def test_sales_are_more_frequent_where_dwellings_are_owner_occupied(small_world, market_inputs):
    cells = market_inputs.cells
    sales = market_inputs.transactions.groupby(["cell_id", "year"]).size().rename("sales")
    frame = cells.join(sales, on=["cell_id", "year"]).fillna({"sales": 0})
    owner = 1 - frame["social_rent_share"] - frame["private_rent_share"]
    high, low = owner > owner.quantile(0.75), owner < owner.quantile(0.25)
    per_household = lambda mask: frame.loc[mask, "sales"].sum() / frame.loc[mask, "households"].sum()  # noqa: E731
    assert per_household(high) > 2 * per_household(low)


def test_scale_rule_gives_the_place_index_the_configured_sd(fitted):
    results = fitted.results
    index = fitted.data.indicators[results.indicator_names].to_numpy() @ results.weights.to_numpy()
    assert np.std(index) * results.judgement_scale == pytest.approx(0.3, rel=1e-12)
    assert "index_sd=0.3" in results.scale_rule and results.params == {"cov_type": "cluster", "index_sd": 0.3}
    np.testing.assert_allclose(results.judgement_weights, results.weights * results.judgement_scale)


def test_clustered_standard_errors_match_statsmodels_ols_directly(fitted):
    import statsmodels.api as sm

    data = fitted.data
    exog = sm.add_constant(pd.concat([data.indicators, data.controls], axis=1))
    direct = sm.OLS(data.response, exog).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(data.cluster)[0]})
    names = fitted.results.indicator_names
    np.testing.assert_allclose(fitted.results.standard_errors[names], direct.bse[names], rtol=1e-8)
    np.testing.assert_allclose(fitted.results.weights[names], direct.params[names], rtol=1e-8)


def test_without_transactions_the_hedonic_model_is_refused(small_inputs):
    with pytest.raises(LbmError, match=r"fitted on sold dwellings, but no transactions table was given; set "
                                       r"data.transactions=PATH"):
        fit_model(small_inputs, Hedonic(), select_indicators(small_inputs))


def test_family_contract_fit_audit_freeze_score_and_no_transaction_id(fitted, market_inputs, fast_checks_config,
                                                                      tmp_path):
    assert FAMILIES["hedonic"] is Hedonic
    rule = ThresholdRule(base_year=2020)
    thresholds = class_thresholds(fitted, market_inputs.cells, rule)
    audit = run_audit(market_inputs, fitted, thresholds, 2020, fast_checks_config, tmp_path / "export")
    path, content = freeze(fitted, market_inputs, rule, tmp_path / "export", model_version="hedonic-test", seed=0,
                           provenance={}, thresholds=thresholds, audit=audit)
    document = read_frozen_model(path)                                 # sealed and verified on load
    assert document["content"]["estimator"]["family"] == "hedonic"
    assert content["estimation_controls"] == ["floor_area", "dwelling_type", "building_period", "year (fixed effects)"]
    assert content["training_data"]["n_transactions"] == len(market_inputs.transactions)
    assert all(entry["standard_error"] > 0 for entry in content["indicators"])
    scores = CompiledScorer.load(path).score(market_inputs.cells)
    assert np.max(np.abs(scores["score"].to_numpy() - fitted.cell_scores())) < 1e-9
    verdicts = {r.name: r.verdict for r in audit.results}
    assert verdicts["blocked_cv"] in ("pass", "warn") and verdicts["cluster_bootstrap"] in ("pass", "warn")
    summaries = {r.name: r.summary for r in audit.results}               # figures in log price say so
    assert re.search(r"R-squared of the fitted log price \d\.\d{3} \(in sample \d\.\d{3}\), RMSE 0\.\d{3} log price",
                     summaries["blocked_cv"])
    assert "residuals (log price, per transaction)" in summaries["residual_autocorrelation"]
    assert not any("judgement" in text for text in summaries.values())
    ids = set(market_inputs.transactions["transaction_id"])
    pattern = re.compile(r"T\d{7}")
    assert all(pattern.fullmatch(i) for i in ids)                      # the scan would see them
    for file in (tmp_path / "export").rglob("*"):
        if file.is_file():
            found = set(pattern.findall(file.read_text(errors="replace"))) & ids
            assert not found, f"{file} holds transaction ids {sorted(found)[:3]}"


def test_lbm_experiment_model_hedonic_runs_and_no_transaction_id_reaches_mlflow_or_logs(small_world, tmp_path):
    from conftest import run_lbm_experiment

    done = run_lbm_experiment(tmp_path, small_world, "model=hedonic", f"data.transactions={small_world}/transactions.parquet",
                              "checks.run=[collinearity]")
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"hedonic: 94 indicators, 2\d,\d{3} transactions, 3 price controls, year fixed effects", done.stderr)
    content = read_frozen_model(tmp_path / "exports" / "hedonic" / "model.json")["content"]
    assert content["estimator"]["family"] == "hedonic" and "transactions" in content["training_data"]["files"]
    ids = pd.read_parquet(small_world / "transactions.parquet", columns=["transaction_id"])["transaction_id"]
    sample = [i.encode() for i in ids.iloc[:: max(1, len(ids) // 500)]]
    everything = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert any(f.suffix == ".db" for f in everything) and any(f.name == "model.json" for f in everything)
    for file in everything:
        data = file.read_bytes()
        assert not any(i in data for i in sample), f"{file} holds a transaction id"
