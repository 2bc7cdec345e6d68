"""Sign plausibility: does every weight point the way the catalog expects (expected_sign)?

A weight with the unexpected sign is *wrong*; it is *significantly wrong* when its
z-value (weight over its clustered standard error) passes ``sign_plausibility.z`` in
the unexpected direction. Indicators with expected_sign 0 carry no expectation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lbm_model.checks.context import CheckContext
from lbm_model.checks.evidence import EvidenceWriter
from lbm_model.checks.result import FAIL, PASS, WARN, Check, CheckResult

NAME = "sign_plausibility"


@dataclass
class SignsConfig:
    """``checks.sign_plausibility``: when a wrong sign counts as significant, and how many are too many."""

    z: float = 1.96
    warn_significant: int = 1
    fail_significant_share: float = 0.1


def sign_table(ctx: CheckContext) -> pd.DataFrame:
    """Per indicator: expected sign, weight (judgement points), standard error, z and status."""
    results = ctx.results
    weights = results.weights.reindex(ctx.indicator_names)
    z = (weights / results.standard_errors.reindex(ctx.indicator_names)).to_numpy(float)
    expected = np.array([i.expected_sign for i in ctx.fitted.indicators])
    wrong = (expected != 0) & (np.sign(weights.to_numpy()) == -expected)
    significant = wrong & (np.abs(z) >= ctx.config.sign_plausibility.z)
    status = np.where(expected == 0, "no expectation",
                      np.where(significant, "significantly wrong", np.where(wrong, "wrong (not significant)", "as expected")))
    return pd.DataFrame({"name": ctx.indicator_names, "expected_sign": expected,
                         "weight": ctx.judgement_weights.to_numpy(float),
                         "standard_error": results.judgement_standard_errors.reindex(ctx.indicator_names).to_numpy(float),
                         "z": z, "status": status})


def sign_plausibility(ctx: CheckContext) -> CheckResult:
    """Count wrong and significantly wrong signs; warn or fail by conf thresholds."""
    cfg = ctx.config.sign_plausibility
    table = sign_table(ctx)
    ev = EvidenceWriter(ctx.export_dir, NAME)
    ev.table(table, "signs.csv")
    signed = int((table["expected_sign"] != 0).sum())
    sig = table.loc[table["status"] == "significantly wrong", "name"].tolist()
    wrong = table.loc[table["status"].str.startswith("wrong"), "name"].tolist()
    share = len(sig) / signed if signed else 0.0
    verdict = FAIL if signed and share >= cfg.fail_significant_share else WARN if len(sig) >= cfg.warn_significant else PASS
    metrics = {"n_signed": signed, "n_wrong": len(wrong) + len(sig), "n_significantly_wrong": len(sig),
               "share_significantly_wrong": share}
    details = {"significantly_wrong": sig, "wrong_not_significant": wrong, "z": cfg.z}
    summary = (f"{len(sig)} of {signed} signed indicators significantly against expected_sign"
               + (f" ({', '.join(sig)})" if sig else "") + f"; {len(wrong)} more wrong but not significant.")
    return CheckResult(NAME, verdict, metrics, details, tuple(ev.files), summary)


CHECK = Check(NAME, sign_plausibility, "sign_plausibility", SignsConfig, needs=frozenset({"standard_errors"}))
