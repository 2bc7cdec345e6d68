"""Bayesian family benchmark on the small world: which sampler is fastest here, what linking a BLAS is worth,
and the prior curve (weight error against the number of respondents, weak prior vs a prior centred on the truth).

Usage: .venv/bin/python benchmarks/bench_bayes.py [--world DIR] [--n 3000] [--draws 300] [--sizes 500,1000,2000,4000]
       [--skip-samplers] [--out FILE] [--update BENCHMARKS.md]
Samplers: each configuration fits the same model on the same random subsample of respondents in its own process
(PYTENSOR_FLAGS must be set before PyTensor is imported); wall time includes compiling the graph. The curve fits
the model fully specified (composition columns as adjustment controls) on random subsamples of growing size.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sections import markers, publish  # benchmarks/sections.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT / "src"))
CONFIGURATIONS = {            # name -> (sampler, PYTENSOR_FLAGS or None for the family's default)
    "pymc NUTS, PyTensor without BLAS": ("pymc", "blas__ldflags="),
    "pymc NUTS, PyTensor linked to the system BLAS (-lblas)": ("pymc", None),
    "nutpie (numba backend)": ("nutpie", None),
}


def load(world: Path):
    from lbm_model.inputs import load_inputs

    return load_inputs(world / "cells.parquet", world / "survey.parquet", world / "catalog.yaml")


def fit(inputs, n: int, seed: int = 0, **params):
    """The bayes_ordinal family on ``n`` random respondents, fully specified; returns (fitted, seconds)."""
    from lbm_model.estimators import BayesOrdinal
    from lbm_model.recalibrate import fit_model, select_indicators

    survey = inputs.survey.sample(n, random_state=seed).sort_index().reset_index(drop=True)
    small = dataclasses.replace(inputs, survey=survey)
    composition = [i.name for i in small.catalog.stigmatising_indicators]
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = fit_model(small, BayesOrdinal(**params), select_indicators(small), adjust=composition)
    return fitted, time.perf_counter() - started


def one_sampler(world: Path, n: int, draws: int, sampler: str) -> None:
    """Child process: fit once and print the figures as JSON."""
    fitted, seconds = fit(load(world), n, sampler=sampler, draws=draws, tune=draws)
    import pytensor

    print(json.dumps({"seconds": seconds, "blas": pytensor.config.blas__ldflags,
                      **fitted.results.extras.convergence}))


def samplers(world: Path, n: int, draws: int) -> list[dict]:
    rows = []
    for name, (sampler, flags) in CONFIGURATIONS.items():
        env = {k: v for k, v in os.environ.items() if k != "PYTENSOR_FLAGS"}
        if flags is not None:
            env["PYTENSOR_FLAGS"] = flags
        run = subprocess.run([sys.executable, __file__, "--world", str(world), "--n", str(n), "--draws", str(draws),
                              "--child-sampler", sampler], capture_output=True, text=True, env=env)
        if run.returncode != 0:
            rows.append({"configuration": name, "error": run.stderr.strip().splitlines()[-1][:200]})
            continue
        rows.append({"configuration": name, **json.loads(run.stdout.strip().splitlines()[-1])})
        print(f"[bench_bayes] {name}: {rows[-1]['seconds']:.1f} s", flush=True)
    return rows


def prior_at_truth(inputs, truth: pd.Series, work: Path) -> dict:
    """A frozen ordinal model of all respondents with its weights replaced by the true ones (standard errors kept)."""
    from lbm_model.classes import ThresholdRule
    from lbm_model.estimators import OrdinalLogit
    from lbm_model.frozen import with_native_weights
    from lbm_model.recalibrate import fit_model, freeze, select_indicators

    composition = [i.name for i in inputs.catalog.stigmatising_indicators]
    fitted = fit_model(inputs, OrdinalLogit(), select_indicators(inputs), adjust=composition)
    freeze(fitted, inputs, ThresholdRule(base_year=2020), work, model_version="prior", seed=0, provenance={})
    return with_native_weights(work, truth.to_dict())


def prior_curve(world: Path, sizes: list[int], draws: int) -> list[dict]:
    inputs = load(world)
    truth = pd.Series(json.loads((world / "truth.json").read_text())["weights"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        prior = prior_at_truth(inputs, truth, Path(tmp))
        for n in sizes:
            for label, params in (("weak", {}), ("at truth, strength 1", {"prior": prior, "prior_strength": 1.0})):
                fitted, seconds = fit(inputs, n, sampler="nutpie", draws=draws, tune=draws, **params)
                weights = fitted.results.weights
                error = float(np.sqrt(((weights - truth.reindex(weights.index)) ** 2).mean()))
                rows.append({"respondents": n, "prior": label, "rmse": error, "seconds": seconds,
                             "max_rhat": fitted.results.extras.convergence["max_rhat"]})
                print(f"[bench_bayes] curve n={n} {label}: rmse {error:.4f}", flush=True)
    return rows


def render(sampler_rows: list[dict], curve_rows: list[dict], n: int, draws: int, load_avg: tuple) -> str:
    start, end = markers("bench_bayes")
    lines = [start, "## Bayesian family: samplers and the prior curve (benchmarks/bench_bayes.py)", "",
             f"Small world, fully specified model, 2 chains x {draws} tuning + {draws} draws; wall time includes "
             "compiling the graph. The machine was shared with other sessions (load average "
             f"{load_avg[0]:.1f} at the start, {load_avg[1]:.1f} at the end), so compare rows of this run only."]
    if sampler_rows:
        lines += ["", f"Samplers on {n:,} random respondents:", "",
                  "| configuration | wall s | max R-hat | min bulk ESS | divergences |", "|---|---:|---:|---:|---:|"]
    for row in sampler_rows:
        if "error" in row:
            lines.append(f"| {row['configuration']} | failed: {row['error']} | | | |")
        else:
            lines.append(f"| {row['configuration']} | {row['seconds']:.1f} | {row['max_rhat']:.3f} | "
                         f"{row['min_ess_bulk']:.0f} | {row['divergences']:.0f} |")
    if curve_rows:
        frame = pd.DataFrame(curve_rows).pivot(index="respondents", columns="prior", values="rmse")
        lines += ["", "Weight error (root mean squared difference from truth.json, logit scale) against the number of "
                  "respondents, weak prior vs a prior centred on the true weights with the full-data ordinal fit's "
                  "standard errors (strength 1):", "", "| respondents | " + " | ".join(frame.columns) + " |",
                  "|---:|" + "---:|" * len(frame.columns)]
        lines += [f"| {n:,} | " + " | ".join(f"{v:.4f}" for v in row) + " |" for n, row in frame.iterrows()]
    return "\n".join([*lines, "", end]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", type=Path, default=None)
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--sizes", default="500,1000,2000,4000")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--update", type=Path, default=None)
    parser.add_argument("--skip-samplers", action="store_true", help="only the prior curve")
    parser.add_argument("--child-sampler", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_sampler:
        one_sampler(args.world, args.n, args.draws, args.child_sampler)
        return
    with tempfile.TemporaryDirectory() as tmp:
        world = args.world
        if world is None:
            world = Path(tmp) / "world"
            subprocess.run([str(BIN / "lbm"), "world", "--scale", "small", "--seed", "0", "--out", str(world)],
                           check=True, capture_output=True)
        load_start = os.getloadavg()
        sampler_rows = [] if args.skip_samplers else samplers(world, args.n, args.draws)
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
        curve_rows = prior_curve(world, sizes, args.draws) if sizes else []
        section = render(sampler_rows, curve_rows, args.n, args.draws, (load_start[0], os.getloadavg()[0]))
    publish(section, "bench_bayes", args.out, args.update)
    if any("error" in row for row in sampler_rows):
        raise SystemExit("bench_bayes: a sampler configuration failed (its row says why)")


if __name__ == "__main__":
    main()
