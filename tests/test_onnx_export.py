"""`lbm export-onnx`: the ONNX graph scores the small world's cells as the Python scorer does."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from conftest import BIN
from lbm_model.classes import ThresholdRule
from lbm_model.dimensions import DIMENSION_KEYS
from lbm_model.onnx_export import export_onnx, indicator_matrix
from lbm_model.recalibrate import freeze
from lbm_model.scoring import CompiledScorer


@pytest.fixture(scope="module")
def small_frozen(small_inputs, fitted_ordinal, tmp_path_factory):
    path, _ = freeze(fitted_ordinal, small_inputs, ThresholdRule(base_year=2020), tmp_path_factory.mktemp("onnx-export"),
                     model_version="onnx-test", seed=0, provenance={"run": "onnx"})
    return path.parent


def run_graph(path, matrix: np.ndarray) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, {"indicators": matrix})))


@pytest.mark.parametrize("input_type", ["float64", "float32"])
def test_graph_matches_python_scorer_on_the_small_world(small_frozen, small_inputs, tmp_path, input_type):
    scorer = CompiledScorer.load(small_frozen)
    cells = small_inputs.cells
    path = export_onnx(small_frozen, tmp_path / "scorer.onnx", input_type)
    reference = scorer.run(cells)
    dtype = np.float32 if input_type == "float32" else np.float64
    got = run_graph(path, indicator_matrix(scorer, cells, dtype))
    if input_type == "float32":       # the graph casts float32 values exactly; the reference must see the same values
        reference = scorer.run(cells.astype({name: np.float32 for name in scorer.names}))
    assert len(cells) > 10_000
    np.testing.assert_allclose(got["score"], reference.score, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got["dimensions"], reference.dimensions, rtol=0, atol=1e-6)
    near_threshold = np.min(np.abs(reference.score[:, None] - scorer.thresholds[None, :]), axis=1) < 1e-9
    assert np.array_equal(got["class"][~near_threshold], reference.classes[~near_threshold])
    assert np.array_equal(got["outside"], reference.outside)
    assert len(np.unique(got["class"])) >= 5        # the classes are exercised, not all one


def test_graph_counts_out_of_range_values_and_records_the_model(small_frozen, small_inputs, tmp_path):
    scorer = CompiledScorer.load(small_frozen)
    path = export_onnx(small_frozen, tmp_path / "scorer.onnx")
    matrix = indicator_matrix(scorer, small_inputs.cells.head(50))
    matrix[:3, 0] = scorer.train_max[0] + 1.0         # three cells above the first indicator's range
    matrix[7, 1] = scorer.train_min[1] - 1.0          # one below the second's
    outside = run_graph(path, matrix)["outside"]
    assert outside[0] == 3 and outside[1] == 1 and outside[2:].sum() == 0
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert meta["content_sha256"] == scorer.content_sha256
    assert meta["indicator_names"].split(",") == list(scorer.names)
    assert meta["dimension_keys"].split(",") == list(DIMENSION_KEYS)


def test_export_command_writes_beside_the_model_and_refuses_a_tampered_model(small_frozen, tmp_path):
    done = subprocess.run([str(BIN / "lbm"), "export-onnx", str(small_frozen)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (small_frozen / "model.onnx").is_file()
    tampered = tmp_path / "model"
    tampered.mkdir()
    document = json.loads((small_frozen / "model.json").read_text())
    document["content"]["indicators"][0]["weight"] += 0.5
    (tampered / "model.json").write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    refused = subprocess.run([str(BIN / "lbm"), "export-onnx", str(tampered)], capture_output=True, text=True)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "verification failed" in refused.stderr and not (tampered / "model.onnx").exists()
    bad_type = subprocess.run([str(BIN / "lbm"), "export-onnx", str(small_frozen), "--input-type", "int8",
                               "--out", str(tmp_path / "x.onnx")], capture_output=True, text=True)
    assert bad_type.returncode == 2 and "--input-type 'int8'" in bad_type.stderr
    assert not (tmp_path / "x.onnx").exists()
