"""The Bayesian family's pieces that need no sampler: priors from a frozen model, the convergence check,
posterior fields of model.json, and class probabilities in production scoring (sampling: test_bayes_recovery.py)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from conftest import BIN
from lbm_model.checks.posterior import PosteriorConfig, posterior_convergence
from lbm_model.checks.registry import CHECKS
from lbm_model.errors import ConfigError, FrozenModelError, LbmError
from lbm_model.estimators.bayes import BayesOrdinal, WeightPrior
from lbm_model.frozen import read_frozen_model, write_frozen_model
from lbm_model.scoring import PROBABILITY_COLUMNS, CompiledScorer


def resealed(path, out_dir, edit) -> dict:
    """The frozen model at ``path`` with ``edit(content)`` applied, sealed again into ``out_dir``."""
    document = read_frozen_model(path)
    content = copy.deepcopy(document["content"])
    edit(content)
    write_frozen_model(out_dir, content, document["provenance"])
    return read_frozen_model(out_dir)


# --- priors ---------------------------------------------------------------------------------------------
def test_power_prior_combines_the_previous_estimate_with_the_weak_prior(tiny_frozen):
    _, fitted, path = tiny_frozen
    document = read_frozen_model(path)
    names = list(fitted.results.weights.index)
    prior = WeightPrior.from_frozen(document, [*names, "not_in_prior"], strength=2.0, weak_sd=2.5)
    native_se = fitted.results.standard_errors
    for name in names:
        precision = 1 / 2.5**2 + 2.0 / native_se[name] ** 2
        assert prior.sd[name] == pytest.approx(precision**-0.5, rel=1e-9)
        assert prior.mean[name] == pytest.approx(2.0 / native_se[name] ** 2 * fitted.results.weights[name] / precision,
                                                 rel=1e-9)
    assert prior.mean["not_in_prior"] == 0 and prior.sd["not_in_prior"] == 2.5
    assert set(prior.informed) == set(names) and prior.source_sha256 == document["content_sha256"]


def test_strength_zero_is_the_weak_prior_and_records_the_source(tiny_frozen):
    _, fitted, path = tiny_frozen
    document = read_frozen_model(path)
    names = list(fitted.results.weights.index)
    prior = BayesOrdinal(prior=document, prior_strength=0.0, weak_sd=1.5).weight_prior(names)
    assert (prior.mean == 0).all() and (prior.sd == 1.5).all() and prior.informed == ()
    assert BayesOrdinal(prior=document).model_params()["prior"] == document["content_sha256"]


def test_prior_from_a_linear_model_is_refused(tiny_frozen, tmp_path):
    _, fitted, path = tiny_frozen

    def as_linear(content):
        content["estimator"]["family"], content["estimator"]["scale_rule"] = "least_squares", "identity"

    document = resealed(path, tmp_path / "ols", as_linear)
    with pytest.raises(ValueError, match="not on the ordinal logit scale.*least_squares"):
        WeightPrior.from_frozen(document, list(fitted.results.weights.index), 1.0, 2.5)


def test_prior_recorded_by_hash_only_cannot_be_refitted_with_strength():
    with pytest.raises(ValueError, match="recorded by its hash only"):
        BayesOrdinal(prior="ab" * 32, prior_strength=1.0).weight_prior(["a"])


# --- convergence check ---------------------------------------------------------------------------------
def _context(rhat: float, divergences: int, ess: float = 1000.0):
    extras = SimpleNamespace(convergence={"max_rhat": rhat, "min_ess_bulk": ess, "min_ess_tail": ess,
                                          "divergences": float(divergences)})
    return SimpleNamespace(results=SimpleNamespace(extras=extras, family="bayes_ordinal"),
                           config=SimpleNamespace(posterior_convergence=PosteriorConfig()))


@pytest.mark.parametrize("rhat, divergences, ess, verdict", [
    (1.004, 0, 1000, "pass"), (1.02, 0, 1000, "fail"), (1.004, 1, 1000, "fail"), (1.004, 0, 150, "warn")])
def test_convergence_check_fails_on_rhat_or_any_divergence(rhat, divergences, ess, verdict):
    result = posterior_convergence(_context(rhat, divergences, ess))
    assert result.verdict == verdict, result.summary
    assert result.metrics["max_rhat"] == rhat and all(np.isfinite(list(result.metrics.values())))


def test_convergence_check_is_not_applicable_without_a_posterior(tiny_frozen):
    results = tiny_frozen[1].results
    check = CHECKS["posterior_convergence"]
    missing = [n for n in check.needs if not getattr(results.capabilities, n)]
    result = check.not_applicable(missing, results.family)
    assert result.verdict == "not applicable" and result.metrics == {} and "posterior" in str(result.details)


def test_convergence_thresholds_are_range_checked():
    with pytest.raises(ConfigError, match="max_rhat=1.0"):
        PosteriorConfig(max_rhat=1.0)


# --- posterior fields of model.json and class probabilities --------------------------------------------
@pytest.fixture
def model_with_draws(tiny_frozen, tmp_path):
    """The tiny model with 40 draws of its weights around the point weights, and 90% intervals."""
    inputs, _, path = tiny_frozen
    rng = np.random.default_rng(3)

    def add_posterior(content):
        weights = np.array([e["weight"] for e in content["indicators"]])
        draws = weights + rng.normal(0, 0.5 * np.abs(weights).mean(), (40, len(weights)))
        for entry, column in zip(content["indicators"], draws.T):
            entry["interval_90"] = [float(np.quantile(column, 0.05)), float(np.quantile(column, 0.95))]
        content["posterior_draws"] = {"source": "posterior", "n_draws": 40, "weights": draws.tolist()}

    resealed(path, tmp_path / "bayes", add_posterior)
    return inputs, path, tmp_path / "bayes"


def test_class_probabilities_sum_to_one_and_follow_the_draws(model_with_draws):
    inputs, point_path, path = model_with_draws
    scorer = CompiledScorer.load(path)
    probabilities = scorer.class_probabilities(inputs.cells)
    assert probabilities.shape == (len(inputs.cells), 9)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(probabilities * 40 == np.round(probabilities * 40))          # shares of 40 draws
    # a model whose only draw is its point weights gives probability 1 to the point class
    point = CompiledScorer.load(point_path)
    single = type(point)(**{**point.__dict__, "draw_slopes": point.slope[None, :], "draw_offsets": point.offset[None, :]})
    classes = point.score(inputs.cells)["class"].to_numpy()
    np.testing.assert_array_equal(single.class_probabilities(inputs.cells)[np.arange(len(classes)), classes - 1], 1.0)


def test_models_without_draws_refuse_class_probabilities(tiny_frozen):
    inputs, _, path = tiny_frozen
    with pytest.raises(LbmError, match="no posterior draws.*bayes_ordinal"):
        CompiledScorer.load(path).class_probabilities(inputs.cells)


@pytest.mark.slow     # two lbm processes
def test_lbm_score_class_probabilities(model_with_draws, tiny_frozen, tmp_path):
    inputs, point_path, path = model_with_draws
    out = tmp_path / "scores.parquet"
    run = subprocess.run([str(BIN / "lbm"), "score", "--model", str(path), "--cells", inputs.paths["cells"],
                          "--out", str(out), "--class-probabilities"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    scores = pd.read_parquet(out)
    assert list(scores.columns[-9:]) == list(PROBABILITY_COLUMNS)
    np.testing.assert_allclose(scores[list(PROBABILITY_COLUMNS)].sum(axis=1), 1.0, atol=1e-12)
    refused = subprocess.run([str(BIN / "lbm"), "score", "--model", str(point_path), "--cells", inputs.paths["cells"],
                              "--out", str(tmp_path / "no.parquet"), "--class-probabilities"], capture_output=True, text=True)
    assert refused.returncode == 2 and "no posterior draws" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "no.parquet").exists()


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["indicators"][0].update(interval_90=[1.0, 0.5]), "interval_90"),
    (lambda c: c["posterior_draws"]["weights"][0].pop(), "finite weights"),
    (lambda c: c.update(posterior_draws={"weights": []}), "non-empty list of draws"),
])
def test_malformed_posterior_fields_are_refused(model_with_draws, tmp_path, edit, message):
    _, _, path = model_with_draws
    with pytest.raises(FrozenModelError, match=message):
        resealed(path, tmp_path / "bad", edit)


@pytest.mark.slow     # a fresh interpreter compiles the scoring kernel
def test_scoring_with_draws_imports_no_training_stack(model_with_draws):
    inputs, _, path = model_with_draws
    code = (f"import sys; from lbm_model.scoring import CompiledScorer; from lbm_model.contract import read_table\n"
            f"CompiledScorer.load({str(path)!r}).class_probabilities(read_table({inputs.paths['cells']!r}))\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pymc', 'pytensor', 'arviz', 'sklearn', "
            "'statsmodels', 'mlflow', 'hydra')))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().replace("'", '"')) == []


# --- configuration --------------------------------------------------------------------------------------
def test_bayes_config_is_range_checked():
    from lbm_model.config import BayesOrdinalConfig

    with pytest.raises(ConfigError, match="prior_strength=-1"):
        BayesOrdinalConfig(prior_strength=-1)
    with pytest.raises(ConfigError, match="chains=1"):
        BayesOrdinalConfig(chains=1)
    pytest.importorskip("nutpie")
    try:
        import numpyro  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="sampler=numpyro: the package numpyro is not installed"):
            BayesOrdinalConfig(sampler="numpyro")


def test_model_prior_is_read_verified_and_refused_for_other_families(tiny_frozen, tmp_path):
    from lbm_model.config import ModelConfig, OrdinalLogitConfig
    from lbm_model.experiment import build_estimator
    from lbm_model.config import BayesOrdinalConfig

    _, _, path = tiny_frozen
    estimator = build_estimator(ModelConfig(name="b", estimator=BayesOrdinalConfig(), prior=str(path)))
    assert estimator.prior["content_sha256"] == read_frozen_model(path)["content_sha256"]
    with pytest.raises(LbmError, match="model.prior=.* is only used by model=bayes_ordinal"):
        build_estimator(ModelConfig(name="o", estimator=OrdinalLogitConfig(), prior=str(path)))
    tampered = tmp_path / "model.json"
    tampered.write_text(path.read_text().replace('"model_version": "test"', '"model_version": "tost"'))
    with pytest.raises(FrozenModelError, match="verification failed"):
        build_estimator(ModelConfig(name="b", estimator=BayesOrdinalConfig(), prior=str(tampered)))
