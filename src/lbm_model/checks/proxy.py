"""Proxy audit: how much of the model the excluded composition columns still explain.

Leaving stigmatising characteristics out lets other indicators absorb part of their
effect (proxies). For every model indicator and for the total and dimension scores this
check measures the R-squared of a least-squares regression on all composition columns
(catalog columns flagged stigmatising, present in the cells for audits only) and the
partial correlation with each column given the others; lists the indicators above
``proxy.r2_threshold`` as likely proxies; tabulates the household-weighted class
distribution per composition quintile (base year); and refits the model with the
composition columns as controls to show how the weights move (the absorbed effect).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from lbm_model.checks import figures
from lbm_model.checks.context import CheckContext
from lbm_model.checks.evidence import EvidenceWriter
from lbm_model.checks.result import PASS, WARN, Check, CheckResult, grade, worst
from lbm_model.classes import N_CLASSES, weighted_quantile
from lbm_model.errors import ConfigError
from lbm_model.features import standardise

NAME = "proxy_audit"


class Weighting(StrEnum):
    cells = "cells"                # every cell-year counts once
    households = "households"


@dataclass
class ProxyConfig:
    """``checks.proxy``: thresholds of the proxy audit."""

    r2_threshold: float = 0.3
    weighting: Weighting = Weighting.cells
    score_r2_warn: float = 0.5
    score_r2_fail: float = 0.9
    absorbed_share_warn: float = 0.25
    quintiles: int = 5
    absorbed_effect: bool = True

    def __post_init__(self) -> None:
        if self.quintiles < 2:
            raise ConfigError(f"checks.proxy.quintiles={self.quintiles}; expected at least 2 groups.")
        if not 0 < self.r2_threshold < 1:
            raise ConfigError(f"checks.proxy.r2_threshold={self.r2_threshold}; expected a share between 0 and 1.")


@dataclass(frozen=True)
class CompositionMoments:
    """Weighted covariances the proxy audit needs: composition with composition and with every outcome, and
    each outcome's variance (the outcomes' covariances with each other never enter)."""

    s_cc: np.ndarray     # composition x composition
    s_cy: np.ndarray     # composition x outcomes
    s_yy: np.ndarray     # outcome variances


def composition_moments(composition: np.ndarray, outcome_blocks: list[np.ndarray], weight: np.ndarray,
                        chunk: int = 200_000) -> CompositionMoments:
    """Weighted moments of the composition columns (n x c) and the outcomes (blocks of n x m_i, side by side),
    accumulated in row chunks: bounded memory, and about c / m of the work of the full cross-product matrix."""
    n, c = composition.shape
    m = sum(block.shape[1] for block in outcome_blocks)
    left, squares = np.zeros((c + 1, c + 1 + m)), np.zeros(m)
    for start in range(0, n, chunk):
        rows = slice(start, start + chunk)
        w = weight[rows]
        design = np.column_stack([np.ones(len(w)), composition[rows]])
        weighted = design * w[:, None]
        left[:, :c + 1] += weighted.T @ design
        offset = c + 1
        for block in outcome_blocks:
            part = block[rows]
            left[:, offset:offset + part.shape[1]] += weighted.T @ part
            squares[offset - c - 1:offset - c - 1 + part.shape[1]] += np.einsum("i,ij,ij->j", w, part, part)
            offset += part.shape[1]
    total = left[0, 0]
    mean_c, mean_y = left[0, 1:c + 1] / total, left[0, c + 1:] / total
    return CompositionMoments(s_cc=left[1:, 1:c + 1] / total - np.outer(mean_c, mean_c),
                              s_cy=left[1:, c + 1:] / total - np.outer(mean_c, mean_y),
                              s_yy=squares / total - mean_y**2)


def r2_and_partials(moments: CompositionMoments) -> tuple[np.ndarray, np.ndarray]:
    """R-squared of every outcome on the composition columns and the partial correlations.

    Returns (r2 per outcome, partial correlation outcomes x composition given the other composition columns).
    """
    s_cc, s_cy, s_yy = moments.s_cc, moments.s_cy, moments.s_yy
    n_comp = len(s_cc)
    explained = np.einsum("ij,ij->j", s_cy, np.linalg.solve(s_cc, s_cy))
    r2 = np.clip(explained / s_yy, 0.0, 1.0)
    partial = np.zeros((len(s_yy), n_comp))
    for j in range(len(s_yy)):
        cov = np.block([[s_cc, s_cy[:, j:j + 1]], [s_cy[:, j:j + 1].T, np.array([[s_yy[j]]])]])
        prec = np.linalg.inv(cov)
        partial[j] = -prec[-1, :n_comp] / np.sqrt(prec[-1, -1] * np.diag(prec)[:n_comp])
    return r2, partial


def _composition(ctx: CheckContext) -> pd.DataFrame:
    inds = [ctx.inputs.catalog.by_name(n) for n in ctx.composition_names]
    return standardise(ctx.inputs.cells, inds)[1]


def explained_by_composition(ctx: CheckContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per model indicator, per score) R-squared on composition and partial correlations."""
    names = ctx.composition_names
    scores = ctx.dimension_scores
    scores = scores.loc[:, scores.std(ddof=0) > 0]      # a dimension without model indicators has no score
    cells = ctx.inputs.cells
    weight = (cells["households"].to_numpy(float) if ctx.config.proxy.weighting == "households"
              else np.ones(len(cells)))
    moments = composition_moments(_composition(ctx)[names].to_numpy(float),
                                  [ctx.fitted.indicator_matrix(), scores.to_numpy(float)], weight)
    r2, partial = r2_and_partials(moments)
    labels = ctx.indicator_names + [f"score:{c}" for c in scores.columns]
    table = pd.DataFrame({"name": labels, "r2": r2})
    for i, n in enumerate(names):
        table[f"partial_{n}"] = partial[:, i]
    k = len(ctx.indicator_names)
    dims = {i.name: i.dimension for i in ctx.fitted.indicators}
    per_indicator = table.iloc[:k].assign(dimension=lambda t: t["name"].map(dims),
                                          likely_proxy=lambda t: t["r2"] > ctx.config.proxy.r2_threshold)
    return per_indicator.reset_index(drop=True), table.iloc[k:].reset_index(drop=True)


