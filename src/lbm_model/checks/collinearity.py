"""Multicollinearity of the estimation design: variance inflation factors and the condition number.

Computed on the respondents' standardised indicators with their survey weights, the data
the weights are actually estimated from. VIF_j = 1 / (1 - R_j^2), with R_j^2 from regressing
indicator j on all others, read off the diagonal of the inverse correlation matrix. The
condition number is Belsley, Kuh and Welsch's: the design [1, X] with columns scaled to
unit length, largest over smallest singular value.

References
----------
Belsley, D. A., Kuh, E. and Welsch, R. E. (1980). Regression Diagnostics. Wiley.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lbm_model.checks.context import CheckContext
from lbm_model.checks.evidence import EvidenceWriter
from lbm_model.checks.result import Check, CheckResult, grade, worst

NAME = "collinearity"


@dataclass
class CollinearityConfig:
    """``checks.collinearity``: VIF and scaled condition number thresholds."""

    vif_warn: float = 10.0
    vif_fail: float = 100.0
    condition_warn: float = 30.0
    condition_fail: float = 1000.0


def variance_inflation(X: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """VIF of every column of ``X`` under case weights ``weight``."""
    mean = np.average(X, axis=0, weights=weight)
    centred = X - mean
    cov = centred.T @ (centred * weight[:, None]) / weight.sum()
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    eigval, eigvec = np.linalg.eigh(corr)
    singular = eigval <= 1e-10 * eigval.max()      # an exact linear dependence: R_j^2 = 1 for the columns in it
    vif = (eigvec[:, ~singular] ** 2) @ (1.0 / eigval[~singular])
    in_dependence = (np.abs(eigvec[:, singular]) > 1e-6).any(axis=1)
    return np.where(in_dependence, np.inf, vif)


def condition_number(X: np.ndarray, weight: np.ndarray) -> float:
    """Scaled condition number of the weighted design [1, X] (Belsley, Kuh and Welsch 1980)."""
    design = np.column_stack([np.ones(len(X)), X]) * np.sqrt(weight)[:, None]
    gram = design.T @ design
    scale = np.sqrt(np.diag(gram))
    eig = np.linalg.eigvalsh(gram / np.outer(scale, scale))
    return float(np.sqrt(eig.max() / max(eig.min(), 1e-300)))


def collinearity(ctx: CheckContext) -> CheckResult:
    """VIF per indicator and the condition number, graded against conf thresholds."""
    cfg = ctx.config.collinearity
    X = ctx.data.indicators[ctx.indicator_names].to_numpy(float)
    vif = variance_inflation(X, ctx.data.weight)
    cond = condition_number(X, ctx.data.weight)
    dims = {i.name: i.dimension for i in ctx.fitted.indicators}
    table = pd.DataFrame({"name": ctx.indicator_names, "dimension": [dims[n] for n in ctx.indicator_names], "vif": vif})
    table = table.sort_values("vif", ascending=False, kind="stable").reset_index(drop=True)
    ev = EvidenceWriter(ctx.export_dir, NAME)
    ev.table(table, "vif.csv")
    verdict = worst([grade(float(vif.max()), cfg.vif_warn, cfg.vif_fail), grade(cond, cfg.condition_warn, cfg.condition_fail)])
    high = table.loc[table["vif"] >= cfg.vif_warn, "name"].tolist()
    metrics = {"max_vif": float(vif.max()), "median_vif": float(np.median(vif)), "condition_number": cond,
               "n_vif_above_warn": len(high)}
    details = {"vif": dict(zip(table["name"], table["vif"])), "condition_number": cond, "vif_above_warn": high}
    summary = (f"condition number {cond:.1f}; max VIF {vif.max():.1f} ({table['name'].iloc[0]}); "
               f"{len(high)} indicator(s) with VIF >= {cfg.vif_warn:g}.")
    return CheckResult(NAME, verdict, metrics, details, tuple(ev.files), summary)


CHECK = Check(NAME, collinearity, "collinearity", CollinearityConfig)
