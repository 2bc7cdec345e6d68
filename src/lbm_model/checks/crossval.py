"""Cross-validation with folds blocked by gemeente: neighbours never sit on both sides of a split.

Whole municipalities are assigned to folds (seeded shuffle, then greedy balancing of
respondents). Each fold is predicted by a model refitted on the others with the same
standardisation and control coding. Reported out of sample, survey-weighted: for the
ordinal model the log-loss against the training shares (skill = 1 - loss / null loss),
accuracy of the most likely category and within-one accuracy; for the linear model R^2;
for both the Spearman correlation of expected and observed judgements.

Reference: Roberts, D. R. et al. (2017). Cross-validation strategies for data with
temporal, spatial, hierarchical, or phylogenetic structure. Ecography 40, 913-929.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from lbm_model.checks.context import CheckContext
from lbm_model.checks.evidence import EvidenceWriter
from lbm_model.checks.predict import category_probabilities, clone_estimator, expected_response, is_ordinal, warm_start
from lbm_model.checks.result import FAIL, PASS, WARN, CheckResult

NAME = "blocked_cv"


def assign_folds(blocks: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold (0..n_folds-1) per row; whole blocks per fold, balanced on rows."""
    codes, inverse, counts = np.unique(blocks.astype(str), return_inverse=True, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(codes))
    order = order[np.argsort(-counts[order], kind="stable")]
    load, fold_of = np.zeros(n_folds), np.empty(len(codes), dtype=int)
    for b in order:
        fold_of[b] = int(np.argmin(load))
        load[fold_of[b]] += counts[b]
    return fold_of[inverse]


def _fit(ctx: CheckContext, rows: np.ndarray):
    data = ctx.data
    controls = data.controls.iloc[rows].reset_index(drop=True)
    controls = controls.loc[:, controls.std(ddof=0) > 0]
    est = clone_estimator(ctx.estimator, cov_type="nonrobust", progress=False)
    warm_start(est, ctx.estimator, controls.columns)
    return est.fit(data.indicators.iloc[rows].reset_index(drop=True), data.response[rows], controls=controls,
                   sample_weight=data.weight[rows], groups=data.cluster[rows])


def fold_scores(est, ctx: CheckContext, rows: np.ndarray, train: np.ndarray) -> dict[str, float]:
    """Survey-weighted out-of-sample scores of ``est`` on ``rows``."""
    data = ctx.data
    X, C = data.indicators.iloc[rows], data.controls.iloc[rows]
    y, w = data.response[rows].astype(float), data.weight[rows]
    expected = expected_response(est, X, C)
    out = {"n_respondents": float(len(rows)), "spearman": float(stats.spearmanr(expected, y).statistic)}
    if is_ordinal(est):
        prob = category_probabilities(est, X, C)
        cat = np.searchsorted(est.levels_, y)
        shares = np.bincount(np.searchsorted(est.levels_, data.response[train]), weights=data.weight[train],
                             minlength=len(est.levels_)) / data.weight[train].sum()
        loss = -np.average(np.log(prob[np.arange(len(y)), cat]), weights=w)
        null = -np.average(np.log(np.clip(shares[cat], 1e-15, 1)), weights=w)
        mode = prob.argmax(axis=1)
        out.update({"log_loss": float(loss), "null_log_loss": float(null), "skill": float(1 - loss / null),
                    "accuracy": float(np.average(mode == cat, weights=w)),
                    "within_one_accuracy": float(np.average(np.abs(mode - cat) <= 1, weights=w))})
    else:
        mean_train = np.average(data.response[train], weights=data.weight[train])
        sse, sst = np.sum(w * (y - expected) ** 2), np.sum(w * (y - mean_train) ** 2)
        out.update({"r2": float(1 - sse / sst), "skill": float(1 - sse / sst)})
    return out


def blocked_cv(ctx: CheckContext) -> CheckResult:
    """K-fold cross-validation blocked by ``blocked_cv.block`` (gemeente by default)."""
    cfg = ctx.config.blocked_cv
    blocks = ctx.inputs.cells[cfg.block].to_numpy()[ctx.data.cell_position]
    n_blocks = len(np.unique(blocks))
    n_folds = min(cfg.folds, n_blocks)
    if n_folds < 2:
        return CheckResult(NAME, WARN, {"n_blocks": n_blocks}, {}, summary=f"only {n_blocks} {cfg.block} value(s): "
                           "no blocked cross-validation possible.")
    fold = assign_folds(blocks, n_folds, ctx.config.seed)
    everyone = np.arange(len(fold))
    rows, pooled_parts = [], []
    for k in range(n_folds):
        test, train = everyone[fold == k], everyone[fold != k]
        est = _fit(ctx, train)
        rows.append({"fold": k + 1, "n_blocks": int(len(np.unique(blocks[test]))), **fold_scores(est, ctx, test, train)})
    table = pd.DataFrame(rows)
    in_sample = fold_scores(ctx.estimator, ctx, everyone, everyone)
    weights = table["n_respondents"].to_numpy()
    oos = {c: float(np.average(table[c], weights=weights)) for c in table.columns if c not in ("fold", "n_blocks", "n_respondents")}
    ev = EvidenceWriter(ctx.export_dir, NAME)
    ev.table(table, "folds.csv")
    ratio = oos["skill"] / in_sample["skill"] if in_sample["skill"] > 0 else float("nan")
    verdict = FAIL if oos["skill"] <= 0 else WARN if not ratio >= cfg.skill_ratio_warn else PASS
    metrics = {**{f"oos.{k}": v for k, v in oos.items()}, **{f"in_sample.{k}": v for k, v in in_sample.items()
                                                             if k != "n_respondents"},
               "skill_ratio": ratio, "n_folds": n_folds, "n_blocks": n_blocks}
    measure = "log-loss skill" if "log_loss" in oos else "R-squared"
    summary = (f"{n_folds} folds blocked by {cfg.block}: out-of-sample {measure} {oos['skill']:.3f} "
               f"(in sample {in_sample['skill']:.3f}), Spearman {oos['spearman']:.3f}"
               + (f", accuracy {oos['accuracy']:.3f}" if "accuracy" in oos else "") + ".")
    return CheckResult(NAME, verdict, metrics, {"folds": rows, "block": cfg.block}, tuple(ev.files), summary)
