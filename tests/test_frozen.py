"""The frozen model: exact round trip, refusal of any modified byte or truncation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import write_inputs
from lbm_model.classes import ThresholdRule
from lbm_model.errors import FrozenModelError
from lbm_model.estimators import OrdinalLogit
from lbm_model.frozen import read_frozen_model, with_native_weights
from lbm_model.inputs import load_inputs
from lbm_model.recalibrate import fit_model, freeze, select_indicators
from lbm_model.scoring import CompiledScorer


def test_frozen_scores_equal_fitted_scores(tiny_frozen):
    inputs, fitted, path = tiny_frozen
    scores = CompiledScorer.load(path).score(inputs.cells)
    assert np.max(np.abs(scores["score"].to_numpy() - fitted.cell_scores())) < 1e-9
    assert np.allclose(scores[["fys", "won", "vrz", "soc", "onv"]].sum(axis=1), scores["score"], atol=1e-12)


def test_frozen_round_trip_on_small_world(small_inputs, fitted_ordinal, tmp_path):
    path, _ = freeze(fitted_ordinal, small_inputs, ThresholdRule(base_year=2020), tmp_path, model_version="test", seed=0, provenance={})
    scores = CompiledScorer.load(path).score(small_inputs.cells)
    assert len(scores) == len(small_inputs.cells)
    assert np.max(np.abs(scores["score"].to_numpy() - fitted_ordinal.cell_scores())) < 1e-9


def test_stigmatising_indicator_is_not_a_model_term(tiny_frozen):
    _, _, path = tiny_frozen
    content = read_frozen_model(path)["content"]
    assert [i["name"] for i in content["indicators"]] == ["green_share_500m", "dist_supermarket_m"]
    assert content["excluded_stigmatising"] == ["share_low_income"]


def test_every_sampled_single_byte_change_is_refused(tiny_frozen):
    _, _, path = tiny_frozen
    original = path.read_bytes()
    text = original.decode()
    targeted = [text.index('"weight": ') + 12, text.index('"provenance"') + 20, text.index('"seal_sha256"') + 20,
                text.index("\n") + 1, len(original) - 1, text.index("zeer onvoldoende") + 2]
    positions = sorted(set(targeted + list(range(0, len(original), max(1, len(original) // 300)))))
    for pos in positions:
        changed = bytearray(original)
        changed[pos] = ord("7") if changed[pos] != ord("7") else ord("3")
        path.write_bytes(bytes(changed))
        with pytest.raises(FrozenModelError):
            read_frozen_model(path)
    path.write_bytes(original)
    read_frozen_model(path)


def test_truncated_model_is_refused_with_clear_message(tiny_frozen):
    _, _, path = tiny_frozen
    original = path.read_bytes()
    for keep in (0, 10, len(original) // 2, len(original) - 2):
        path.write_bytes(original[:keep])
        with pytest.raises(FrozenModelError, match="model.json"):
            read_frozen_model(path)
    path.write_bytes(original[: len(original) // 2])
    with pytest.raises(FrozenModelError, match="truncated or corrupted"):
        read_frozen_model(path)


def test_consistent_edit_of_weight_fails_the_content_hash(tiny_frozen):
    _, _, path = tiny_frozen
    document = json.loads(path.read_text())
    document["content"]["indicators"][0]["weight"] *= 2
    path.write_text(json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n")
    with pytest.raises(FrozenModelError, match="content_sha256 is .* the model was modified after freezing"):
        read_frozen_model(path)


def test_content_hash_does_not_depend_on_provenance(tiny_frozen, tmp_path):
    inputs, fitted, path = tiny_frozen
    other, _ = freeze(fitted, inputs, ThresholdRule(base_year=2020), tmp_path / "again", model_version="test", seed=0, provenance={"run": "b"})
    first, second = read_frozen_model(path), read_frozen_model(other)
    assert first["content_sha256"] == second["content_sha256"]
    assert first["seal_sha256"] != second["seal_sha256"]


def test_non_converged_fit_is_never_frozen(tiny):
    from conftest import write_inputs
    from lbm_model.errors import LbmError

    cells, survey, catalog, tmp = tiny
    paths = write_inputs(tmp / "in", cells, survey, catalog)
    inputs = load_inputs(paths["cells"], paths["survey"], paths["catalog"])
    with pytest.raises(LbmError, match=r"did not converge \(1 iterations, max_iter=1\); nothing was frozen"):
        fit_model(inputs, OrdinalLogit(max_iter=1), select_indicators(inputs))


def test_display_settings_do_not_change_the_content_hash(tiny, capsys):
    """Progress output is a display setting: it is not recorded in model.json's hashed content."""
    cells, survey, catalog, tmp = tiny
    paths = write_inputs(tmp / "in", cells, survey, catalog)
    inputs = load_inputs(paths["cells"], paths["survey"], paths["catalog"])
    hashes, records = [], []
    for progress in (True, False):
        fitted = fit_model(inputs, OrdinalLogit(progress=progress), select_indicators(inputs))
        path, content = freeze(fitted, inputs, ThresholdRule(base_year=2020), tmp / f"export-{progress}",
                               model_version="test", seed=0, provenance={})
        hashes.append(read_frozen_model(path)["content_sha256"])
        records.append(content["estimator"])
    assert "ordinal logit iteration" in capsys.readouterr().err           # progress was on in the first fit
    assert hashes[0] == hashes[1]
    assert records[0]["family"] == "ordinal_logit" and records[0]["params"] == {"cov_type": "cluster", "max_iter": 200,
                                                                                 "tol": 1e-10}
    assert "_target_" not in json.dumps(records[0])


def test_with_native_weights_reseals_only_the_weights(tiny_frozen, tmp_path):
    inputs, fitted, _ = tiny_frozen
    freeze(fitted, inputs, ThresholdRule(base_year=2020), tmp_path, model_version="test", seed=0, provenance={"run": "a"})
    before = read_frozen_model(tmp_path)
    after = with_native_weights(tmp_path, {"green_share_500m": 0.25, "dist_supermarket_m": -0.5})
    assert [i["native_weight"] for i in after["content"]["indicators"]] == [0.25, -0.5]
    assert after["content_sha256"] != before["content_sha256"]
    unchanged = [{k: v for k, v in i.items() if k != "native_weight"} for i in after["content"]["indicators"]]
    assert unchanged == [{k: v for k, v in i.items() if k != "native_weight"} for i in before["content"]["indicators"]]
    assert after["provenance"] == before["provenance"]
    with pytest.raises(KeyError):                  # every indicator needs a weight: nothing is silently kept
        with_native_weights(tmp_path, {"green_share_500m": 0.25})