def class_by_quintile(ctx: CheckContext) -> pd.DataFrame:
    """Household-weighted class shares per composition quintile in the base year."""
    cells = ctx.inputs.cells
    base = ((cells["year"] == ctx.base_year) & (cells["households"] > 0)).to_numpy()
    hh = cells["households"].to_numpy(float)[base]
    classes, score = ctx.classes[base], ctx.dimension_scores["score"].to_numpy()[base]
    q = ctx.config.proxy.quintiles
    rows = []
    for name in ctx.composition_names:
        values = cells[name].to_numpy(float)[base]
        cuts = [weighted_quantile(values, hh, p) for p in np.arange(1, q) / q]
        group = np.searchsorted(cuts, values, side="right")
        for g in range(q):
            m = group == g
            shares = np.bincount(classes[m] - 1, weights=hh[m], minlength=N_CLASSES) / max(hh[m].sum(), 1e-12)
            rows.append({"composition": name, "quantile": g + 1, "households": int(hh[m].sum()),
                         "mean_score": float(np.average(score[m], weights=hh[m])) if m.any() else np.nan,
                         "share_onvoldoende_or_lower": float(shares[:3].sum()),
                         "share_goed_or_better": float(shares[6:].sum()),
                         **{f"share_class_{c + 1}": float(shares[c]) for c in range(N_CLASSES)}})
    return pd.DataFrame(rows)


