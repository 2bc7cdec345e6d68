"""The shared result object and the checks configuration."""

from __future__ import annotations

import json
import math

import pytest

from lbm_model.checks.config import ChecksConfigError, checks_config, load_checks_config
from lbm_model.checks.result import CheckResult, grade, worst


def test_result_is_read_only_and_serialises_deterministically():
    result = CheckResult("x", "warn", {"a": 1, "b": float("nan")}, {"rows": [{"v": 0.1 + 0.2}]}, ("evidence/x/t.csv",), "s")
    with pytest.raises(Exception):
        result.verdict = "pass"
    with pytest.raises(TypeError):
        result.metrics["a"] = 2.0
    form = result.to_dict()
    assert form["metrics"] == {"a": 1.0, "b": None}
    assert form["details"]["rows"][0]["v"] == 0.3
    assert json.dumps(form, sort_keys=True, allow_nan=False)


def test_verdicts_are_checked_and_ordered():
    with pytest.raises(ValueError):
        CheckResult("x", "ok")
    assert worst(["pass", "warn", "pass"]) == "warn" and worst([]) == "pass" and worst(["fail", "warn"]) == "fail"
    assert grade(5, 10, 100) == "pass" and grade(10, 10, 100) == "warn" and grade(150, 10, 100) == "fail"
    assert grade(0.2, 0.5, 0.1, higher_is_worse=False) == "warn" and grade(math.nan, 1, 2) == "warn"


def test_default_config_loads_and_round_trips_through_audit_form():
    cfg = load_checks_config()
    assert cfg.spatial.permutations == 999 and set(cfg.stigma.themes) == {
        "migration_background", "household_composition", "benefit_dependence", "income", "age", "education"}
    again = checks_config(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


@pytest.mark.parametrize("raw, message", [
    ({"spatial": {"permutations": 99, "typo": 1}}, "unknown key"),
    ({"spatial": {"weights": ["queen"]}}, "weights"),
    ({"spatial": {"permutations": "many"}}, "whole number"),
    ({"run": ["residual_autocorrelation", "moon_phase"]}, "moon_phase"),
    ({"proxy": {"weighting": "people"}}, "weighting"),
    ({"cluster_bootstrap": {"replicates": 1}}, "replicates"),
])
def test_bad_config_is_refused_before_any_work(raw, message):
    base = load_checks_config().to_dict()
    base = {**base, **{k: {**base.get(k, {}), **v} if isinstance(v, dict) else v for k, v in raw.items()}}
    with pytest.raises(ChecksConfigError, match=message):
        checks_config(base)


def test_themes_are_required():
    with pytest.raises(ChecksConfigError, match="themes"):
        checks_config({})
