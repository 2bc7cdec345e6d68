"""`lbm sensitivity`: SALib Sobol' indices over modelling choices, through one code path."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import yaml
from SALib.test_functions import Ishigami

from lbm_model.sensitivity import Factor, sobol_analysis

from conftest import BIN

# Ishigami and Homma (1990) with a = 7, b = 0.1: analytical indices (e.g. Saltelli et al. 2010, SALib's docs)
ISHIGAMI_S1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
ISHIGAMI_ST = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}


def test_ishigami_through_the_same_code_path_reproduces_the_published_indices():
    factors = [Factor(name, bounds=(-np.pi, np.pi)) for name in ISHIGAMI_S1]

    def model(sample: dict) -> dict:
        return {"y": float(Ishigami.evaluate(np.array([[sample["x1"], sample["x2"], sample["x3"]]]))[0])}

    indices, samples, _ = sobol_analysis(factors, model, n_base=4096, seed=1)
    assert len(samples) == 4096 * 5
    for name in ISHIGAMI_S1:
        assert indices["y"][name]["S1"] == pytest.approx(ISHIGAMI_S1[name], abs=0.02), name
        assert indices["y"][name]["ST"] == pytest.approx(ISHIGAMI_ST[name], abs=0.02), name


def test_a_discrete_choice_maps_sample_coordinates_to_its_alternatives():
    factor = Factor("model", ("ols", "ordinal_logit", "multilevel"))
    assert factor.range == [0.0, 3.0]
    assert [factor.value(x) for x in (0.0, 0.99, 1.0, 2.5, 3.0)] == ["ols", "ols", "ordinal_logit", "multilevel",
                                                                      "multilevel"]


@pytest.mark.slow
def test_a_choice_that_cannot_change_the_output_gets_no_index_and_the_estimator_does(small_world, tmp_path):
    choices = {"base": ["data=files", f"data.cells={small_world}/cells.parquet", f"data.survey={small_world}/survey.parquet",
                        f"data.catalog={small_world}/catalog.yaml"],
               "choices": {"export.model_version": ["first", "second"], "model": ["ordinal_logit", "ols"]}}
    path = tmp_path / "choices.yaml"
    path.write_text(yaml.safe_dump(choices))
    done = subprocess.run([str(BIN / "lbm"), "sensitivity", str(path), "--out", str(tmp_path / "out"), "--n-base", "4",
                           "--log", "--tracking-uri", f"sqlite:///{tmp_path}/mlruns.db"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    document = json.loads((tmp_path / "out" / "sensitivity.json").read_text())
    assert document["n_samples"] == 4 * 4 and document["n_distinct_configurations"] == 4
    for output in ("buurt_mean_abs_rank_shift", "households_changing_class_share"):
        indices = document["indices"][output]
        assert indices["export.model_version"]["ST"] < 0.05, indices
        assert indices["model"]["ST"] > 0.05, indices
    buurten = document["buurten"]
    assert len(buurten) > 400 and all(b["rank_p05"] <= b["median_rank"] <= b["rank_p95"] for b in buurten)
    assert 0 < document["households_changing_class_share"]["p95"] < 1
    assert (tmp_path / "out" / "rank_intervals.png").stat().st_size > 1000
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlruns.db")
    run = client.search_runs([client.get_experiment_by_name("lbm-sensitivity").experiment_id])[0]
    assert run.data.metrics["sensitivity.buurt_mean_abs_rank_shift.model.ST"] == document["indices"][
        "buurt_mean_abs_rank_shift"]["model"]["ST"]


def test_a_choice_hydra_cannot_compose_is_a_clear_error(small_world, tmp_path):
    path = tmp_path / "choices.yaml"
    path.write_text(yaml.safe_dump({"base": ["data=files", f"data.cells={small_world}/cells.parquet"],
                                    "choices": {"model": ["no_such_family", "ols"]}}))
    done = subprocess.run([str(BIN / "lbm"), "sensitivity", str(path), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2 and "cannot be composed" in done.stderr and "Traceback" not in done.stderr
