"""Proxy audit on the small synthetic world: the planted proxies are found, the tables add up."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lbm_model.checks.proxy import class_by_quintile, composition_moments, proxy_audit, r2_and_partials


@pytest.fixture(scope="module")
def truth(small_world):
    return json.loads((small_world / "truth.json").read_text())


@pytest.fixture(scope="module")
def audit(small_check_context):
    return proxy_audit(small_check_context)


def test_the_planted_proxies_are_found(audit, truth):
    planted = set(truth["planted_proxies"])
    assert planted, "the synthetic world plants proxies"
    assert set(audit.details["likely_proxies"]) == planted
    for name, planted_r2 in ((n, p["r2"]) for n, p in truth["planted_proxies"].items()):
        assert audit.details["indicator_r2"][name] == pytest.approx(planted_r2, abs=1e-6)
    assert audit.verdict == "warn" and str(len(planted)) in audit.summary


def test_audit_json_form_has_every_indicator_r2_and_the_flagged_list(audit, small_check_context):
    form = audit.to_dict()
    assert set(form["details"]["indicator_r2"]) == set(small_check_context.indicator_names)
    assert form["details"]["likely_proxies"] == audit.details["likely_proxies"]
    assert all(e.startswith("evidence/proxy_audit/") for e in form["evidence"])
    for rel in form["evidence"]:
        assert (small_check_context.export_dir / rel).is_file()


def test_scores_and_dimensions_are_audited(audit):
    assert {"score", "fys", "won", "vrz", "soc", "onv"} <= set(audit.details["score_r2"])
    assert 0.0 < audit.details["score_r2"]["score"] < 1.0


def test_absorbed_effect_moves_the_weights_and_reports_composition_effects(audit, truth):
    assert 0.0 < audit.metrics["absorbed_share"] < 1.0
    assert audit.metrics["weight_correlation"] > 0.8
    effects = {k.split(".", 1)[1]: v for k, v in audit.metrics.items() if k.startswith("composition_effect.")}
    assert set(effects) == set(truth["composition_effects"])
    # the strongest planted composition effect is recovered with its sign
    strongest = max(truth["composition_effects"], key=lambda k: abs(truth["composition_effects"][k]))
    assert np.sign(effects[strongest]) == np.sign(truth["composition_effects"][strongest])


def test_class_shares_per_composition_quantile_add_up(small_check_context):
    table = class_by_quintile(small_check_context)
    cells = small_check_context.inputs.cells
    base_households = int(cells.loc[cells["year"] == 2020, "households"].sum())
    for _, part in table.groupby("composition"):
        assert len(part) == 5 and part["households"].sum() == base_households
    shares = table[[f"share_class_{c}" for c in range(1, 10)]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0, atol=1e-9)
    low = table[table["composition"] == "benefit_dependence_share"].set_index("quantile")["mean_score"]
    assert low.loc[1] > low.loc[5], "areas with the most benefit dependence score lower"


def test_gram_r2_matches_least_squares():
    rng = np.random.default_rng(3)
    comp = rng.standard_normal((500, 2))
    y = comp @ [1.0, -0.5] + rng.standard_normal(500)
    other_outcome = rng.standard_normal((500, 1))       # a second block: its moments never mix with y's
    r2, partial = r2_and_partials(composition_moments(comp, [y[:, None], other_outcome], np.ones(500), chunk=123))
    design = np.column_stack([np.ones(500), comp])
    resid = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    assert r2[0] == pytest.approx(1 - resid @ resid / ((y - y.mean()) @ (y - y.mean())), rel=1e-10)
    other = np.column_stack([np.ones(500), comp[:, 1]])
    ry = y - other @ np.linalg.lstsq(other, y, rcond=None)[0]
    rc = comp[:, 0] - other @ np.linalg.lstsq(other, comp[:, 0], rcond=None)[0]
    assert partial[0, 0] == pytest.approx(np.corrcoef(ry, rc)[0, 1], rel=1e-10)
    w = rng.uniform(0.5, 2.0, 500)                       # household weighting: weighted least squares
    r2_weighted, _ = r2_and_partials(composition_moments(comp, [y[:, None]], w, chunk=77))
    beta = np.linalg.lstsq(design * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)[0]
    centred = y - np.average(y, weights=w)
    assert r2_weighted[0] == pytest.approx(1 - w @ (y - design @ beta) ** 2 / (w @ centred**2), rel=1e-10)


def test_no_composition_columns_gives_a_warning(small_check_context, monkeypatch):
    monkeypatch.setattr(type(small_check_context), "composition_names", property(lambda self: []))
    result = proxy_audit(small_check_context)
    assert result.verdict == "warn" and "no composition columns" in result.summary


def test_evidence_tables_are_model_level(audit, small_check_context):
    frame = pd.read_csv(small_check_context.export_dir / "evidence/proxy_audit/indicator_r2.csv")
    assert len(frame) == len(small_check_context.indicator_names)
    assert "respondent_id" not in frame.columns
