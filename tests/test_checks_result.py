"""The shared result object and the checks configuration."""

from __future__ import annotations

import json
import math

import pytest

import dataclasses

from lbm_model.checks.config import checks_config, load_checks_config
from lbm_model.checks.result import CheckResult, grade, worst
from lbm_model.errors import ConfigError


def test_result_is_read_only_and_serialises_deterministically():
    result = CheckResult("x", "warn", {"a": 1, "b": float("nan")}, {"rows": [{"v": 0.1 + 0.2}]}, ("evidence/x/t.csv",), "s")
    with pytest.raises(dataclasses.FrozenInstanceError):
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
    assert worst(["not applicable", "pass"]) == "pass" and worst(["not applicable"]) == "not applicable"
    assert grade(5, 10, 100) == "pass" and grade(10, 10, 100) == "warn" and grade(150, 10, 100) == "fail"
    assert grade(0.2, 0.5, 0.1, higher_is_worse=False) == "warn" and grade(math.nan, 1, 2) == "warn"


def test_default_config_loads_and_round_trips_through_audit_form():
    cfg = load_checks_config()
    assert cfg.spatial.permutations == 999 and cfg.cluster_bootstrap.replicates == 99
    assert cfg.run == ["residual_autocorrelation", "score_autocorrelation", "proxy_audit", "collinearity",
                       "sign_plausibility", "blocked_cv", "cluster_bootstrap", "family_diagnostics", "posterior_convergence"]
    again = checks_config(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


def test_the_fast_option_and_a_file_with_a_defaults_list_load_with_the_same_schema():
    import lbm_model.config

    by_name = load_checks_config("fast")
    by_file = load_checks_config(lbm_model.config.CONF_DIR / "checks" / "fast.yaml")
    assert by_name == by_file
    assert by_name.spatial.permutations == 99 and by_name.cluster_bootstrap.replicates == 9
    assert by_name.proxy == load_checks_config().proxy        # everything else from default.yaml


def test_a_user_file_can_build_on_the_package_options(tmp_path):
    (tmp_path / "mine.yaml").write_text("defaults:\n  - fast\n  - _self_\nspatial:\n  permutations: 7\n")
    cfg = load_checks_config(tmp_path / "mine.yaml")
    assert cfg.spatial.permutations == 7 and cfg.cluster_bootstrap.replicates == 9     # the rest from fast.yaml
    (tmp_path / "mine.yml").write_text("seed: 1\n")
    with pytest.raises(ConfigError, match=r"mine\.yml: a checks configuration must be a \.yaml file"):
        load_checks_config(tmp_path / "mine.yml")
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: checks configuration not found"):
        load_checks_config(tmp_path / "nowhere.yaml")


@pytest.mark.parametrize("raw, message", [
    ({"spatial": {"permutations": 99, "typo": 1}}, r"Key 'typo' not in 'SpatialConfig' \(at checks\.spatial\.typo\)"),
    ({"spatial": {"weights": ["queen"]}}, r"Invalid value 'queen', expected one of \[knn, distance_band\]"),
    ({"spatial": {"permutations": "many"}}, r"'many' of type 'str' could not be converted to Integer"),
    ({"run": ["residual_autocorrelation", "moon_phase"]}, r"Invalid value 'moon_phase'.*\(at checks\.run\[1\]\)"),
    ({"proxy": {"weighting": "people"}}, r"Invalid value 'people', expected one of \[cells, households\]"),
    ({"cluster_bootstrap": {"replicates": 1}}, r"checks\.cluster_bootstrap: replicates=1"),
    ({"spatial": {"alpha": 1.5}}, r"checks\.spatial\.alpha=1\.5; expected a probability"),
    ({"disclosure": {"min_households": 0}}, r"checks\.disclosure\.min_households=0: expected a whole number >= 1"),
    ({"disclosure": {"min_respondents": 3}}, r"checks\.disclosure\.min_respondents=3 is below the primer's disclosure "
                                             r"minimum of 10; .*state why with checks\.disclosure\.unsafe_reason="),
    ({"disclosure": {"min_households": -1, "unsafe_reason": "test"}}, r"min_households=-1: expected a whole number >= 1"),
])
def test_bad_config_is_refused_with_the_key_and_the_expectation(raw, message):
    with pytest.raises(ConfigError, match=message):
        checks_config(raw)


def test_a_lower_disclosure_minimum_with_a_reason_is_accepted_and_recorded():
    config = checks_config({"disclosure": {"min_respondents": 5, "unsafe_reason": "internal review only"}})
    assert config.to_dict()["disclosure"] == {"min_respondents": 5, "min_households": 10,
                                              "unsafe_reason": "internal review only"}
