"""Cross-validation with folds blocked by gemeente: neighbours never sit on both sides of a split.

Whole municipalities are assigned to folds (seeded shuffle, then greedy balancing of
respondents). Each fold is predicted by a model refitted on the others with the same
standardisation and control coding. Reported out of sample, survey-weighted, with the same
names for every family: ``r2`` (1 - SSE / SST of the expected judgement against the training
mean; the verdict's measure), ``rmse`` (judgement points) and ``spearman``; for the behaviour
model the response is log price (``rmse`` in log price, rows are transactions: the summary says so); families that give
probabilities add ``log_loss``, ``log_loss_skill`` (1 - loss / loss of the training shares),
``accuracy`` of the most likely category and ``within_one_accuracy``.

Disclosure: a fold with fewer than ``disclosure.min_respondents`` respondents keeps its count but
not its scores (in folds.csv and audit.json), and one more fold is hidden with it so the pooled
figure cannot be differenced (lbm_model/disclosure.py).

Reference: Roberts, D. R. et al. (2017). Cross-validation strategies for data with
temporal, spatial, hierarchical, or phylogenetic structure. Ecography 40, 913-929.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
from scipy import stats

from lbm_model.checks.context import CheckContext
from lbm_model.checks.evidence import EvidenceWriter
from lbm_model.checks.result import FAIL, PASS, WARN, Check, CheckResult
from lbm_model.disclosure import hidden_parts
from lbm_model.errors import ConfigError
from lbm_model.progress import track

NAME = "blocked_cv"


class Block(StrEnum):
    gemeente_code = "gemeente_code"
    wijk_code = "wijk_code"
    buurt_code = "buurt_code"


@dataclass
class CrossValConfig:
    """``checks.blocked_cv``: folds, the area that blocks them, the skill ratio that warns."""

    folds: int = 5
    block: Block = Block.gemeente_code
    skill_ratio_warn: float = 0.5

    def __post_init__(self) -> None:
        if self.folds < 2:
            raise ConfigError(f"checks.blocked_cv.folds={self.folds}; expected at least 2 folds.")


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
    train = ctx.data.subset(rows)
    return ctx.estimator.refit_clone(train.controls.columns).fit_data(train)


def _probability_scores(est, X, C, y: np.ndarray, w: np.ndarray, train_y: np.ndarray, train_w: np.ndarray) -> dict:
    """Log-loss (and its skill over the training shares) and accuracies, for families with probabilities."""
    levels = est.results.extras.levels
    prob = np.clip(est.predict_proba(X, C), 1e-15, 1.0)
    cat = np.searchsorted(levels, y)
    shares = np.bincount(np.searchsorted(levels, train_y), weights=train_w, minlength=len(levels)) / train_w.sum()
    loss = -np.average(np.log(prob[np.arange(len(y)), cat]), weights=w)
    null = -np.average(np.log(np.clip(shares[cat], 1e-15, 1)), weights=w)
    mode = prob.argmax(axis=1)
    return {"log_loss": float(loss), "null_log_loss": float(null), "log_loss_skill": float(1 - loss / null),
            "accuracy": float(np.average(mode == cat, weights=w)),
            "within_one_accuracy": float(np.average(np.abs(mode - cat) <= 1, weights=w))}


def fold_scores(est, ctx: CheckContext, rows: np.ndarray, train: np.ndarray) -> dict[str, float]:
    """Survey-weighted out-of-sample scores of ``est`` on ``rows`` (same names for every family)."""
    data = ctx.data
    X, C = data.indicators.iloc[rows], data.controls.iloc[rows]
    y, w = data.response[rows].astype(float), data.weight[rows]
    expected = est.predict_expected(X, C)
    mean_train = np.average(data.response[train], weights=data.weight[train])
    sse, sst = np.sum(w * (y - expected) ** 2), np.sum(w * (y - mean_train) ** 2)
    out = {"n_respondents": float(len(rows)), "r2": float(1 - sse / sst), "rmse": float(np.sqrt(sse / w.sum())),
           "spearman": float(stats.spearmanr(expected, y).statistic)}
    if est.results.capabilities.probabilities:
        out.update(_probability_scores(est, X, C, y, w, data.response[train], data.weight[train]))
    return out


def suppress_small_folds(table: pd.DataFrame, min_respondents: int) -> tuple[pd.DataFrame, list[dict]]:
    """Hide the scores of folds below the respondent minimum (and a complementary fold, so the pooled
    figure minus the published folds does not give a hidden one away); counts stay."""
    hidden = hidden_parts(table["n_respondents"].to_numpy(), min_respondents)
    scores = [c for c in table.columns if c not in ("fold", "n_blocks", "n_respondents")]
    table = table.assign(suppressed=hidden)
    table[scores] = table[scores].astype(float)
    table.loc[hidden, scores] = np.nan
    rows = [{k: (None if k in scores and hide else v) for k, v in row.items()}
            for row, hide in zip(table.to_dict("records"), hidden)]
    return table, rows


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
    for k in track(range(n_folds), n_folds, f"blocked cross-validation, {n_folds} folds"):
        test, train = everyone[fold == k], everyone[fold != k]
        est = _fit(ctx, train)
        rows.append({"fold": k + 1, "n_blocks": int(len(np.unique(blocks[test]))), **fold_scores(est, ctx, test, train)})
    table = pd.DataFrame(rows)
    in_sample = fold_scores(ctx.estimator, ctx, everyone, everyone)
    weights = table["n_respondents"].to_numpy()
    oos = {c: float(np.average(table[c], weights=weights)) for c in table.columns if c not in ("fold", "n_blocks", "n_respondents")}
    table, rows = suppress_small_folds(table, ctx.config.disclosure.min_respondents)
    ev = EvidenceWriter(ctx.export_dir, NAME)
    ev.table(table, "folds.csv")
    ratio = oos["r2"] / in_sample["r2"] if in_sample["r2"] > 0 else float("nan")
    verdict = FAIL if oos["r2"] <= 0 else WARN if not ratio >= cfg.skill_ratio_warn else PASS
    metrics = {**{f"oos.{k}": v for k, v in oos.items()}, **{f"in_sample.{k}": v for k, v in in_sample.items()
                                                             if k != "n_respondents"},
               "skill_ratio": ratio, "n_folds": n_folds, "n_blocks": n_blocks}
    est = ctx.estimator
    summary = (f"{n_folds} folds blocked by {cfg.block}: out-of-sample R-squared of the {est.response_name} "
               f"{oos['r2']:.3f} (in sample {in_sample['r2']:.3f}), RMSE {oos['rmse']:.3f} {est.response_unit}, "
               f"Spearman {oos['spearman']:.3f}"
               + (f", log-loss skill {oos['log_loss_skill']:.3f}, accuracy {oos['accuracy']:.3f}"
                  if "accuracy" in oos else "") + ".")
    details = {"folds": rows, "block": cfg.block, "response": est.response_name, "rmse_unit": est.response_unit,
               "rows": est.row_name}
    return CheckResult(NAME, verdict, metrics, details, tuple(ev.files), summary)


CHECK = Check(NAME, blocked_cv, "blocked_cv", CrossValConfig, needs=frozenset({"refit"}))
