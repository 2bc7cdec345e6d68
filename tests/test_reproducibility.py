"""Reproducibility: the same data, config and seed give bit-identical results in separate processes.

The demo (tests/demo_run.py) runs ``lbm-experiment`` twice at the same time, in two
processes, with one command line apart from the export directory. Weights, frozen content
and its hash, cell and area scores, check p-values and evidence files must be identical
byte for byte; run-specific provenance (run id, timestamp, paths, command) lives outside the
hashed content; the rerun record in MLflow holds the command that reproduces the model.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3

import pandas as pd
import pytest

from demo_run import experiment_argv, run_demo
from lbm_model.frozen import canonical_json, read_frozen_model
from lbm_model.inputs import file_sha256

pytestmark = pytest.mark.slow  # runs the demo: two concurrent lbm-experiment processes


@pytest.fixture(scope="module")
def demo(small_world, tmp_path_factory):
    return run_demo(tmp_path_factory.getbasetemp() / "demo", small_world)


def _models(demo):
    return [read_frozen_model(demo.exports[k]) for k in ("a", "b")]


def test_frozen_content_and_its_hash_are_identical(demo):
    a, b = _models(demo)
    assert a["content_sha256"] == b["content_sha256"]
    assert canonical_json(a["content"]) == canonical_json(b["content"])
    assert a["provenance"]["mlflow_run_id"] != b["provenance"]["mlflow_run_id"]
    assert a["seal_sha256"] != b["seal_sha256"]  # provenance differs; it is sealed, not hashed into content


def test_weights_are_bit_identical(demo):
    a, b = _models(demo)
    fields = ("weight", "native_weight", "standard_error", "mean", "sd", "train_min", "train_max")
    for left, right in zip(a["content"]["indicators"], b["content"]["indicators"], strict=True):
        assert [float(left[f]).hex() for f in fields] == [float(right[f]).hex() for f in fields], left["name"]
    assert [float(t).hex() for t in a["content"]["classes"]["thresholds"]] == \
        [float(t).hex() for t in b["content"]["classes"]["thresholds"]]


@pytest.mark.parametrize("name", ["scores.parquet", "scores_buurt.parquet", "scores_wijk.parquet",
                                  "scores_gemeente.parquet"])
def test_scores_are_bit_identical(demo, name):
    left, right = (demo.exports[k] / name for k in ("a", "b"))
    pd.testing.assert_frame_equal(pd.read_parquet(left), pd.read_parquet(right), check_exact=True)
    assert file_sha256(left) == file_sha256(right)


def _p_values(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _p_values(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _p_values(value, f"{path}[{i}]")
    elif re.search(r"\.p(_\w+)?$", path):
        yield path, node


def test_check_p_values_and_evidence_are_identical(demo):
    audits = [json.loads((demo.exports[k] / "audit.json").read_text()) for k in ("a", "b")]
    p_a, p_b = (dict(_p_values(a)) for a in audits)
    assert len(p_a) >= 8, "the audit should hold the checks' p-values (Moran permutation p_sim among them)"
    assert any(".p_sim" in k for k in p_a)
    assert p_a == p_b
    assert (demo.exports["a"] / "audit.json").read_bytes() == (demo.exports["b"] / "audit.json").read_bytes()
    evidence = [{str(p.relative_to(demo.exports[k])): hashlib.sha256(p.read_bytes()).hexdigest()
                 for p in sorted((demo.exports[k] / "evidence").rglob("*")) if p.is_file()} for k in ("a", "b")]
    assert evidence[0] and evidence[0] == evidence[1]


def test_hashed_content_holds_no_run_specific_provenance(demo):
    a, _ = _models(demo)
    text = canonical_json(a["content"])
    for run_specific in (str(demo.root), str(demo.world), demo.run_ids["a"], demo.run_ids["b"], "/tmp/", "/home/"):
        assert run_specific not in text
    assert not re.search(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", text), "a timestamp inside the hashed content"
    assert {"created_at", "mlflow_run_id"} <= set(a["provenance"])


def test_rerun_record_holds_what_is_needed_to_rerun(demo):
    record = demo.records["a"]
    model = read_frozen_model(demo.exports["a"])
    assert record["expected_content_sha256"] == model["content_sha256"]
    assert record["command"][0] == "lbm-experiment" and "data=files" in record["overrides"]
    for key in ("cells", "survey", "catalog"):
        source = demo.world / {"cells": "cells.parquet", "survey": "survey.parquet", "catalog": "catalog.yaml"}[key]
        assert record["inputs"][key]["sha256"] == file_sha256(source)
    assert record["code_version"]["git_commit"] == model["content"]["code_version"]["git_commit"]
    assert "git_dirty" in record["code_version"]
    assert record["packages"]["numpy"] and record["packages"]["esda"] and record["python"]
    assert record["resolved_config"]["seed"] == model["content"]["seed"]
    assert record["working_directory"] == str(demo.root)
    # run B ran the recorded command (only export.dir differs) and reproduced the recorded model
    other = demo.records["b"]
    assert [o for o in record["overrides"] if not o.startswith("export.dir=")] == \
        [o for o in other["overrides"] if not o.startswith("export.dir=")]
    assert [a for a in experiment_argv(demo.world, "a")[1:] if not a.startswith("hydra.")] == record["overrides"]
    assert read_frozen_model(demo.exports["b"])["content_sha256"] == record["expected_content_sha256"]


def test_two_concurrent_runs_are_both_in_the_fresh_tracking_store(demo):
    with sqlite3.connect(demo.root / "mlflow.db") as db:
        rows = dict(db.execute("select run_uuid, status from runs").fetchall())
        tags = dict(db.execute("select run_uuid, value from tags where key = 'content_sha256'").fetchall())
    assert rows == {demo.run_ids["a"]: "FINISHED", demo.run_ids["b"]: "FINISHED"}
    assert set(tags.values()) == {read_frozen_model(demo.exports["a"])["content_sha256"]}
