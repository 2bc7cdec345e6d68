"""Sweep benchmark: the same four-job `lbm-experiment -m` sweep run one job after another (Hydra's basic
launcher) and in parallel (the project's joblib launcher, conf/hydra/launcher/local.yaml), in one session.

Usage: .venv/bin/python benchmarks/bench_sweep.py [--repeats 1] [--out FILE] [--update BENCHMARKS.md]
Prints a markdown section with the wall times and their ratio; ``--update`` replaces its section of the file.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sections import markers, publish  # benchmarks/sections.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
# jobs of a realistic size (the quick checks, all of them): with jobs of a few seconds the one-off imports of
# each parallel worker process (MLflow, Hydra, statsmodels) outweigh what running two at a time saves
SWEEP = ["model=ols,ordinal_logit", "indicators.exclude=[],[dist_library_m]", "checks=fast"]


def world(work: Path) -> Path:
    out = work / "world"
    subprocess.run([str(BIN / "lbm"), "world", "--scale", "small", "--seed", "0", "--out", str(out)], check=True,
                   capture_output=True)
    return out


def sweep_seconds(work: Path, data: Path, launcher: str, tag: str) -> float:
    """Wall time of one four-job sweep with the given Hydra launcher (each in a fresh store)."""
    started = time.perf_counter()
    subprocess.run([str(BIN / "lbm-experiment"), "-m", f"hydra/launcher={launcher}", "data=files",
                    f"data.cells={data}/cells.parquet", f"data.survey={data}/survey.parquet",
                    f"data.catalog={data}/catalog.yaml", *SWEEP, f"tracking.uri=sqlite:///{work}/{tag}.db",
                    f"tracking.artifact_dir={work}/{tag}-artifacts", f"hydra.sweep.dir={work}/{tag}"],
                   check=True, capture_output=True, cwd=work)
    return time.perf_counter() - started


def render(serial: list[float], parallel: list[float], load: tuple[float, float]) -> str:
    s, p = statistics.median(serial), statistics.median(parallel)
    start, end = markers("bench_sweep")
    return "\n".join([
        start,
        "## Parallel sweeps (benchmarks/bench_sweep.py)",
        "",
        f"Four-job sweep (`lbm-experiment -m {' '.join(SWEEP)}`) on the small world, median of {len(serial)}:",
        "",
        "| launcher | wall s |",
        "|---|---:|",
        f"| basic (one job after another) | {s:.1f} |",
        f"| local (joblib, 2 processes) | {p:.1f} |",
        "",
        f"Parallel / serial wall time: **{p / s:.2f}** ({os.cpu_count()} cores; each job also starts MLflow, logs and "
        "registers a model; registrations into one SQLite store take turns). One-minute load average before and "
        f"after: {load[0]:.1f} and {load[1]:.1f}: other work on the machine makes the parallel jobs wait for cores.",
        "",
        end,
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--update", type=Path, default=None, help="replace this section in the given Markdown file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lbm-bench-sweep-") as tmp:
        work = Path(tmp)
        data = world(work)
        serial, parallel, load_before = [], [], os.getloadavg()[0]
        for i in range(args.repeats):       # alternate so that machine load falls on both alike
            serial.append(sweep_seconds(work, data, "basic", f"serial{i}"))
            parallel.append(sweep_seconds(work, data, "local", f"parallel{i}"))
            print(f"[bench] sweep {i}: serial {serial[-1]:.1f} s, parallel {parallel[-1]:.1f} s", file=sys.stderr)
    text = render(serial, parallel, (load_before, os.getloadavg()[0]))
    print(text)
    publish(text, "bench_sweep", args.out, args.update, echo=False)


if __name__ == "__main__":
    main()
