"""`lbm robustness`: weights side by side, spread, sign stability and buurt rank correlation between models."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lbm_model.classes import ThresholdRule
from lbm_model.estimators import LeastSquares, OrdinalLogit
from lbm_model.recalibrate import fit_model, freeze, select_indicators
from lbm_model.robustness import robustness

from conftest import BIN

pytestmark = pytest.mark.slow     # fits and freezes two models on the small world


@pytest.fixture(scope="module")
def frozen_pair(small_inputs, fitted_ordinal, tmp_path_factory):
    root = tmp_path_factory.mktemp("robustness")
    rule = ThresholdRule(base_year=2020)
    ols_without_one = select_indicators(small_inputs, exclude=["noise_road_lden"])
    dirs = {}
    for name, fitted in {"ordinal": fitted_ordinal, "ols": fit_model(small_inputs, LeastSquares(), ols_without_one)}.items():
        freeze(fitted, small_inputs, rule, root / name, model_version=name, seed=0,
               provenance={"input_paths": small_inputs.paths})
        dirs[name] = root / name
    return dirs, root


def test_weights_side_by_side_spread_and_signs(frozen_pair):
    dirs, root = frozen_pair
    document = robustness([dirs["ordinal"], dirs["ols"]], root / "out")
    table = pd.read_csv(root / "out" / "weights.csv").set_index("name")
    frozen = {n: {e["name"]: e["weight"] for e in json.loads((d / "model.json").read_text())["content"]["indicators"]}
              for n, d in dirs.items()}
    assert list(table.columns[1:3]) == ["ordinal_logit", "least_squares"]
    np.testing.assert_allclose(table["ordinal_logit"], pd.Series(frozen["ordinal"]).reindex(table.index), rtol=1e-9)
    both = table.drop(index="noise_road_lden")
    np.testing.assert_allclose(both["spread"], (both["ordinal_logit"] - both["least_squares"]).abs(), atol=1e-9)  # CSV: 10 digits
    assert table.loc["noise_road_lden", "n_models"] == 1 and np.isnan(table.loc["noise_road_lden", "least_squares"])
    flipped = np.sign(both["ordinal_logit"]) != np.sign(both["least_squares"])
    assert (both["sign_stable"] == ~flipped).all()
    assert document["summary"]["n_sign_unstable"] == int(flipped.sum())


def test_buurt_rank_correlation_is_spearman_of_household_weighted_scores(frozen_pair, small_inputs):
    from lbm_model.frozen import read_frozen_model
    from lbm_model.scoring import CompiledScorer

    dirs, root = frozen_pair
    document = robustness([dirs["ordinal"], dirs["ols"]], root / "out2", small_inputs.paths["cells"])
    from lbm_model.disclosure import published_areas

    cells = small_inputs.cells[small_inputs.cells["year"] == 2020]
    published = published_areas(small_inputs.cells, 2020, "buurt", 10)   # primary and complementary suppression
    assert 0 < len(published) < cells["buurt_code"].nunique()
    means = {}
    for name, d in dirs.items():
        score = CompiledScorer.from_document(read_frozen_model(d / "model.json")).score(cells)["score"].to_numpy()
        frame = pd.DataFrame({"b": cells["buurt_code"].to_numpy(), "h": cells["households"].to_numpy(), "s": score})
        sums = frame.assign(hs=frame["h"] * frame["s"]).groupby("b")[["hs", "h"]].sum()
        means[name] = (sums["hs"] / sums["h"])[sorted(published)]
    expected = stats.spearmanr(means["ordinal"], means["ols"]).statistic
    assert document["rank_correlation"]["ordinal_logit~least_squares"] == pytest.approx(expected, abs=1e-12)
    assert document["n_buurten"] == len(means["ordinal"]) and 0.9 < expected < 1.0


def test_the_command_writes_the_table_and_refuses_a_single_model(frozen_pair, tmp_path):
    dirs, _ = frozen_pair
    done = subprocess.run([str(BIN / "lbm"), "robustness", str(dirs["ordinal"]), str(dirs["ols"]), "--out", str(tmp_path / "t"),
                           "--log", "--tracking-uri", f"sqlite:///{tmp_path}/mlruns.db"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlruns.db")
    run = client.search_runs([client.get_experiment_by_name("lbm-robustness").experiment_id])[0]
    summary = json.loads((tmp_path / "t" / "robustness.json").read_text())["summary"]
    assert run.data.metrics["robustness.min_rank_correlation"] == summary["min_rank_correlation"]
    assert run.data.tags["lbm.kind"] == "robustness"
    assert "lowest buurt rank correlation" in done.stderr and (tmp_path / "t" / "robustness.json").is_file()
    alone = subprocess.run([str(BIN / "lbm"), "robustness", str(dirs["ordinal"]), "--out", str(tmp_path / "u")],
                           capture_output=True, text=True)
    assert alone.returncode == 2 and "needs at least two frozen models" in alone.stderr
    assert "Traceback" not in alone.stderr and not (tmp_path / "u").exists()
