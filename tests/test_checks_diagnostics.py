"""Diagnostics: VIF and condition number, sign plausibility, gemeente-blocked CV, buurt cluster bootstrap."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from lbm_model.checks.bootstrap import cluster_bootstrap, replicate_rows
from lbm_model.checks.collinearity import collinearity, condition_number, variance_inflation
from lbm_model.checks.crossval import assign_folds, blocked_cv
from lbm_model.checks.signs import sign_plausibility


def test_vif_of_two_correlated_columns_is_one_over_one_minus_r_squared():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(2000)
    b = 0.8 * a + 0.6 * rng.standard_normal(2000)
    r = np.corrcoef(a, b)[0, 1]
    vif = variance_inflation(np.column_stack([a, b]), np.ones(2000))
    np.testing.assert_allclose(vif, 1 / (1 - r**2), rtol=1e-10)


def test_condition_number_of_orthogonal_and_nearly_collinear_designs():
    x = np.array([-1.0, 1.0, -1.0, 1.0])
    z = np.array([-1.0, -1.0, 1.0, 1.0])
    assert condition_number(np.column_stack([x, z]), np.ones(4)) == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    a = rng.standard_normal(500)
    nearly = np.column_stack([a, a + 1e-4 * rng.standard_normal(500)])
    assert condition_number(nearly, np.ones(500)) > 1000


def test_collinearity_on_the_world(small_check_context):
    result = collinearity(small_check_context)
    assert result.verdict == "pass"
    assert result.metrics["max_vif"] == pytest.approx(max(result.details["vif"].values()), rel=1e-12)
    assert result.metrics["max_vif"] > 1.5 and result.metrics["max_vif"] < 10   # moderate collinearity (3.4 measured)
    assert len(result.details["vif"]) == len(small_check_context.indicator_names)


def test_sign_plausibility_passes_with_the_catalog_and_fails_when_expectations_flip(small_check_context):
    ctx = small_check_context
    assert sign_plausibility(ctx).verdict == "pass"
    flipped = [dataclasses.replace(i, expected_sign=-i.expected_sign) for i in ctx.fitted.indicators]
    wrong_ctx = dataclasses.replace(ctx, fitted=dataclasses.replace(ctx.fitted, indicators=tuple(flipped)))
    result = sign_plausibility(wrong_ctx)
    assert result.verdict == "fail"
    assert result.metrics["share_significantly_wrong"] > 0.5


def test_folds_keep_whole_gemeenten_and_balance_respondents():
    rng = np.random.default_rng(2)
    blocks = rng.choice([f"GM{i:04d}" for i in range(40)], size=5000)
    fold = assign_folds(blocks, 5, seed=0)
    frame = pd.DataFrame({"block": blocks, "fold": fold})
    assert frame.groupby("block")["fold"].nunique().max() == 1
    sizes = np.bincount(fold)
    assert sizes.max() - sizes.min() < 0.1 * sizes.mean()
    assert np.array_equal(fold, assign_folds(blocks, 5, seed=0))


def test_blocked_cv_on_the_world(small_check_context):
    result = blocked_cv(small_check_context)
    assert result.verdict == "pass", result.summary
    assert 0 < result.metrics["oos.r2"] <= result.metrics["in_sample.r2"] + 0.02
    assert result.metrics["skill_ratio"] == pytest.approx(result.metrics["oos.r2"] / result.metrics["in_sample.r2"])
    assert 0 < result.metrics["oos.log_loss_skill"] <= result.metrics["in_sample.log_loss_skill"] + 0.02
    assert result.metrics["oos.rmse"] >= result.metrics["in_sample.rmse"] - 0.01
    assert 0.5 < result.metrics["oos.spearman"] < 1 and 0.2 < result.metrics["oos.accuracy"] < 1
    assert result.metrics["n_folds"] == 5
    folds = pd.read_csv(small_check_context.export_dir / "evidence/blocked_cv/folds.csv")
    assert folds["n_respondents"].sum() == len(small_check_context.data.response)


def test_bootstrap_resamples_whole_buurten():
    codes = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])
    rows, ids = replicate_rows(codes, 4, seed=5, replicate=0)
    for draw in np.unique(ids):
        members = codes[rows[ids == draw]]
        assert len(np.unique(members)) == 1 and len(members) == (codes == members[0]).sum()
    assert len(np.unique(ids)) == 4
    assert np.array_equal(rows, replicate_rows(codes, 4, seed=5, replicate=0)[0])


def test_cluster_bootstrap_on_the_world(small_check_context):
    result = cluster_bootstrap(small_check_context)
    ctx = small_check_context
    assert result.metrics["failed_replicates"] == 0 and result.metrics["replicates"] == 5
    weights = pd.read_csv(ctx.export_dir / "evidence/cluster_bootstrap/weight_intervals.csv")
    assert (weights["lower"] <= weights["upper"]).all()
    assert 0.5 < result.metrics["median_se_ratio_bootstrap_to_analytic"] < 2.0
    ranks = pd.read_csv(ctx.export_dir / "evidence/cluster_bootstrap/buurt_rank_intervals.csv")
    n = len(ranks)
    assert ranks["households"].min() >= ctx.config.disclosure.min_households
    assert sorted(ranks["rank"]) == list(range(1, n + 1))                 # the point ranks are a ranking
    assert ((1 <= ranks["rank_lower"]) & (ranks["rank_lower"] <= ranks["rank_upper"]) & (ranks["rank_upper"] <= n)).all()
    width = float(np.median(ranks["rank_upper"] - ranks["rank_lower"]) / n)
    assert result.metrics["median_relative_rank_width"] == pytest.approx(width, rel=1e-12)
    # replicate ranks scatter around the full-sample rank: most point ranks lie inside their interval
    # (reversed or misaligned ranks would put almost none inside)
    inside = ((ranks["rank_lower"] <= ranks["rank"]) & (ranks["rank"] <= ranks["rank_upper"])).mean()
    assert inside > 0.5, inside
    assert width < ctx.config.cluster_bootstrap.rank_width_warn and result.verdict == "pass"


def test_vif_of_an_exact_copy_is_infinite_and_of_a_near_copy_is_huge():
    """A pseudo-inverse would report a modest VIF for an exact copy; the dependence must show as infinite."""
    rng = np.random.default_rng(2)
    a, c = rng.standard_normal(500), rng.standard_normal(500)
    vif = variance_inflation(np.column_stack([a, a.copy(), c]), np.ones(500))
    assert np.isinf(vif[:2]).all() and vif[2] == pytest.approx(1.0, abs=0.05)
    near = a + 1e-3 * rng.standard_normal(500)
    vif = variance_inflation(np.column_stack([a, near, c]), np.ones(500))
    r = np.corrcoef(a, near)[0, 1]
    assert vif[0] > 1e5 and vif[0] == pytest.approx(1 / (1 - r**2), rel=0.05)
