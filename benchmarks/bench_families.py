"""Fit time of every estimator family on one world (the nl world in `make bench`), and its weights' correlation
with the world's true weights.

Usage: .venv/bin/python benchmarks/bench_families.py --world DIR [--families ols,ordinal_logit,...]
       [--bayes-respondents 20000] [--bayes-draws 500] [--out FILE] [--update BENCHMARKS.md]
Each family is fitted in its own process (peak memory is that process's maximum resident set size) through
``recalibrate.fit_model`` on the lbm3 indicator set, without checks, freeze or tracking; the time covers
standardisation, the design and the fit. The Bayesian family runs on a random subsample of respondents (its
gradient costs grow with the respondents and NUTS needs thousands of them); the row says how many.
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


def one_family(world: Path, family: str, bayes_respondents: int, bayes_draws: int) -> dict:
    """Child process: load, fit one family, return its figures."""
    from lbm_model.inputs import load_inputs
    from lbm_model.recalibrate import fit_model, select_indicators

    inputs = load_inputs(world / "cells.parquet", world / "survey.parquet", world / "catalog.yaml")
    if family == "bayes_ordinal" and bayes_respondents < len(inputs.survey):
        inputs = dataclasses.replace(inputs, survey=inputs.survey.sample(bayes_respondents, random_state=0)
                                     .sort_index().reset_index(drop=True))
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = fit_model(inputs, build(family, bayes_draws), select_indicators(inputs))
    seconds = time.perf_counter() - started
    truth = pd.Series(json.loads((world / "truth.json").read_text())["weights"]).reindex(fitted.results.weights.index)
    return {"family": family, "seconds": seconds, "respondents": len(inputs.survey),
            "correlation": float(np.corrcoef(fitted.results.weights, truth)[0, 1]),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def render(rows: list[dict], world: Path, load: tuple[float, float], bayes_draws: int) -> str:
    start, end = markers("bench_families")
    counts = json.loads((world / "truth.json").read_text())["counts"]
    lines = [start, "## Fit time per estimator family (benchmarks/bench_families.py)", "",
             f"World {world.name}: {counts}. lbm3 indicators, no checks; each family in its own process. "
             f"bayes_ordinal: 2 chains x {bayes_draws} tuning + {bayes_draws} draws (nutpie) on the subsample of "
             "respondents shown. Correlation: native weights with truth.json's (the composition columns are not "
             "controlled here, so the planted proxies lower it for every family). The machine was shared with other "
             f"sessions (load average {load[0]:.1f} at the start, {load[1]:.1f} at the end): compare rows of one run.",
             "", "| family | respondents | fit s | peak MB | weight correlation with truth |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['family']} | | failed: {row['error']} | | |")
        else:
            lines.append(f"| {row['family']} | {row['respondents']:,} | {row['seconds']:.1f} | {row['peak_mb']:.0f} | "
                         f"{row['correlation']:.3f} |")
    return "\n".join([*lines, "", end]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--bayes-respondents", type=int, default=20000)
    parser.add_argument("--bayes-draws", type=int, default=500)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--update", type=Path, default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_family(args.world, args.child, args.bayes_respondents, args.bayes_draws)))
        return
    load_start, rows = os.getloadavg()[0], []
    for family in [f.strip() for f in args.families.split(",") if f.strip()]:
        run = subprocess.run([sys.executable, __file__, "--world", str(args.world), "--child", family,
                              "--bayes-respondents", str(args.bayes_respondents), "--bayes-draws", str(args.bayes_draws)],
                             capture_output=True, text=True)
        if run.returncode != 0:
            rows.append({"family": family, "error": (run.stderr.strip().splitlines() or ["?"])[-1][:200]})
        else:
            rows.append(json.loads(run.stdout.strip().splitlines()[-1]))
        print(f"[bench_families] {rows[-1]}", flush=True)
    section = render(rows, args.world, (load_start, os.getloadavg()[0]), args.bayes_draws)
    publish(section, "bench_families", args.out, args.update)


if __name__ == "__main__":
    main()
