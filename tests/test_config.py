"""Typed configuration: Hydra structured configs refuse typos and wrong types before any data is read."""

from __future__ import annotations

import dataclasses
import io
import sys
from contextlib import redirect_stderr, redirect_stdout

import pytest

import lbm_model.experiment as experiment
from lbm_model.classes import ThresholdRule
from lbm_model.config import CONF_DIR, LbmConfig, OrdinalLogitConfig, compose_config, typed_config
from lbm_model.errors import ConfigError


def run_main(argv: list[str], monkeypatch, tmp_path) -> tuple[int, str]:
    """lbm-experiment in-process with ``argv``; the data loader is replaced by one that records its calls."""
    calls = []
    monkeypatch.setattr(experiment, "load_inputs", lambda *a, **k: calls.append(a) or pytest.fail("data was read"))
    monkeypatch.setattr(experiment, "ensure_synthetic_world", lambda data: calls.append(data))
    monkeypatch.setattr(sys, "argv", ["lbm-experiment", f"hydra.run.dir={tmp_path}/runs", *argv])
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()), pytest.raises(SystemExit) as exit_info:
        experiment.main()
    assert calls == [], "the inputs were touched before the configuration was refused"
    return exit_info.value.code, err.getvalue()


# Hydra refuses typos and wrong types while composing (its own exit code 1); the schema's range
# checks refuse the rest with our message and exit code 2. Either way no data is read.
@pytest.mark.parametrize("override, code, message", [
    ("checks.spatial.permutaions=5", 1, r"Key 'permutaions' not in 'SpatialConfig'"),
    ("checks.run=[residual_autocorrelation,moon_phase]", 1, r"Invalid value 'moon_phase'"),
    ("checks.proxy.weighting=people", 1, r"Invalid value 'people', expected one of \[cells, households\]"),
    ("checks.fail_on=[colinearity]", 1, r"Invalid value 'colinearity'"),
    ("checks.cluster_bootstrap.replicates=many", 1, r"could not be converted to Integer"),
    ("seed=abc", 1, r"Value 'abc' of type 'str' could not be converted to Integer"),
    ("tracking.enabled=flase", 1, r"Value 'flase' is not a valid bool"),
    ("model.estimator.cov_type=clustr", 1, r"Invalid value 'clustr', expected one of \[cluster, robust, nonrobust\]"),
    ("data.scale=huge", 1, r"Invalid value 'huge', expected one of \[small, nl\]"),
    ("checks.cluster_bootstrap.replicates=1", 2, r"checks\.cluster_bootstrap: replicates=1"),
    ("checks.spatial.alpha=2", 2, r"checks\.spatial\.alpha=2\.0; expected a probability between 0 and 1"),
    ("model.estimator.max_iter=0", 2, r"model\.estimator\.max_iter=0 is not valid; expected a whole number >= 1"),
    ("classes.width=0.1", 2, r"classes: threshold rule needs exactly one of width or width_sd"),
    ("+model.estimator.maxiter=5", 2, r"model\.estimator\.maxiter: no such setting in OrdinalLogitConfig"),
    ("checks.stigma.themes_file=/nowhere/themes.yaml", 2, r"checks\.stigma\.themes_file=/nowhere/themes\.yaml: file not found"),
])
def test_a_bad_override_is_refused_before_any_data_is_read(override, code, message, monkeypatch, tmp_path):
    import re

    exit_code, err = run_main([override], monkeypatch, tmp_path)
    assert exit_code == code and re.search(message, " ".join(err.split())), err
    assert "Traceback" not in err


def test_the_package_configuration_composes_into_typed_objects():
    cfg = typed_config(compose_config([]))
    assert isinstance(cfg, LbmConfig) and isinstance(cfg.model.estimator, OrdinalLogitConfig)
    assert isinstance(cfg.classes, ThresholdRule) and cfg.classes.base_year == 2020
    assert cfg.checks.cluster_bootstrap.replicates == 99 and cfg.data.cells == "data/world-small-seed0/cells.parquet"
    ols = typed_config(compose_config(["model=ols", "checks=fast"]))
    assert ols.model.name == "ols" and ols.checks.cluster_bootstrap.replicates == 9
    assert not hasattr(ols.model.estimator, "max_iter")
    assert (CONF_DIR / "config.yaml").is_file() and CONF_DIR.parent.name == "lbm_model"


