"""`lbm export-onnx`: the frozen scorer as an ONNX graph, so teams in other stacks can score.

The graph computes what ``lbm_model.scoring.CompiledScorer`` computes, from one input
``indicators`` (cells x indicators, in the frozen model's indicator order, which the graph's
metadata lists under ``indicator_names``):

* ``dimensions`` (cells x 5, double, in the order of metadata ``dimension_keys``): per dimension
  the sum of ``weight * (transform(x) - mean) / sd`` over its indicators;
* ``score`` (cells, double): the sum of the dimensions;
* ``class`` (cells, int64, 1..9): class k holds thresholds[k-2] <= score < thresholds[k-1];
* ``outside`` (indicators, int64): cells outside each indicator's training range.

All arithmetic is in double precision (a float32 input is cast on entry). The graph does
not validate its input as ``lbm score`` does (missing values, values outside a transform's
domain): callers validate first, as the data contract describes. The model is read through
the verified loader (``frozen.read_frozen_model``); the graph's metadata records the frozen
model's ``content_sha256``. Only the ``onnx`` package is needed to write it; onnxruntime (or
any ONNX runtime) scores with it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lbm_model.atomic import write_bytes_atomic
from lbm_model.classes import CLASS_LABELS
from lbm_model.dimensions import DIMENSION_KEYS
from lbm_model.scoring import CompiledScorer

OPSET = 17               # ReduceSum with axes as an input; onnxruntime >= 1.13 runs it
IR_VERSION = 8           # the IR version of opset 17, readable by older runtimes too
INPUT_TYPES = ("float32", "float64")
OUTPUT_NAMES = ("dimensions", "score", "class", "outside")
ONNX_FILE = "model.onnx"


def scorer_graph(scorer: CompiledScorer, input_type: str = "float64"):
    """The ONNX ModelProto of ``scorer`` (checked with ``onnx.checker``)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if input_type not in INPUT_TYPES:
        raise ValueError(f"input_type {input_type!r}; expected one of {', '.join(INPUT_TYPES)}")
    p = len(scorer.names)
    transforms = np.array(scorer.transforms)
    membership = np.zeros((p, len(DIMENSION_KEYS)))
    membership[np.arange(p), scorer.dimension_index] = 1.0
    constants = {
        "one": np.array(1.0), "is_log1p": transforms == "log1p", "is_sqrt": transforms == "sqrt",
        "weighted_membership": membership * scorer.slope[:, None],       # indicators x dimensions
        "dimension_offset": scorer.offset @ membership,                  # dimensions
        "train_min": scorer.train_min, "train_max": scorer.train_max,
        "thresholds": scorer.thresholds.reshape(1, -1), "class_one": np.array(1, np.int64),
        "cells_axis": np.array([0], np.int64), "last_axis": np.array([1], np.int64),
    }
    initializers = [numpy_helper.from_array(np.ascontiguousarray(value), name) for name, value in constants.items()]
    node = helper.make_node
    nodes = [
        node("Cast", ["indicators"], ["x"], to=TensorProto.DOUBLE),
        # transforms: log1p and sqrt where the catalog says so (Where picks per column; the other branch is unused)
        node("Add", ["x", "one"], ["x_plus_one"]), node("Log", ["x_plus_one"], ["log1p_x"]),
        node("Sqrt", ["x"], ["sqrt_x"]),
        node("Where", ["is_sqrt", "sqrt_x", "x"], ["sqrt_or_x"]),
        node("Where", ["is_log1p", "log1p_x", "sqrt_or_x"], ["transformed"]),
        # standardisation and weights folded: dimension d = sum_j slope_j t_j [j in d] + sum_j offset_j [j in d]
        node("MatMul", ["transformed", "weighted_membership"], ["weighted"]),
        node("Add", ["weighted", "dimension_offset"], ["dimensions"]),
        node("ReduceSum", ["dimensions", "last_axis"], ["score"], keepdims=0),
        # class = 1 + number of thresholds at or below the score
        node("Unsqueeze", ["score", "last_axis"], ["score_column"]),
        node("GreaterOrEqual", ["score_column", "thresholds"], ["at_or_above"]),
        node("Cast", ["at_or_above"], ["at_or_above_count"], to=TensorProto.INT64),
        node("ReduceSum", ["at_or_above_count", "last_axis"], ["thresholds_below"], keepdims=0),
        node("Add", ["thresholds_below", "class_one"], ["class"]),
        # range counts per indicator
        node("Less", ["x", "train_min"], ["below"]), node("Greater", ["x", "train_max"], ["above"]),
        node("Or", ["below", "above"], ["out_of_range"]),
        node("Cast", ["out_of_range"], ["out_of_range_count"], to=TensorProto.INT64),
        node("ReduceSum", ["out_of_range_count", "cells_axis"], ["outside"], keepdims=0),
    ]
    elem = TensorProto.FLOAT if input_type == "float32" else TensorProto.DOUBLE
    graph = helper.make_graph(
        nodes, "lbm_scorer",
        inputs=[helper.make_tensor_value_info("indicators", elem, ["cells", p])],
        outputs=[helper.make_tensor_value_info("dimensions", TensorProto.DOUBLE, ["cells", len(DIMENSION_KEYS)]),
                 helper.make_tensor_value_info("score", TensorProto.DOUBLE, ["cells"]),
                 helper.make_tensor_value_info("class", TensorProto.INT64, ["cells"]),
                 helper.make_tensor_value_info("outside", TensorProto.INT64, [p])],
        initializer=initializers,
        doc_string="Leefbaarometer scorer: indicators (cells x indicators, metadata indicator_names order) -> "
                   "dimensions, score, class 1..9, cells outside the training range per indicator.")
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="lbm-model",
                              doc_string=f"frozen model content_sha256 {scorer.content_sha256}")
    model.ir_version = IR_VERSION
    metadata = {"content_sha256": scorer.content_sha256, "indicator_names": ",".join(scorer.names),
                "dimension_keys": ",".join(DIMENSION_KEYS), "class_labels": ",".join(CLASS_LABELS)}
    helper.set_model_props(model, metadata)
    onnx.checker.check_model(model, full_check=True)
    return model


def export_onnx(model_path: str | Path, out: str | Path | None = None, input_type: str = "float64") -> Path:
    """Read and verify the frozen model at ``model_path``, write its ONNX graph atomically; returns the path.

    ``out`` defaults to ``model.onnx`` beside the model's model.json.
    """
    model_path = Path(model_path)
    scorer = CompiledScorer.load(model_path)
    if out is None:
        out = (model_path if model_path.is_dir() else model_path.parent) / ONNX_FILE
    return write_bytes_atomic(Path(out), scorer_graph(scorer, input_type).SerializeToString())


def indicator_matrix(scorer: CompiledScorer, cells, dtype=np.float64) -> np.ndarray:
    """The graph's input for a (validated) cells table: cells x indicators in the model's order."""
    return np.column_stack([cells[name].to_numpy(dtype) for name in scorer.names])
