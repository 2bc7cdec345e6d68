"""Time every methodology check on a world directory (cells.parquet, survey.parquet, catalog.yaml).

    .venv/bin/python benchmarks/bench_checks.py --world data/world-nl-seed0 --permutations 999 --replicates 19

Prints a Markdown section (sizes, fit time, one row per check with seconds and verdict) for
BENCHMARKS.md; ``--out FILE`` also writes it there. Evidence goes to a temporary directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, required=True, help="directory with cells.parquet, survey.parquet, catalog.yaml")
    parser.add_argument("--model", choices=("ordinal_logit", "ols"), default="ordinal_logit")
    parser.add_argument("--permutations", type=int, default=999, help="Moran and LISA permutations")
    parser.add_argument("--score-permutations", type=int, default=None,
                        help="permutations for the descriptive score autocorrelation (default: the config's)")
    parser.add_argument("--replicates", type=int, default=19, help="cluster bootstrap replicates")
    parser.add_argument("--checks", default="all", help="comma-separated check names, or all")
    parser.add_argument("--base-year", type=int, default=2020)
    parser.add_argument("--out", type=Path, help="also write the Markdown section to this file")
    return parser.parse_args(argv)


def timed(func, *args, **kwargs):
    started = time.perf_counter()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - started


def main(argv: list[str] | None = None) -> str:
    from lbm_model.checks.config import load_checks_config
    from lbm_model.checks.context import CheckContext
    from lbm_model.audit import run_check
    from lbm_model.checks.registry import CHECK_NAMES
    from lbm_model.checks.stigma import stigma_gate
    from lbm_model.classes import ThresholdRule
    from lbm_model.estimators import LeastSquares, OrdinalLogit
    from lbm_model.inputs import load_inputs
    from lbm_model.recalibrate import class_thresholds, fit_model, select_indicators

    args = parse_args(argv)
    names = list(CHECK_NAMES) if args.checks == "all" else [n.strip() for n in args.checks.split(",")]
    cfg = load_checks_config()
    cfg = dataclasses.replace(cfg, run=names,
                              spatial=dataclasses.replace(cfg.spatial, permutations=args.permutations,
                                                          lisa_permutations=args.permutations,
                                                          score_permutations=args.score_permutations
                                                          or cfg.spatial.score_permutations),
                              cluster_bootstrap=dataclasses.replace(cfg.cluster_bootstrap, replicates=args.replicates))
    inputs, t_load = timed(load_inputs, args.world / "cells.parquet", args.world / "survey.parquet", args.world / "catalog.yaml")
    indicators = select_indicators(inputs)
    gate, t_gate = timed(stigma_gate, indicators, inputs.catalog, cfg.stigma)
    estimator = OrdinalLogit() if args.model == "ordinal_logit" else LeastSquares()
    fitted, t_fit = timed(fit_model, inputs, estimator, indicators)
    thresholds = class_thresholds(fitted, inputs.cells, ThresholdRule(base_year=args.base_year))
    rows = [("stigma_gate", t_gate, gate.verdict, gate.summary)]
    with tempfile.TemporaryDirectory(prefix="bench-checks-") as tmp:
        ctx = CheckContext(inputs, fitted, thresholds, args.base_year, cfg, Path(tmp))
        _, t_resid = timed(lambda: ctx.residuals)
        for name in names:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            result, seconds = timed(run_check, name, ctx)   # as the audit runs it ('not applicable' included)
            rows.append((name, seconds, result.verdict, result.summary))
    cells, survey = inputs.cells, inputs.survey
    lines = [
        f"### Checks on `{args.world.name}` ({args.model}, {args.permutations} permutations, "
        f"{cfg.spatial.score_permutations} for scores, {args.replicates} bootstrap replicates)",
        "",
        f"{len(cells):,} cell-years ({cells['cell_id'].nunique():,} cells, {cells['year'].nunique()} years), "
        f"{len(survey):,} respondents, {cells['buurt_code'].nunique():,} buurten, "
        f"{cells['gemeente_code'].nunique():,} gemeenten; {platform.machine()}, Python {platform.python_version()}.",
        f"Loading and validating {t_load:.1f} s, fitting {t_fit:.1f} s, residuals {t_resid:.2f} s.",
        "",
        "| check | seconds | verdict | summary |",
        "| --- | ---: | --- | --- |",
    ]
    lines += [f"| {n} | {s:.1f} | {v} | {summary.replace('|', '/')} |" for n, s, v, summary in rows]
    lines += ["", f"Total for the checks: {np.sum([r[1] for r in rows]):.1f} s.", ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    main()
