"""The fixed-Hessian cluster bootstrap reaches the refits' estimates without refitting."""

from __future__ import annotations

import dataclasses

import numpy as np

from lbm_model.checks.bootstrap import cluster_bootstrap, fixed_hessian_replicates, run_replicates
from lbm_model.errors import ConfigError
from lbm_model.checks.bootstrap import BootstrapConfig


def _context_with(ctx, **bootstrap):
    config = dataclasses.replace(ctx.config, cluster_bootstrap=dataclasses.replace(ctx.config.cluster_bootstrap,
                                                                                     **bootstrap))
    return dataclasses.replace(ctx, config=config)


def test_fixed_hessian_replicates_equal_refits_on_the_same_draws(small_check_context):
    ctx = _context_with(small_check_context, replicates=3)
    fixed, refitted = fixed_hessian_replicates(ctx), run_replicates(ctx)
    spread = np.abs(refitted - ctx.judgement_weights.to_numpy())
    assert np.median(spread) > 1e-3                                   # the replicates do move the weights
    np.testing.assert_allclose(fixed, refitted, rtol=0, atol=1e-7)    # ... to the refits' estimates
    result = cluster_bootstrap(ctx)
    assert result.details["method"] == "fixed_hessian" and result.metrics["failed_replicates"] == 0
    assert "fixed-Hessian Newton" in result.summary


def test_unknown_bootstrap_method_is_refused():
    try:
        BootstrapConfig(method="jackknife")
    except ConfigError as exc:
        assert "checks.cluster_bootstrap.method='jackknife'; expected one of fixed_hessian, refit" in str(exc)
    else:
        raise AssertionError("method='jackknife' was accepted")


def test_threaded_replicates_equal_serial_ones_exactly(small_check_context):
    serial = fixed_hessian_replicates(_context_with(small_check_context, replicates=4, n_jobs=1))
    threaded = fixed_hessian_replicates(_context_with(small_check_context, replicates=4, n_jobs=2))
    assert np.isfinite(serial).all()
    np.testing.assert_array_equal(serial, threaded)
