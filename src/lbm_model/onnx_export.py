"""`lbm export-onnx`: the frozen scorer as an ONNX graph, so teams in other stacks can score.

The graph computes what ``lbm_model.scoring.CompiledScorer`` computes, from one input
``indicators`` (cells x indicators, in the frozen model's indicator order, which the graph's
metadata lists under ``indicator_names``):

* ``dimensions`` (cells x 5, double, in the order of metadata ``dimension_keys``): per dimension
  the sum of ``weight * (transform(x) - mean) / sd`` over its indicators;
* ``score`` (cells, double): the sum of the dimensions;
* ``class`` (cells, int64, 1..9): class k holds thresholds[k-2] <= score < thresholds[k-1];
* ``outside`` (indicators, int64): cells outside each indicator's training range.

All arithmetic is in double precision (a float32 input is cast on entry); each transform runs
on its own columns only. Memory grows with the rows of one call: score large tables in
batches of rows (``lbm score`` uses 131,072), as the benchmark does. The graph does
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
    weighted_membership = membership * scorer.slope[:, None]           # indicators x dimensions
    constants = {
        "one": np.array(1.0), "dimension_offset": scorer.offset @ membership,
        "train_min": scorer.train_min, "train_max": scorer.train_max,
        "thresholds": scorer.thresholds.reshape(1, -1), "class_one": np.array(1, np.int64),
        "cells_axis": np.array([0], np.int64), "last_axis": np.array([1], np.int64),
    }
    node = helper.make_node
    nodes = [node("Cast", ["indicators"], ["x"], to=TensorProto.DOUBLE)]
    # each transform applied only to its own columns (Gather), each group's weighted sum per dimension a MatMul
    parts = []
    for transform in ("none", "log1p", "sqrt"):
        columns = np.flatnonzero(transforms == transform)
        if not len(columns):
            continue
        constants[f"{transform}_columns"] = columns.astype(np.int64)
        constants[f"{transform}_weights"] = weighted_membership[columns]
        nodes.append(node("Gather", ["x", f"{transform}_columns"], [f"{transform}_x"], axis=1))
        if transform == "log1p":
            nodes += [node("Add", ["log1p_x", "one"], ["log1p_x_plus_one"]),
                      node("Log", ["log1p_x_plus_one"], ["log1p_t"])]
        elif transform == "sqrt":
            nodes.append(node("Sqrt", ["sqrt_x"], ["sqrt_t"]))
        source = "none_x" if transform == "none" else f"{transform}_t"
        nodes.append(node("MatMul", [source, f"{transform}_weights"], [f"{transform}_part"]))
        parts.append(f"{transform}_part")
    nodes += [node("Sum", [*parts, "dimension_offset"], ["dimensions"]),
              node("ReduceSum", ["dimensions", "last_axis"], ["score"], keepdims=0),
              # class = 1 + number of thresholds at or below the score
              node("Unsqueeze", ["score", "last_axis"], ["score_column"]),
              node("GreaterOrEqual", ["score_column", "thresholds"], ["at_or_above"]),
              node("Cast", ["at_or_above"], ["at_or_above_count"], to=TensorProto.INT64),
              node("ReduceSum", ["at_or_above_count", "last_axis"], ["thresholds_below"], keepdims=0),
              node("Add", ["thresholds_below", "class_one"], ["class"]),
              # range counts per indicator (int32 per cell, summed into int64)
              node("Less", ["x", "train_min"], ["below"]), node("Greater", ["x", "train_max"], ["above"]),
              node("Or", ["below", "above"], ["out_of_range"]),
              node("Cast", ["out_of_range"], ["out_of_range_count"], to=TensorProto.INT32),
              node("ReduceSum", ["out_of_range_count", "cells_axis"], ["outside_int32"], keepdims=0),
              node("Cast", ["outside_int32"], ["outside"], to=TensorProto.INT64)]
    initializers = [numpy_helper.from_array(np.ascontiguousarray(value), name) for name, value in constants.items()]
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
