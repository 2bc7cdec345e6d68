"""Scaling curves: time and peak memory against size for the scorer, the ordinal fit and the spatial checks.

    .venv/bin/python benchmarks/bench_scaling.py [--cells 10000,100000,1000000,4000000]
        [--respondents 10000,50000,180000] [--check-cells 10000,100000,1000000] [--update BENCHMARKS.md]

Every point is its own process (peak memory = its maximum resident set size, os.wait4), the
median of ``--repeats`` runs. Scorer: the real ``lbm score`` on a synthetic Parquet file of
94 float32 indicators (one year, no aggregates), wall time of the whole command. Fit:
OrdinalLogit with buurt-clustered errors on ~100 synthetic indicators (time of the fit only;
memory of the process). Checks: residual-style Moran's I with 999 permutations under 8
nearest neighbours (building the weights included) on random points. LISA: local Moran
with 999 permutations on ``--lisa-areas`` points (the nl world's buurten), in a fresh process with
an empty numba cache (compile included) and again with the cache warm. Each curve's fitted exponent
is the slope of log(time) on log(size). Writes a PNG (``--plot``) and a Markdown section.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sections import markers, publish  # noqa: E402

START, END = markers("bench_scaling")
N_INDICATORS = 94


# --- the measured work, run in a child process ------------------------------------------------------------
def child_fit(n: int) -> float:
    from bench_kernels import survey_like

    from lbm_model.estimators import OrdinalLogit

    X, y, controls, weight, groups = survey_like(n, 100, np.random.default_rng(2))
    started = time.perf_counter()
    OrdinalLogit().fit(X, y, controls=controls, sample_weight=weight, groups=groups)
    return time.perf_counter() - started


def random_places(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct points on a 100 m grid over a country-sized square, sorted as cell ids are."""
    side = int(np.ceil(np.sqrt(n * 4)))
    flat = rng.choice(side * side, n, replace=False)
    flat.sort()
    return np.column_stack([flat % side, flat // side]).astype(float) * 100.0 + 50.0


def child_moran(n: int) -> float:
    from lbm_model.checks.moran import global_moran
    from lbm_model.checks.weights import build_weights

    rng = np.random.default_rng(3)
    xy = random_places(n, rng)
    values = np.sin(xy[:, 0] / 20_000) + rng.normal(size=n)
    global_moran(values[:50], build_weights(xy[:50], "knn").sparse, 9, 0)      # load the compiled kernel
    started = time.perf_counter()
    weights = build_weights(xy, "knn", k=8)
    global_moran(values, weights.sparse, 999, 0)
    return time.perf_counter() - started


def child_lisa(n: int) -> float:
    from lbm_model.checks.moran import local_moran
    from lbm_model.checks.weights import build_weights

    rng = np.random.default_rng(4)
    xy = rng.uniform(0, 280_000, (n, 2))
    values = np.sin(xy[:, 0] / 20_000) + rng.normal(size=n)
    started = time.perf_counter()
    local_moran(values, build_weights(xy, "knn", k=8).graph, 999, 0)
    return time.perf_counter() - started


CHILDREN = {"fit": child_fit, "moran": child_moran, "lisa": child_lisa}
LABELS = {"score": "lbm score (cells)", "fit": "ordinal fit (respondents)", "moran": "Moran's I, 999 permutations (cells)"}


# --- the parent: one process per point --------------------------------------------------------------------
def measured(command: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (GB) and stdout of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    out, err = process.stdout.read().decode(), process.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed: {err[-2000:]}")
    return seconds, usage.ru_maxrss / 1024**2, out


def point(kind: str, n: int, repeats: int, env: dict | None = None) -> dict:
    runs = [measured([sys.executable, __file__, "--child", kind, str(n)], env) for _ in range(repeats)]
    row = {"kind": kind, "size": n, "seconds": statistics.median(float(r[2].strip().splitlines()[-1]) for r in runs),
           "peak_gb": statistics.median(r[1] for r in runs)}
    print(f"[bench] {kind} {n:,}: {row}", file=sys.stderr, flush=True)
    return row


def score_points(sizes: list[int], repeats: int, work: Path) -> list[dict]:
    from bench_kernels import write_cells, write_model

    rng = np.random.default_rng(1)
    names = [f"ind_{j:02d}" for j in range(N_INDICATORS)]
    write_model(work / "model", names, rng)
    rows = []
    for n in sizes:
        cells = work / f"cells-{n}.parquet"
        input_gb = write_cells(cells, n, names, rng)
        command = [str(ROOT / ".venv" / "bin" / "lbm"), "score", "--model", str(work / "model"), "--cells", str(cells),
                   "--out", str(work / "scores.parquet")]
        runs = [measured(command) for _ in range(repeats)]
        rows.append({"kind": "score", "size": n, "seconds": statistics.median(r[0] for r in runs),
                     "peak_gb": statistics.median(r[1] for r in runs), "input_gb": input_gb})
        print(f"[bench] score {n:,}: {rows[-1]}", file=sys.stderr, flush=True)
        cells.unlink()
    return rows


def lisa_points(n: int, repeats: int) -> dict:
    """LISA with an empty numba cache (compile included) and with the cache warm."""
    with tempfile.TemporaryDirectory(prefix="bench-numba-cache-") as cache:
        env = os.environ | {"NUMBA_CACHE_DIR": cache}
        cold = point("lisa", n, 1, env)
        warm = point("lisa", n, repeats, env)
    return {"size": n, "cold_seconds": cold["seconds"], "warm_seconds": warm["seconds"], "peak_gb": warm["peak_gb"]}


def points_from_log(path: Path) -> tuple[dict[str, list[dict]], dict | None]:
    """The measured points of an earlier run, from the ``[bench] ...: {...}`` lines it printed on stderr."""
    import ast

    curves, lisa = {}, []
    for line in path.read_text().splitlines():
        if line.startswith("[bench] ") and ": {" in line:
            row = ast.literal_eval(line[line.index(": {") + 2:])
            if row["kind"] == "lisa":
                lisa.append(row)
            else:
                curves.setdefault(LABELS[row["kind"]], []).append(row)
    if not lisa:
        return curves, None
    return curves, {"size": lisa[0]["size"], "cold_seconds": lisa[0]["seconds"], "warm_seconds": lisa[-1]["seconds"],
                    "peak_gb": lisa[-1]["peak_gb"]}


def exponent(rows: list[dict], key: str) -> float:
    sizes, values = [r["size"] for r in rows], [r[key] for r in rows]
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0]) if len(rows) > 1 else float("nan")


def plot(curves: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, rows in curves.items():
        sizes = [r["size"] for r in rows]
        left.loglog(sizes, [r["seconds"] for r in rows], "o-", label=f"{label} (k = {exponent(rows, 'seconds'):.2f})")
        right.loglog(sizes, [r["peak_gb"] for r in rows], "o-", label=f"{label} (k = {exponent(rows, 'peak_gb'):.2f})")
    left.set(xlabel="size (cells or respondents)", ylabel="seconds", title="time")
    right.set(xlabel="size (cells or respondents)", ylabel="peak memory (GB)", title="peak resident memory")
    for axis in (left, right):
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def render(curves: dict[str, list[dict]], lisa: dict | None, repeats: int, plot_path: Path | None) -> str:
    load = os.getloadavg()
    lines = [START, "## Scaling curves (benchmarks/bench_scaling.py)", "",
             f"Each point is its own process, median of {repeats}; peak memory is the process's maximum resident set. "
             f"Machine: {os.cpu_count()} cores; one-minute load average at the end {load[0]:.1f} (shared with other "
             "sessions: times are upper bounds). Fitted exponent k: time ~ size^k.", "",
             "| what | size | seconds | peak memory (GB) |", "| --- | ---: | ---: | ---: |"]
    for label, rows in curves.items():
        lines += [f"| {label} | {r['size']:,} | {r['seconds']:.2f} | {r['peak_gb']:.2f} |" for r in rows]
    lines += ["", "| what | exponent of time | exponent of peak memory |", "| --- | ---: | ---: |"]
    lines += [f"| {label} | {exponent(rows, 'seconds'):.2f} | {exponent(rows, 'peak_gb'):.2f} |"
              for label, rows in curves.items()]
    score = curves.get("lbm score (cells)")
    if score:
        lines += ["", "`lbm score` peak memory against the float32 size of its indicators: " + ", ".join(
            f"{r['size']:,} cells {r['peak_gb'] / r['input_gb']:.2f}x" for r in score) + "."]
    if lisa:
        lines += ["", f"LISA (local Moran, 999 permutations, 8 nearest neighbours) on {lisa['size']:,} areas (the nl world's "
                  f"buurten): {lisa['cold_seconds']:.1f} s in a fresh process with an empty numba cache (compilation "
                  f"included), {lisa['warm_seconds']:.1f} s once the cache holds the compiled code (target: under 30 s)."]
    if plot_path:
        link = plot_path.resolve().relative_to(ROOT) if plot_path.resolve().is_relative_to(ROOT) else plot_path
        lines += ["", f"![time and peak memory against size]({link})"]
    return "\n".join(lines + ["", END]) + "\n"


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        print(CHILDREN[sys.argv[2]](int(sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", default="10000,100000,1000000,4000000", help="lbm score sizes (cells)")
    parser.add_argument("--respondents", default="10000,50000,180000", help="ordinal fit sizes")
    parser.add_argument("--check-cells", default="10000,100000,450000,1000000", help="Moran's I sizes (cells)")
    parser.add_argument("--lisa-areas", type=int, default=13_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--plot", type=Path, default=ROOT / "benchmarks" / "scaling.png")
    parser.add_argument("--update", type=Path, help="replace this section in the given Markdown file")
    parser.add_argument("--out", type=Path, help="also write the section alone to this file")
    parser.add_argument("--from-log", type=Path, help="render the section and plot from the [bench] lines a run printed "
                                                       "on stderr (no measuring)")
    args = parser.parse_args()
    if args.from_log:
        curves, lisa = points_from_log(args.from_log)
        return finish(args, curves, lisa)
    sizes = lambda text: [int(v) for v in text.split(",") if v.strip()]  # noqa: E731
    curves = {}
    with tempfile.TemporaryDirectory(prefix="bench-scaling-", dir=ROOT) as tmp:
        if sizes(args.cells):
            curves["lbm score (cells)"] = score_points(sizes(args.cells), args.repeats, Path(tmp))
    if sizes(args.respondents):
        curves["ordinal fit (respondents)"] = [point("fit", n, args.repeats) for n in sizes(args.respondents)]
    if sizes(args.check_cells):
        curves["Moran's I, 999 permutations (cells)"] = [point("moran", n, args.repeats) for n in sizes(args.check_cells)]
    lisa = lisa_points(args.lisa_areas, args.repeats) if args.lisa_areas else None
    finish(args, curves, lisa)


def finish(args, curves: dict[str, list[dict]], lisa: dict | None) -> None:
    """Plot, render, print and write the section."""
    if args.plot and curves:
        plot(curves, args.plot)
    section = render(curves, lisa, args.repeats, args.plot if curves else None)
    publish(section, "bench_scaling", args.out, args.update)


if __name__ == "__main__":
    main()