def absorbed_effect(ctx: CheckContext) -> tuple[pd.DataFrame, dict[str, float]]:
    """Refit with the composition columns as controls; weight change per indicator (judgement points)."""
    from lbm_model.recalibrate import fit_model

    estimator = ctx.estimator.refit_clone([*ctx.data.controls.columns, *ctx.composition_names])  # only weights compared
    refit = fit_model(ctx.inputs, estimator, ctx.fitted.indicators, adjust=ctx.composition_names,
                      prepared=ctx.fitted).results
    before = ctx.judgement_weights
    after = refit.judgement_weights.reindex(before.index)
    table = pd.DataFrame({"name": before.index, "weight": before.to_numpy(), "weight_with_composition": after.to_numpy()})
    table["change"] = table["weight_with_composition"] - table["weight"]
    comp_coefs = refit.control_coefs.reindex(ctx.composition_names) * refit.judgement_scale
    metrics = {"absorbed_share": float(table["change"].abs().sum() / table["weight"].abs().sum()),
               "max_abs_weight_change": float(table["change"].abs().max()),
               "weight_correlation": float(np.corrcoef(table["weight"], table["weight_with_composition"])[0, 1])}
    metrics.update({f"composition_effect.{k}": float(v) for k, v in comp_coefs.items()})
    return table, metrics


def proxy_audit(ctx: CheckContext) -> CheckResult:
    """Run the proxy audit (see the module docstring)."""
    cfg = ctx.config.proxy
    if not ctx.composition_names:
        return CheckResult(NAME, WARN, {"n_composition_columns": 0}, {"composition_columns": []},
                           summary="no composition columns (catalog indicators flagged stigmatising) in the cells: "
                                   "the proxy audit cannot measure what the excluded characteristics still explain.")
    ev = EvidenceWriter(ctx.export_dir, NAME)
    per_indicator, per_score = explained_by_composition(ctx)
    ev.table(per_indicator, "indicator_r2.csv")
    ev.table(per_score, "score_r2.csv")
    ev.figure(figures.bar_chart(per_indicator["name"].tolist(), per_indicator["r2"].to_numpy(), cfg.r2_threshold,
                                "R-squared of each model indicator on the composition columns", "R-squared"),
              "indicator_r2.png")
    ev.table(class_by_quintile(ctx), "class_shares_by_composition_quantile.csv")
    flagged = per_indicator.loc[per_indicator["likely_proxy"], "name"].tolist()
    score_r2 = dict(zip(per_score["name"].str.removeprefix("score:"), per_score["r2"]))
    metrics = {"n_composition_columns": len(ctx.composition_names), "n_likely_proxies": len(flagged),
               "max_indicator_r2": float(per_indicator["r2"].max()),
               **{f"score_r2.{k}": float(v) for k, v in score_r2.items()}}
    verdicts = [WARN if flagged else PASS, grade(max(score_r2.values()), cfg.score_r2_warn, cfg.score_r2_fail)]
    refit_possible = ctx.results.capabilities.refit
    if cfg.absorbed_effect and not refit_possible:
        metrics["absorbed_effect_not_applicable"] = 1.0
    if cfg.absorbed_effect and refit_possible:
        table, absorbed = absorbed_effect(ctx)
        ev.table(table, "absorbed_effect.csv")
        metrics.update(absorbed)
        verdicts.append(grade(absorbed["absorbed_share"], cfg.absorbed_share_warn, None))
    verdict = worst(verdicts)
    details = {"composition_columns": ctx.composition_names, "r2_threshold": cfg.r2_threshold,
               "weighting": cfg.weighting, "indicator_r2": dict(zip(per_indicator["name"], per_indicator["r2"])),
               "likely_proxies": flagged, "score_r2": score_r2}
    summary = (f"{len(flagged)} likely prox{'y' if len(flagged) == 1 else 'ies'} (R-squared on composition > "
               f"{cfg.r2_threshold:g}): {', '.join(flagged) or 'none'}; composition explains "
               f"{score_r2['score']:.2f} of the total score's variance"
               + (f"; controlling for it moves the weights by {metrics['absorbed_share']:.0%} (sum |change| / sum |weight|)"
                  if cfg.absorbed_effect and refit_possible else "")
               + ("; absorbed effect not applicable (the family cannot refit cheaply)"
                  if cfg.absorbed_effect and not refit_possible else "") + ".")
    return CheckResult(NAME, verdict, metrics, details, tuple(ev.files), summary)


CHECK = Check(NAME, proxy_audit, "proxy", ProxyConfig)
