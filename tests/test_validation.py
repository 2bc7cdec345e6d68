"""External validation (lbm validate) and the optional reference table.

The synthetic world's reference comes from an independent local survey whose construction truth.json
records, with the correlation the true-weight area scores have with it; validation recomputes that
correlation from the true weights and the files, and a fitted model comes within 0.05 of it. The
correction for the reference's sampling noise recovers the noise-free correlation on a designed
example. The contract's error classes are in tests/bad_input_cases.py (one case each).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_reference
from lbm_model.contract import read_table, validate_reference
from lbm_model.dimensions import DIMENSION_KEYS
from lbm_model.features import fit_standardisations, standardised_indicators
from lbm_model.validation import validate_scores


def test_valid_reference_loads_from_csv_and_parquet_with_and_without_sd(tiny, tmp_path):
    cells = tiny[0]
    reference = tiny_reference(cells)
    for name, frame in (("reference.csv", reference), ("reference.parquet", reference),
                        ("no_sd.csv", reference.drop(columns=["sd"]))):
        path = tmp_path / name
        frame.to_parquet(path, index=False) if name.endswith(".parquet") else frame.to_csv(path, index=False)
        loaded = validate_reference(read_table(path), cells, str(path))
        assert len(loaded) == len(reference) and loaded["n"].dtype == "int64" and pd.api.types.is_string_dtype(loaded["area_code"])
        assert ("sd" in loaded.columns) == ("sd" in frame.columns)
    wrong_level = reference.assign(level=reference["level"].replace({"wijk": "buurt"}))   # a wijk code as a buurt
    with pytest.raises(Exception, match=r"column 'area_code\+level\+year': areas \('WK036301'\) that the cells table "
                                        r"does not have at that level in that year in 2 rows"):
        validate_reference(wrong_level, cells, "reference.csv")


def designed_areas(n_areas: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """One cell per buurt whose score is the buurt's true value; the reference is that value plus the sampling
    noise of a mean of n answers with sd 1.2. Returns (cell scores, reference, true values)."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(0, 0.3, n_areas)
    codes = [f"BU{i:08d}" for i in range(n_areas)]
    scores = pd.DataFrame({"cell_id": codes, "year": 2020, "score": truth, **{k: truth / 5 for k in DIMENSION_KEYS},
                           "class": 5, "class_label": "x", "households": 50, "buurt_code": codes,
                           "wijk_code": [f"WK{i // 10:06d}" for i in range(n_areas)], "gemeente_code": "GM0001"})
    n = rng.integers(4, 60, n_areas)
    value = 7 + truth + 1.2 * rng.standard_normal(n_areas) / np.sqrt(n)
    reference = pd.DataFrame({"area_code": codes, "level": "buurt", "year": 2020, "value": value, "n": n, "sd": 1.2})
    return scores, reference, truth


def test_correction_for_sampling_noise_recovers_the_noise_free_correlation():
    scores, reference, truth = designed_areas()
    result = validate_scores(scores, reference).summary.iloc[0]
    kept = reference["n"] >= 10
    assert result["left_out_few_respondents"] == int((~kept).sum()) and result["areas"] == int(kept.sum())
    assert result["r"] < 0.85                                          # attenuated by the noise
    expected_reliability = 1 - np.mean(1.2 ** 2 / reference.loc[kept, "n"]) / reference.loc[kept, "value"].var(ddof=1)
    assert result["reliability"] == pytest.approx(expected_reliability, rel=1e-12)
    assert result["r_corrected"] == pytest.approx(result["r"] / np.sqrt(expected_reliability), rel=1e-12)
    assert result["r_corrected"] == pytest.approx(1.0, abs=0.02)       # the score is the noise-free value
    without_sd = validate_scores(scores, reference.drop(columns=["sd"])).summary.iloc[0]
    assert without_sd["r_corrected"] is None and "no sd column" in without_sd["correction"]
    assert without_sd["r"] == result["r"]


@pytest.fixture(scope="module")
def world_reference(small_world, small_inputs):
    path = small_world / "reference.parquet"
    return validate_reference(read_table(path), small_inputs.cells, str(path))


