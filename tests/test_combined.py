"""The combined model (model=combined): judgement and behaviour model on one indicator set, one weight set.

The combined weights equal the recorded rule applied to the two component fits, fitted here on their
own (estimators/combined.py); shares (1, 0) give the judgement model and (0, 1) the behaviour model
exactly; the standard errors combine the components' covariances; model.json records both components;
freeze, verified load and scoring work unchanged; no transaction or respondent id reaches an artifact.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess

import numpy as np
import pandas as pd
import pytest

from lbm_model.audit import run_audit
from lbm_model.classes import ThresholdRule
from lbm_model.errors import ConfigError, LbmError
from lbm_model.estimators import FAMILIES, Combined, Hedonic, LeastSquares, OrdinalLogit
from lbm_model.frozen import read_frozen_model
from lbm_model.recalibrate import class_thresholds, fit_model, freeze, select_indicators
from lbm_model.scoring import CompiledScorer

pytestmark = pytest.mark.slow   # several ordinal and hedonic fits on the small world


@pytest.fixture(scope="module")
def components(market_inputs):
    """The two component models fitted on their own: (judgement, behaviour)."""
    indicators = select_indicators(market_inputs)
    return (fit_model(market_inputs, OrdinalLogit(), indicators), fit_model(market_inputs, Hedonic(), indicators))


@pytest.fixture(scope="module")
def fitted(market_inputs):
    return fit_model(market_inputs, Combined(judgement_share=0.6, behaviour_share=0.4), select_indicators(market_inputs))


def test_combined_weights_are_the_rule_applied_to_the_two_component_fits(fitted, components):
    judgement, behaviour = (c.results for c in components)
    names = judgement.indicator_names
    survey_index = fitted.data.indicators[names].to_numpy() @ judgement.judgement_weights.to_numpy()
    market_index = behaviour.fit_stats.extra["place_index_sd_log_price"]
    sd_j, sd_b = np.std(survey_index), market_index
    expected = 0.6 * sd_j / sd_j * judgement.judgement_weights + 0.4 * sd_j / sd_b * behaviour.weights
    np.testing.assert_array_equal(fitted.results.judgement_weights[names].to_numpy(), expected[names].to_numpy())
    # the component fits inside the combined model are the stand-alone fits, bit for bit
    extras = fitted.results.extras
    np.testing.assert_array_equal(extras.judgement.weights, judgement.weights)
    np.testing.assert_array_equal(extras.behaviour.weights, behaviour.weights)
    # standard errors: independent samples, factors held fixed
    fj, fb = 0.6, 0.4 * sd_j / sd_b
    se = np.sqrt((fj * judgement.judgement_standard_errors) ** 2 + (fb * behaviour.standard_errors) ** 2)
    np.testing.assert_allclose(fitted.results.standard_errors[names], se[names], rtol=1e-12)
    assert fitted.results.judgement_scale == 1.0 and "index_sd_mean" in fitted.results.scale_rule


@pytest.mark.parametrize("family", ["ordinal_logit", "least_squares"])
def test_shares_one_zero_give_the_judgement_model(market_inputs, components, family):
    indicators = select_indicators(market_inputs)
    combined = fit_model(market_inputs, Combined(judgement=family, judgement_share=1.0, behaviour_share=0.0), indicators)
    alone = components[0] if family == "ordinal_logit" else fit_model(market_inputs, LeastSquares(), indicators)
    np.testing.assert_array_equal(combined.results.judgement_weights, alone.results.judgement_weights)
    np.testing.assert_allclose(combined.results.judgement_standard_errors, alone.results.judgement_standard_errors,
                               rtol=1e-12)
    # predictions on the survey are the judgement model's own
    data = combined.data
    np.testing.assert_array_equal(combined.estimator.predict_expected(data.indicators, data.controls),
                                  alone.estimator.predict_expected(data.indicators, data.controls))
    np.testing.assert_array_equal(combined.cell_scores(), alone.cell_scores())


def test_shares_zero_one_give_the_behaviour_model(market_inputs, components):
    indicators = select_indicators(market_inputs)
    on_its_scale = fit_model(market_inputs, Combined(judgement_share=0.0, behaviour_share=1.0, scale_to="index_sd",
                                                     index_sd=0.3), indicators)
    hedonic = components[1]
    np.testing.assert_array_equal(on_its_scale.results.judgement_weights, hedonic.results.judgement_weights)
    np.testing.assert_allclose(on_its_scale.results.judgement_standard_errors, hedonic.results.judgement_standard_errors,
                               rtol=1e-12)
    np.testing.assert_array_equal(on_its_scale.cell_scores(), hedonic.cell_scores())
    # on the judgement model's spread the behaviour weights keep their shape exactly
    spread = fit_model(market_inputs, Combined(judgement="least_squares", judgement_share=0.0, behaviour_share=1.0),
                       indicators).results
    ratio = spread.judgement_weights / hedonic.results.weights
    np.testing.assert_allclose(ratio, spread.extras.rule.target_sd / spread.extras.rule.behaviour_index_sd, rtol=1e-12)


def test_invalid_shares_and_a_missing_transactions_table_are_refused(small_inputs, market_inputs):
    from lbm_model.config import compose_config, typed_config

    with pytest.raises(ConfigError, match=r"judgement_share=0.7, behaviour_share=0.5 is not valid; expected "
                                          r"non-negative shares that sum to 1"):
        typed_config(compose_config(["model=combined", "model.estimator.judgement_share=0.7"]))
    with pytest.raises(ValueError, match=r"shares non-negative and summing to 1 \(got 1.2 \+ -0.2\)"):
        fit_model(market_inputs, Combined(judgement_share=1.2, behaviour_share=-0.2), select_indicators(market_inputs))
    with pytest.raises(LbmError, match=r"the behaviour component of the combined model is fitted on sold dwellings, but no "
                                       r"transactions table was given"):
        fit_model(small_inputs, Combined(), select_indicators(small_inputs))


def test_freeze_records_both_components_and_scores_unchanged(fitted, market_inputs, fast_checks_config, tmp_path):
    assert FAMILIES["combined"] is Combined
    rule = ThresholdRule(base_year=2020)
    thresholds = class_thresholds(fitted, market_inputs.cells, rule)
    checks = dataclasses.replace(fast_checks_config, run=["residual_autocorrelation", "collinearity", "sign_plausibility",
                                                          "blocked_cv", "cluster_bootstrap", "family_diagnostics"])
    audit = run_audit(market_inputs, fitted, thresholds, 2020, checks, tmp_path / "export")
    path, _ = freeze(fitted, market_inputs, rule, tmp_path / "export", model_version="combined-test", seed=0,
                     provenance={}, thresholds=thresholds, audit=audit)
    content = read_frozen_model(path)["content"]                       # sealed and verified on load
    record = content["estimator"]
    assert record["family"] == "combined" and record["params"]["judgement_share"] == 0.6
    extras = record["extras"]
    assert extras["judgement"]["family"] == "ordinal_logit" and extras["behaviour"]["family"] == "hedonic"
    for entry in content["indicators"]:
        name = entry["name"]
        assert extras["judgement"]["standard_errors"][name] > 0 and extras["behaviour"]["standard_errors"][name] > 0
        parts = extras["contributions"][name]
        assert parts["judgement"] + parts["behaviour"] == pytest.approx(entry["weight"], abs=1e-14)
    by_dimension = extras["contributions_by_dimension"]
    for dimension, parts in by_dimension.items():
        mine = [e["weight"] for e in content["indicators"] if e["dimension"] == dimension]
        assert parts["judgement"] + parts["behaviour"] == pytest.approx(sum(mine), abs=1e-12)
    assert "floor_area" in content["estimation_controls"] and "age_group" in content["estimation_controls"]
    scores = CompiledScorer.load(path).score(market_inputs.cells)
    assert np.max(np.abs(scores["score"].to_numpy() - fitted.cell_scores())) < 1e-9
    verdicts = {r.name: r.verdict for r in audit.results}
    assert verdicts["blocked_cv"] == "not applicable" and verdicts["cluster_bootstrap"] == "not applicable"
    assert verdicts["family_diagnostics"] == "pass" and verdicts["sign_plausibility"] in ("pass", "warn", "fail")
    components_csv = pd.read_csv(tmp_path / "export" / "evidence" / "family_diagnostics" / "components.csv")
    np.testing.assert_allclose(components_csv["judgement_part"] + components_csv["behaviour_part"],
                               fitted.results.judgement_weights[components_csv["name"]].to_numpy(), atol=1e-12)
    assert_no_ids(tmp_path / "export", market_inputs)


def assert_no_ids(root, inputs) -> None:
    """No transaction id (T0000001...) and no respondent id (R0000001...) in any file under ``root``."""
    ids = set(inputs.transactions["transaction_id"]) | set(inputs.survey["respondent_id"])
    pattern = re.compile(rb"[TR]\d{7}")
    assert all(pattern.fullmatch(i.encode()) for i in ids)             # the scan would see them
    files = [f for f in root.rglob("*") if f.is_file()]
    assert files
    for file in files:
        found = {m.decode() for m in pattern.findall(file.read_bytes())} & ids
        assert not found, f"{file} holds ids {sorted(found)[:3]}"


def test_lbm_experiment_model_combined_runs_end_to_end_without_ids(small_world, market_inputs, tmp_path):
    from conftest import run_lbm_experiment

    done = run_lbm_experiment(tmp_path, small_world, "model=combined",
                              f"data.transactions={small_world}/transactions.parquet",
                              "checks.run=[collinearity,sign_plausibility,family_diagnostics]")
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"combined: 94 indicators, judgement model on 2\d,\d{3} respondents \(3 controls\), behaviour "
                     r"model on 2\d,\d{3} transactions", done.stderr)
    content = read_frozen_model(tmp_path / "exports" / "combined" / "model.json")["content"]
    assert content["estimator"]["family"] == "combined"
    assert set(content["estimator"]["extras"]) >= {"judgement", "behaviour", "rule", "contributions"}
    assert "transactions" in content["training_data"]["files"]
    report = (tmp_path / "exports" / "combined" / "report.html").read_text()
    assert "Judgement and behaviour model" in report
    assert any(f.suffix == ".db" for f in tmp_path.rglob("*"))
    # lbm check refits it on its recorded inputs, transactions included, and reproduces the audit
    from conftest import BIN

    recheck = subprocess.run([str(BIN / "lbm"), "check", str(tmp_path / "exports" / "combined"), "--out",
                              str(tmp_path / "recheck")], capture_output=True, text=True, cwd=tmp_path)
    assert recheck.returncode == 0, recheck.stderr[-2000:]
    assert "reproduces the frozen model's audit" in " ".join(recheck.stderr.split())
    assert_no_ids(tmp_path, market_inputs)
