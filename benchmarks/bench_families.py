"""Fit time of every estimator family on one world (the nl world in `make bench`), and its weights' correlation
with the world's true weights.

Usage: .venv/bin/python benchmarks/bench_families.py --world DIR [--families ols,ordinal_logit,...]
       [--bayes-respondents 20000] [--bayes-draws 500] [--multilevel-respondents 30000] [--out FILE]
       [--update BENCHMARKS.md]
Each family is fitted in its own process (peak memory is that process's maximum resident set size) through
``recalibrate.fit_model`` on the lbm3 indicator set, without checks, freeze or tracking; the time covers
standardisation, the design and the fit. Two families run on a random subsample of respondents, and their rows
say how many: the Bayesian family (its gradient costs grow with the respondents and NUTS needs thousands of
gradients) and the multilevel family (statsmodels MixedLM: on all 180,000 respondents of the nl world it took
1,413 s on a shared machine; `make bench` passes --multilevel-respondents 30000). The spatial families run on
every respondent.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sections import markers, publish  # benchmarks/sections.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
FAMILIES = ("ols", "ordinal_logit", "multilevel", "elastic_net", "spatial_error", "spatial_lag", "bayes_ordinal")


def build(family: str, bayes_draws: int):
    from lbm_model.estimators import (BayesOrdinal, ElasticNetSelection, LeastSquares, Multilevel, OrdinalLogit,
                                      SpatialError, SpatialLag)

    return {"ols": LeastSquares, "ordinal_logit": lambda: OrdinalLogit(progress=False), "multilevel": Multilevel,
            "elastic_net": ElasticNetSelection, "spatial_error": SpatialError, "spatial_lag": SpatialLag,
            "bayes_ordinal": lambda: BayesOrdinal(draws=bayes_draws, tune=bayes_draws)}[family]()


def subsample(inputs, respondents: int | None):
    """``inputs`` with a seeded random subsample of ``respondents`` survey rows (all of them when None or more)."""
    if respondents is None or respondents >= len(inputs.survey):
        return inputs
    return dataclasses.replace(inputs, survey=inputs.survey.sample(respondents, random_state=0)
                               .sort_index().reset_index(drop=True))


def one_family(world: Path, family: str, subsamples: dict[str, int], bayes_draws: int) -> dict:
    """Child process: load, fit one family (on its subsample of respondents, if it has one), return its figures."""
    from lbm_model.inputs import load_inputs
    from lbm_model.recalibrate import fit_model, select_indicators

    inputs = load_inputs(world / "cells.parquet", world / "survey.parquet", world / "catalog.yaml")
    all_respondents = len(inputs.survey)
    inputs = subsample(inputs, subsamples.get(family))
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = fit_model(inputs, build(family, bayes_draws), select_indicators(inputs))
    seconds = time.perf_counter() - started
    truth = pd.Series(json.loads((world / "truth.json").read_text())["weights"]).reindex(fitted.results.weights.index)
    return {"family": family, "seconds": seconds, "respondents": len(inputs.survey), "of_respondents": all_respondents,
            "correlation": float(np.corrcoef(fitted.results.weights, truth)[0, 1]),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def respondents_text(row: dict) -> str:
    """``180,000``, or ``30,000 of 180,000 (random subsample)`` for a family fitted on a subsample."""
    if row["respondents"] < row.get("of_respondents", row["respondents"]):
        return f"{row['respondents']:,} of {row['of_respondents']:,} (random subsample)"
    return f"{row['respondents']:,}"


def render(rows: list[dict], world: Path, load: tuple[float, float], bayes_draws: int) -> str:
    start, end = markers("bench_families")
    counts = json.loads((world / "truth.json").read_text())["counts"]
    lines = [start, "## Fit time per estimator family (benchmarks/bench_families.py)", "",
             f"World {world.name}: {counts}. lbm3 indicators, no checks; each family in its own process. "
             f"bayes_ordinal: 2 chains x {bayes_draws} tuning + {bayes_draws} draws (nutpie). bayes_ordinal and "
             "multilevel (statsmodels MixedLM, whose fit on all nl respondents takes over 20 minutes) run on a seeded "
             "random subsample of the respondents, as their rows say; the other families, the spatial ones included, "
             "on all of them. Correlation: native weights with truth.json's (the composition columns are not "
             "controlled here, so the planted proxies lower it for every family). The machine was shared with other "
             f"sessions (load average {load[0]:.1f} at the start, {load[1]:.1f} at the end): compare rows of one run.",
             "", "| family | respondents | fit s | peak MB | weight correlation with truth |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['family']} | | failed: {row['error']} | | |")
        else:
            lines.append(f"| {row['family']} | {respondents_text(row)} | {row['seconds']:.1f} | {row['peak_mb']:.0f} | "
                         f"{row['correlation']:.3f} |")
    return "\n".join([*lines, "", end]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--bayes-respondents", type=int, default=20000)
    parser.add_argument("--bayes-draws", type=int, default=500)
    parser.add_argument("--multilevel-respondents", type=int, default=None,
                        help="fit the multilevel family on this many random respondents (default: all)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--update", type=Path, default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    subsamples = {"bayes_ordinal": args.bayes_respondents, "multilevel": args.multilevel_respondents}
    if args.child:
        print(json.dumps(one_family(args.world, args.child, subsamples, args.bayes_draws)))
        return
    load_start, rows = os.getloadavg()[0], []
    for family in [f.strip() for f in args.families.split(",") if f.strip()]:
        run = subprocess.run([sys.executable, __file__, "--world", str(args.world), "--child", family,
                              "--bayes-respondents", str(args.bayes_respondents), "--bayes-draws", str(args.bayes_draws),
                              *([] if args.multilevel_respondents is None else
                                ["--multilevel-respondents", str(args.multilevel_respondents)])],
                             capture_output=True, text=True)
        if run.returncode != 0:
            rows.append({"family": family, "error": (run.stderr.strip().splitlines() or ["?"])[-1][:200]})
        else:
            rows.append(json.loads(run.stdout.strip().splitlines()[-1]))
        print(f"[bench_families] {rows[-1]}", flush=True)
    section = render(rows, args.world, (load_start, os.getloadavg()[0]), args.bayes_draws)
    publish(section, "bench_families", args.out, args.update)
    if any("error" in row for row in rows):
        raise SystemExit("bench_families: a family failed (its row says why)")


if __name__ == "__main__":
    main()