def test_missing_values_are_named():
    with pytest.raises(ConfigError, match=r"config: no value for data\.catalog, data\.cells, data\.survey"):
        typed_config(compose_config(["data=files"]))


def test_display_settings_do_not_reach_the_model_params():
    from lbm_model.experiment import build_estimator

    for progress in (True, False):
        cfg = typed_config(compose_config([f"model.estimator.progress={str(progress).lower()}"]))
        estimator = build_estimator(cfg.model)
        assert estimator.progress is progress and type(estimator.cov_type) is str
        assert estimator.model_params() == {"cov_type": "cluster", "max_iter": 200, "tol": 1e-10}


def test_the_schema_and_the_yaml_defaults_agree():
    """conf/checks/default.yaml documents the defaults; it must say what the dataclasses say."""
    from lbm_model.checks.config import ChecksConfig, load_checks_config

    assert load_checks_config("default") == ChecksConfig()
    assert dataclasses.asdict(load_checks_config("default")) == dataclasses.asdict(ChecksConfig())


def test_help_opens_with_what_the_command_does_and_examples(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "argv", ["lbm-experiment", "--help"])
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()), pytest.raises(SystemExit) as exit_info:
        experiment.main()
    text = out.getvalue()
    assert exit_info.value.code in (0, None)
    assert text.startswith("lbm-experiment: re-estimate the Leefbaarometer's indicator weights.")
    assert text.count("\n  lbm-experiment ") == 3
    assert "model: bayes_ordinal, combined, elastic_net, hedonic, multilevel, ols, ordinal_logit, spatial_error, spatial_lag" in text
    assert len(text.splitlines()) < 40


def test_sweeps_launch_in_parallel_here_and_on_slurm_when_asked():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        local = compose(config_name="config", return_hydra_config=True).hydra.launcher
        slurm = compose(config_name="config", overrides=["hydra/launcher=slurm"], return_hydra_config=True).hydra.launcher
    assert local._target_.endswith("JoblibLauncher") and local.n_jobs == 2
    assert slurm._target_.endswith("SlurmLauncher") and slurm.cpus_per_task == 2 and slurm.timeout_min == 120


def test_a_resolved_config_as_the_primary_config_is_held_to_the_schema(tmp_path):
    """DVC's params.yaml (a composed, resolved config) runs as `--config-name params` under the same schema."""
    from omegaconf import OmegaConf

    from lbm_model.config import plain, with_schema

    composed = compose_config(["model=ols", "seed=3"])
    resolved = OmegaConf.create(plain(composed))            # what DVC writes: no schema, plain values
    assert typed_config(with_schema(resolved)) == typed_config(composed)
    resolved.model.estimator.max_iter = 5                  # an ordinal-logit field under least squares
    with pytest.raises(Exception, match="max_iter"):
        with_schema(resolved)
    unknown = OmegaConf.create(plain(composed))
    unknown.model.estimator._target_ = "lbm_model.estimators.Nope"
    with pytest.raises(ConfigError, match="is not a known estimator; expected one of"):
        with_schema(unknown)


def test_the_tracking_store_follows_mlflow_tracking_uri(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert typed_config(compose_config()).tracking.uri == "http://127.0.0.1:5999"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert typed_config(compose_config()).tracking.uri == "sqlite:///mlruns.db"


def test_a_sweep_may_sweep_over_paths_but_a_single_run_path_with_a_comma_is_refused():
    from lbm_model.inputs import unquoted_path_override

    assert unquoted_path_override(["-m", "data.survey=wave1.parquet,wave2.parquet"]) is None
    assert "quote the value" in unquoted_path_override(["data.survey=wave1.parquet,wave2.parquet"])
    assert "quote the value" in unquoted_path_override(["-m", "data.survey=my wave.parquet,wave2.parquet"])
    # Hydra interpolations are part of the grammar (the benchmark's hydra.run.dir uses one); braces outside one are not
    assert unquoted_path_override(["hydra.run.dir=/tmp/runs/${now:%H-%M-%S}"]) is None
    assert unquoted_path_override(["export.dir=${oc.env:HOME,${hydra:runtime.cwd}}/out"]) is None
    assert "'{'" in unquoted_path_override(["hydra.run.dir=/tmp/runs/{x}"])