def true_weight_scores(small_world, inputs) -> pd.DataFrame:
    """Cell scores by the planted (judgement) weights, with households and area codes."""
    truth = json.loads((small_world / "truth.json").read_text())
    indicators = [i for i in inputs.catalog.model_indicators if i.name in truth["weights"]]
    standardised = standardised_indicators(inputs.cells, indicators, fit_standardisations(inputs.cells, indicators))
    score = standardised.to_numpy() @ np.array([truth["weights"][i.name] for i in indicators])
    cells = inputs.cells
    return pd.DataFrame({"cell_id": cells["cell_id"], "year": cells["year"], "score": score,
                         **{k: np.zeros(len(cells)) for k in DIMENSION_KEYS}, "class": 5,
                         "households": cells["households"], **{f"{lvl}_code": cells[f"{lvl}_code"]
                                                               for lvl in ("buurt", "wijk", "gemeente")}})


@pytest.mark.slow
def test_true_weight_scores_correlate_with_the_reference_as_constructed_and_the_fit_comes_close(
        small_world, small_inputs, world_reference, fitted_ordinal):
    construction = json.loads((small_world / "truth.json").read_text())["reference"]
    assert set(world_reference["area_code"][world_reference["level"] == "gemeente"]) == set(construction["gemeenten"])
    assert (world_reference["n"] < 10).any() and (world_reference["n"] >= 2).all()   # some areas are left out
    true_summary = validate_scores(true_weight_scores(small_world, small_inputs), world_reference).summary
    fit_frame = true_weight_scores(small_world, small_inputs).assign(score=fitted_ordinal.cell_scores())
    fit_summary = validate_scores(fit_frame, world_reference).summary
    for level in ("buurt", "wijk"):
        for year, planted in construction["true_score_correlation"][level].items():
            true_row = true_summary[(true_summary["level"] == level) & (true_summary["year"] == int(year))].iloc[0]
            assert true_row["areas"] == planted["areas"]
            assert true_row["r"] == pytest.approx(planted["r"], abs=1e-9)
            assert true_row["r"] > 0.7
            fit_row = fit_summary[(fit_summary["level"] == level) & (fit_summary["year"] == int(year))].iloc[0]
            assert abs(fit_row["r"] - planted["r"]) < 0.05, (level, year, fit_row["r"], planted["r"])


@pytest.mark.slow
def test_lbm_validate_writes_its_figures_logs_to_mlflow_and_the_report_shows_it(small_world, small_inputs,
                                                                              fitted_ordinal, tmp_path):
    import subprocess

    import mlflow

    from conftest import BIN
    from lbm_model.classes import ThresholdRule
    from lbm_model.recalibrate import freeze
    from lbm_model.report import write_run_report

    uri = f"sqlite:///{tmp_path}/mlruns.db"
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run() as run:
        pass
    model_dir = tmp_path / "model"
    freeze(fitted_ordinal, small_inputs, ThresholdRule(base_year=2020), model_dir, model_version="validate-test",
           seed=0, provenance={"mlflow_run_id": run.info.run_id})
    write_run_report(model_dir)
    out = model_dir / "validation"
    done = subprocess.run([str(BIN / "lbm"), "validate", str(model_dir), "--cells", str(small_world / "cells.parquet"),
                           "--reference", str(small_world / "reference.parquet"), "--out", str(out), "--log-run", "model",
                           "--tracking-uri", uri], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"validated buurt 2020: r 0\.\d{3} \(corrected for the reference's sampling noise 0\.\d{3}\) over "
                     r"\d+ areas; left out \d+ with < 10 respondents", done.stderr)
    assert sorted(p.name for p in out.iterdir()) == sorted(["validation.json", "summary.csv", "per_gemeente.csv",
                                                            "disagreements.csv", "matched.csv", "scatter.png"])
    assert (out / "scatter.png").read_bytes().startswith(b"\x89PNG")
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["level"]) == {"buurt", "wijk", "gemeente"} and (summary["r_corrected"].abs() > summary["r"].abs()).all()
    disagreements = pd.read_csv(out / "disagreements.csv")
    assert (disagreements.groupby(["level", "year"]).size() <= 10).all()
    matched = pd.read_csv(out / "matched.csv", dtype={"area_code": str})
    assert (matched["n"] >= 10).all()
    metrics = mlflow.MlflowClient(uri).get_run(run.info.run_id).data.metrics
    row = summary[(summary["level"] == "buurt") & (summary["year"] == 2020)].iloc[0]
    assert metrics["validation.buurt.2020.r"] == pytest.approx(row["r"], rel=1e-12)
    assert "External validation" in (model_dir / "report.html").read_text()
    ids = set(small_inputs.survey["respondent_id"])
    pattern = re.compile(rb"R\d{7}")
    for file in [f for f in tmp_path.rglob("*") if f.is_file()]:
        found = {m.decode() for m in pattern.findall(file.read_bytes())} & ids
        assert not found, f"{file} holds respondent ids {sorted(found)[:3]}"
