"""Behaviour-model benchmark: the hedonic fit on a world's transactions, beside the least-squares fit on its
survey and the combined model, in one process and one session (so the ratios share the machine's load).

Usage: .venv/bin/python benchmarks/bench_hedonic.py --world DIR [--out FILE] [--update BENCHMARKS.md]
Each fit is ``recalibrate.fit_model`` as lbm-experiment calls it (standardisation, design, fit, checks of the
design), without the methodology checks. Prints a markdown section; ``--update`` replaces its section of the file.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
from sections import markers, publish  # benchmarks/sections.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def timed(function):
    started = time.perf_counter()
    value = function()
    return value, time.perf_counter() - started


def measure(world: Path) -> dict:
    """Wall seconds of loading and of each fit; the fits' sizes; peak resident memory of this process."""
    from lbm_model.estimators import Combined, Hedonic, LeastSquares
    from lbm_model.inputs import load_inputs
    from lbm_model.recalibrate import fit_model, select_indicators

    load = os.getloadavg()[0]
    inputs, load_s = timed(lambda: load_inputs(world / "cells.parquet", world / "survey.parquet",
                                               world / "catalog.yaml", world / "transactions.parquet"))
    indicators = select_indicators(inputs)
    hedonic, hedonic_s = timed(lambda: fit_model(inputs, Hedonic(), indicators))
    hedonic_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024     # inputs + the hedonic fit
    truth = json.loads((world / "truth.json").read_text())["transactions"]["price_weights"]
    names = list(truth)
    recovery = float(np.corrcoef(hedonic.results.weights[names], [truth[n] for n in names])[0, 1])
    coefficients = int(hedonic.results.fit_stats.n_params)
    del hedonic                                                                    # its design is not needed any more
    _, ols_s = timed(lambda: fit_model(inputs, LeastSquares(), indicators))
    _, combined_s = timed(lambda: fit_model(inputs, Combined(judgement="least_squares"), indicators))
    return {"load_s": load_s, "hedonic_s": hedonic_s, "ols_s": ols_s, "combined_s": combined_s,
            "transactions": int(len(inputs.transactions)), "respondents": int(len(inputs.survey)),
            "cell_years": int(len(inputs.cells)), "indicators": len(indicators), "coefficients": coefficients,
            "recovery_r": recovery, "hedonic_peak_mb": hedonic_peak,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "load_before": load, "load_after": os.getloadavg()[0]}


def render(m: dict, world: Path) -> str:
    start, end = markers("bench_hedonic")
    return "\n".join([
        start,
        "## Behaviour model: the hedonic fit (benchmarks/bench_hedonic.py)",
        "",
        f"World `{world.name}`: {m['transactions']:,} transactions, {m['respondents']:,} respondents, "
        f"{m['cell_years']:,} cell-years, {m['indicators']} indicators ({m['coefficients']} hedonic coefficients with "
        "the dwelling controls, year dummies and intercept). Each fit is `recalibrate.fit_model` (standardisation, "
        "design, design checks, fit with buurt-clustered standard errors), no methodology checks, one process:",
        "",
        "| step | wall s |",
        "|---|---:|",
        f"| read and validate cells, survey, catalog, transactions | {m['load_s']:.1f} |",
        f"| hedonic fit on the transactions (`model=hedonic`) | {m['hedonic_s']:.1f} |",
        f"| least-squares fit on the survey (`model=ols`) | {m['ols_s']:.1f} |",
        f"| combined model, least-squares judgement component (`model=combined`) | {m['combined_s']:.1f} |",
        "",
        f"Hedonic / least-squares fit time (same run): **{m['hedonic_s'] / m['ols_s']:.2f}**; per 1,000 transactions "
        f"{1000 * m['hedonic_s'] / m['transactions']:.3f} s. Combined / (hedonic + least squares): "
        f"{m['combined_s'] / (m['hedonic_s'] + m['ols_s']):.2f} (the combined model is its two fits). Peak resident "
        f"memory after reading the inputs and the hedonic fit: {m['hedonic_peak_mb']:,.0f} MB; over the whole run "
        f"(the combined model holds both designs): {m['peak_mb']:,.0f} MB. Correlation of the fitted price weights with the planted "
        f"ones: {m['recovery_r']:.4f}. The machine was shared with other sessions while this was measured "
        f"(one-minute load average {m['load_before']:.1f} before, {m['load_after']:.1f} after, on "
        f"{os.cpu_count()} cores): absolute seconds vary with that load, the ratios less.",
        "",
        end,
    ]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", type=Path, required=True, help="a world directory with transactions.parquet")
    parser.add_argument("--out", type=Path, help="write the section to this file")
    parser.add_argument("--update", type=Path, help="replace the section in this markdown file (BENCHMARKS.md)")
    args = parser.parse_args()
    section = render(measure(args.world.resolve()), args.world.resolve())
    publish(section, "bench_hedonic", args.out, args.update)


if __name__ == "__main__":
    main()
