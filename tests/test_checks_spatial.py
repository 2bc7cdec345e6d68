"""Residual autocorrelation: a world with spatially clustered unexplained variation is caught, one without passes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from lbm_model.checks.context import CheckContext
from lbm_model.checks.spatial import residual_autocorrelation, score_autocorrelation
from lbm_model.checks.weights import build_weights


def world_check(directory, config, **world_params):
    from lbm_model.classes import ThresholdRule
    from lbm_model.estimators import OrdinalLogit
    from lbm_model.inputs import load_inputs
    from lbm_model.recalibrate import class_thresholds, fit_model, select_indicators
    from lbm_model.world import generate_world

    generate_world(directory, scale="small", seed=0, **world_params)
    inputs = load_inputs(directory / "cells.parquet", directory / "survey.parquet", directory / "catalog.yaml")
    # tol 1e-8: at 1e-10 the residual-field world stops on floating-point noise (max gradient ~1e-9)
    fitted = fit_model(inputs, OrdinalLogit(tol=1e-8), select_indicators(inputs))
    thresholds = class_thresholds(fitted, inputs.cells, ThresholdRule(base_year=2020))
    ctx = CheckContext(inputs, fitted, thresholds, 2020, config, directory / "export")
    return residual_autocorrelation(ctx)


@pytest.fixture(scope="module")
def no_lisa(fast_checks_config):
    return dataclasses.replace(fast_checks_config, spatial=dataclasses.replace(fast_checks_config.spatial, lisa=False))


@pytest.mark.slow
def test_spatially_clustered_unexplained_variation_is_caught(tmp_path_factory, no_lisa):
    result = world_check(tmp_path_factory.mktemp("field"), no_lisa, residual_field_sd=0.3)
    assert result.verdict in ("warn", "fail"), result.summary
    assert result.metrics["buurt.knn.moran_i"] >= no_lisa.spatial.warn_moran_i["buurt"]
    assert result.metrics["buurt.knn.p_sim"] < 0.05


@pytest.mark.slow
def test_without_unexplained_spatial_structure_it_passes(tmp_path_factory, no_lisa):
    result = world_check(tmp_path_factory.mktemp("nofield"), no_lisa, buurt_effect_sd=0.0, residual_field_sd=0.0)
    assert result.verdict == "pass", result.summary
    for key in ("cell.knn.moran_i", "buurt.knn.moran_i", "cell.distance_band.moran_i", "buurt.distance_band.moran_i"):
        assert abs(result.metrics[key]) < 0.03


@pytest.fixture(scope="module")
def residual_result(small_check_context):
    return residual_autocorrelation(small_check_context)


def test_both_weight_types_and_levels_are_reported_and_graded_by_the_thresholds(residual_result, small_check_context):
    spatial = small_check_context.config.spatial
    rows = residual_result.details["moran"]
    assert {(r["level"], r["weights"]) for r in rows} == {(lvl, w) for lvl in ("cell", "buurt") for w in ("knn", "distance_band")}
    for r in rows:
        assert r["permutations"] == 99 and 1 / 100 <= r["p_sim"] <= 1     # 99 permutations: p is at least 1/100
        significant = r["p_sim"] < spatial.alpha and r["I"] > 0
        expected = ("fail" if significant and r["I"] >= spatial.fail_moran_i[r["level"]] else
                    "warn" if significant and r["I"] >= spatial.warn_moran_i[r["level"]] else "pass")
        assert r["verdict"] == expected, r
    # the default small world plants a buurt effect the clustered model absorbs: no residual clustering left
    assert residual_result.verdict == "pass" and all(r["I"] < spatial.warn_moran_i[r["level"]] for r in rows)


def test_lisa_evidence_is_buurt_level_and_disclosure_safe(residual_result, small_check_context):
    ctx = small_check_context
    lisa = pd.read_csv(ctx.export_dir / "evidence/residual_autocorrelation/lisa_residuals_buurt.csv")
    assert lisa["respondents"].min() >= ctx.config.disclosure.min_respondents
    assert set(lisa.columns) >= {"buurt_code", "mean_residual", "lisa_category", "p_sim"}
    assert lisa["buurt_code"].is_unique and lisa["buurt_code"].str.startswith("BU").all()
    assert "evidence/residual_autocorrelation/lisa_residuals_buurt_map.png" in residual_result.evidence
    assert "evidence/residual_autocorrelation/moran_scatter_residuals_buurt.png" in residual_result.evidence
    counts = residual_result.details["lisa_buurt_counts"]
    assert sum(counts.values()) == len(lisa)
    respondent_ids = set(ctx.inputs.survey["respondent_id"].astype(str))
    for rel in residual_result.evidence:
        if rel.endswith(".csv"):
            text = (ctx.export_dir / rel).read_text()
            assert not any(rid in text for rid in list(respondent_ids)[:200])


def test_residuals_are_observed_minus_expected(small_check_context):
    ctx = small_check_context
    residuals = ctx.residuals
    assert abs(np.average(residuals, weights=ctx.data.weight)) < 0.05
    assert np.corrcoef(residuals, ctx.data.response)[0, 1] > 0


def test_score_autocorrelation_is_descriptive(small_check_context):
    result = score_autocorrelation(small_check_context)
    assert result.verdict == "pass" and result.summary.startswith("descriptive")
    assert result.metrics["cell.knn.moran_i"] > 0.3, "neighbouring cells score alike"
    lisa = pd.read_csv(small_check_context.export_dir / "evidence/score_autocorrelation/lisa_scores_buurt.csv")
    assert lisa["households"].min() >= small_check_context.config.disclosure.min_households


def test_distance_band_drops_islands_and_knn_keeps_everyone():
    xy = np.array([[0, 0], [0, 100], [100, 0], [100, 100], [50_000, 50_000]], float)
    band = build_weights(xy, "distance_band", threshold_m=150)
    assert band.n == 4 and band.n_dropped == 1 and 4 not in band.keep
    knn = build_weights(xy, "knn", k=8)
    assert knn.n == 5 and "4 nearest" in knn.description
    with pytest.raises(ValueError, match="unknown weights kind"):
        build_weights(xy, "queen")


def test_check_context_builds_weights_once_per_point_set(small_check_context):
    ctx = small_check_context
    residual_autocorrelation(ctx)
    built = dict(ctx._weights)
    score_autocorrelation(ctx)
    residual_autocorrelation(ctx)                      # the second run reuses every weights object
    assert all(ctx._weights[key] is weights for key, weights in built.items())
    kinds = {key[0] for key in ctx._weights}
    assert kinds == {"knn", "distance_band"} and len(ctx._weights) >= 4
    xy = np.random.default_rng(0).uniform(0, 1000, (50, 2))
    assert ctx.spatial_weights(xy, "knn", k=4) is ctx.spatial_weights(xy.copy(), "knn", k=4)
    assert ctx.spatial_weights(xy, "knn", k=5) is not ctx.spatial_weights(xy, "knn", k=4)
