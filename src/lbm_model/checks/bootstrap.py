"""Cluster bootstrap by buurt: intervals for the weights and for every buurt's rank.

Respondents in one buurt share their surroundings, so the resampling unit is the buurt:
each replicate draws as many buurten as there are, with replacement, keeps all their
respondents (a buurt drawn twice counts as two clusters), re-estimates the model and
rescores the base year. Percentile intervals at ``cluster_bootstrap.level`` follow (Cameron,
Gelbach and Miller 2008; Davison and Hinkley 1997). Every replicate has its own seeded
random stream, so results do not depend on ``n_jobs``.

Re-estimating is either a warm-started refit (``method: refit``) or, for families that offer
it, Newton steps from the full-sample estimate with the replicate's Hessian evaluated once
there and held fixed (``method: fixed_hessian``, the default): a replicate is the full sample
with each respondent weighted by how often its buurt was drawn, so it costs one Hessian and a
few gradients, no data copy, line search or covariance, and it converges to the refit's
estimate (its first step is the one-step estimating-function bootstrap of Hu and Kalbfleisch
2000). Both methods use the same draws.

References
----------
Cameron, A. C., Gelbach, J. B. and Miller, D. L. (2008). Bootstrap-based improvements for
inference with clustered errors. Review of Economics and Statistics 90, 414-427.
Davison, A. C. and Hinkley, D. V. (1997). Bootstrap Methods and their Application. CUP.
Hu, F. and Kalbfleisch, J. D. (2000). The estimating function bootstrap. Canadian Journal of
Statistics 28, 449-481.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lbm_model.checks.context import CheckContext
from lbm_model.checks.evidence import EvidenceWriter
from lbm_model.checks.result import WARN, Check, CheckResult, grade
from lbm_model.errors import ConfigError
from lbm_model.features import EstimationData
from lbm_model.progress import track

NAME = "cluster_bootstrap"


METHODS = ("fixed_hessian", "refit")
METHOD_LABELS = {"fixed_hessian": "fixed-Hessian Newton, no refits", "refit": "refitted"}


@dataclass
class BootstrapConfig:
    """``checks.cluster_bootstrap``: method, replicates, interval level, parallel jobs, rank-width thresholds.

    ``method``: ``fixed_hessian`` (from the full-sample estimate, Newton steps with the replicate's
    Hessian held fixed to the replicate's maximum, for families that offer it; others refit) or
    ``refit`` (a warm-started refit per replicate). ``n_jobs``: replicates at once (in threads, for
    both methods; -1: every core); the draws do not depend on it.
    """

    method: str = "fixed_hessian"
    replicates: int = 99
    level: float = 0.9
    n_jobs: int = -1
    rank_width_warn: float = 0.25
    rank_width_fail: float = 0.5

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"checks.cluster_bootstrap.method={self.method!r}; expected one of {', '.join(METHODS)}.")
        if self.replicates < 2 or not 0 < self.level < 1 or self.n_jobs == 0 or self.n_jobs < -1:
            raise ConfigError(f"checks.cluster_bootstrap: replicates={self.replicates}, level={self.level}, "
                              f"n_jobs={self.n_jobs}; expected >= 2 replicates, a level between 0 and 1 and "
                              "n_jobs >= 1 (or -1 for all cores).")


def replicate_draws(n_clusters: int, seed: int, replicate: int) -> np.ndarray:
    """The clusters one replicate draws (with replacement, as many as there are), from its own stream."""
    return np.random.default_rng([seed, replicate]).integers(0, n_clusters, n_clusters)


def replicate_counts(n_clusters: int, seed: int, replicates: int) -> np.ndarray:
    """How often each replicate draws each cluster (replicates x clusters): the same draws as the refits."""
    return np.array([np.bincount(replicate_draws(n_clusters, seed, b), minlength=n_clusters)
                     for b in range(replicates)], dtype=float)


def replicate_rows(cluster_codes: np.ndarray, n_clusters: int, seed: int, replicate: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of one cluster-bootstrap sample and the cluster id of each row (draw position)."""
    drawn = replicate_draws(n_clusters, seed, replicate)
    order = np.argsort(cluster_codes, kind="stable")
    starts = np.searchsorted(cluster_codes[order], np.arange(n_clusters + 1))
    rows = [order[starts[c]:starts[c + 1]] for c in drawn]
    ids = np.repeat(np.arange(n_clusters), [len(r) for r in rows])
    return np.concatenate(rows), ids


def fit_replicate(template, data: EstimationData, names: list[str], codes: np.ndarray, n_clusters: int,
                  seed: int, replicate: int) -> np.ndarray:
    """Judgement weights of one replicate (NaN when the fit fails)."""
    rows, ids = replicate_rows(codes, n_clusters, seed, replicate)
    sample = data.subset(rows, cluster=ids)
    try:
        results = template.refit_clone(sample.controls.columns).fit_data(sample).results
    except (ValueError, np.linalg.LinAlgError):
        return np.full(len(names), np.nan)
    return results.judgement_weights.reindex(names).to_numpy(float)


def _buurt_ranker(ctx: CheckContext):
    """A function weights -> rank (1 = best) of every buurt with enough households in the base year."""
    cells = ctx.inputs.cells
    base = (cells["year"] == ctx.base_year).to_numpy()
    hh = cells["households"].to_numpy(float)[base]
    codes, inverse = np.unique(cells["buurt_code"].to_numpy()[base].astype(str), return_inverse=True)
    totals = np.bincount(inverse, weights=hh, minlength=len(codes))
    keep = totals >= ctx.config.disclosure.min_households
    values = ctx.fitted.indicator_matrix()[base]

    def rank(weights: np.ndarray) -> np.ndarray:
        score = np.bincount(inverse, weights=(values @ weights) * hh, minlength=len(codes))[keep] / totals[keep]
        order = np.argsort(-score, kind="stable")
        ranks = np.empty(len(order), dtype=float)
        ranks[order] = np.arange(1, len(order) + 1)
        return ranks

    return rank, pd.DataFrame({"buurt_code": codes[keep], "households": totals[keep].astype(np.int64)})


def bootstrap_method(ctx: CheckContext) -> str:
    """``fixed_hessian`` when configured and the family offers it, else ``refit``."""
    wanted = ctx.config.cluster_bootstrap.method
    return "fixed_hessian" if wanted == "fixed_hessian" and hasattr(ctx.estimator, "fixed_hessian_bootstrap") else "refit"


def fixed_hessian_replicates(ctx: CheckContext) -> np.ndarray:
    """Replicate judgement weights by fixed-Hessian Newton steps from the full-sample fit (no refits)."""
    cfg = ctx.config.cluster_bootstrap
    codes_text, codes = np.unique(ctx.data.cluster.astype(str), return_inverse=True)
    counts = replicate_counts(len(codes_text), ctx.config.seed, cfg.replicates)
    draws = track(ctx.estimator.fixed_hessian_bootstrap(ctx.data, codes, counts, n_jobs=worker_count(cfg.n_jobs)),
                  cfg.replicates, "cluster bootstrap (fixed-Hessian Newton)")
    return pd.DataFrame(list(draws), columns=list(ctx.estimator.feature_names_in_)).reindex(
        columns=ctx.indicator_names).to_numpy(float)


def worker_count(n_jobs: int) -> int:
    """``n_jobs`` with -1 meaning every core."""
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


def run_replicates(ctx: CheckContext) -> np.ndarray:
    """Replicate judgement weights (replicates x indicators) by refits, with a progress bar and ETA on a terminal.

    With ``n_jobs`` > 1 the replicates run in joblib threads (no copy of the data per worker; the
    products release the GIL) under one BLAS thread each, so two workers fill two cores without
    oversubscribing; results come back in replicate order.
    """
    from joblib import Parallel, delayed
    from threadpoolctl import threadpool_limits

    cfg = ctx.config.cluster_bootstrap
    codes_text, codes = np.unique(ctx.data.cluster.astype(str), return_inverse=True)
    args = (ctx.estimator, ctx.data, ctx.indicator_names, codes, len(codes_text), ctx.config.seed)
    n_jobs = worker_count(cfg.n_jobs)
    with threadpool_limits(limits=1, user_api="blas"):
        if n_jobs == 1:
            draws = (fit_replicate(*args, b) for b in range(cfg.replicates))
        else:
            draws = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(
                delayed(fit_replicate)(*args, b) for b in range(cfg.replicates))
        return np.array(list(track(draws, cfg.replicates, "cluster bootstrap refits")))


def cluster_bootstrap(ctx: CheckContext) -> CheckResult:
    """Percentile intervals of weights and buurt ranks from ``cluster_bootstrap.replicates`` refits."""
    cfg = ctx.config.cluster_bootstrap
    method = bootstrap_method(ctx)
    draws = fixed_hessian_replicates(ctx) if method == "fixed_hessian" else run_replicates(ctx)
    ok = np.isfinite(draws).all(axis=1)
    draws = draws[ok]
    if len(draws) < 2:
        return CheckResult(NAME, WARN, {"replicates": float(cfg.replicates), "failed_replicates": float((~ok).sum())},
                           summary=f"only {len(draws)} of {cfg.replicates} bootstrap replicates could be fitted.")
    lo_q, hi_q = (1 - cfg.level) / 2, 1 - (1 - cfg.level) / 2
    analytic = ctx.results.judgement_standard_errors
    weights = pd.DataFrame({"name": ctx.indicator_names, "weight": ctx.judgement_weights.to_numpy(float),
                            "lower": np.quantile(draws, lo_q, axis=0), "upper": np.quantile(draws, hi_q, axis=0),
                            "bootstrap_se": draws.std(axis=0, ddof=1),
                            "analytic_se": np.nan if analytic is None else analytic.reindex(ctx.indicator_names).to_numpy()})
    rank, buurten = _buurt_ranker(ctx)
    rank_draws = np.array([rank(w) for w in draws])
    buurten = buurten.assign(rank=rank(ctx.judgement_weights.to_numpy(float)),
                             rank_lower=np.quantile(rank_draws, lo_q, axis=0), rank_upper=np.quantile(rank_draws, hi_q, axis=0))
    rel_width = float(np.median(buurten["rank_upper"] - buurten["rank_lower"]) / max(len(buurten), 1))
    ev = EvidenceWriter(ctx.export_dir, NAME)
    ev.table(weights, "weight_intervals.csv")
    ev.table(buurten, "buurt_rank_intervals.csv")
    excludes_zero = ((weights["lower"] > 0) | (weights["upper"] < 0)).mean()
    se_ratio = float(np.median(weights["bootstrap_se"] / weights["analytic_se"])) if analytic is not None else float("nan")
    metrics = {"replicates": float(cfg.replicates), "failed_replicates": float((~ok).sum()),
               "median_relative_rank_width": rel_width, "share_weights_excluding_zero": float(excludes_zero),
               "median_se_ratio_bootstrap_to_analytic": se_ratio, "n_buurten_ranked": float(len(buurten))}
    verdict = grade(rel_width, cfg.rank_width_warn, cfg.rank_width_fail)
    summary = (f"{len(draws)} buurt-cluster replicates ({METHOD_LABELS[method]}): median {cfg.level:.0%} rank interval spans {rel_width:.1%} of "
               f"{len(buurten):,} buurten; {excludes_zero:.0%} of weight intervals exclude 0"
               + (f"; bootstrap/analytic SE ratio {se_ratio:.2f}." if analytic is not None else
                  "; no analytic standard errors to compare."))
    details = {"level": cfg.level, "replicates": cfg.replicates, "failed_replicates": int((~ok).sum()), "method": method,
               "weight_intervals": {r.name: [r.lower, r.upper] for r in weights.itertuples()}}
    return CheckResult(NAME, verdict, metrics, details, tuple(ev.files), summary)


CHECK = Check(NAME, cluster_bootstrap, "cluster_bootstrap", BootstrapConfig, needs=frozenset({"refit"}))
