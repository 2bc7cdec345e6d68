"""National-scale benchmark: time and peak memory of each step, and the nl world's class shares.

Usage: .venv/bin/python benchmarks/run_benchmarks.py [--scale nl] [--out BENCHMARKS.md]
Each step runs as its own process through the real commands; peak memory is that process's
maximum resident set size (os.wait4). Writes the markdown report to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT / "src"))

from lbm_model.classes import N_CLASSES  # noqa: E402

PUBLISHED_2020 = {"onvoldoende_or_lower": 0.04, "goed_or_better": 0.30}
PUBLISHED_2014 = {"onvoldoende_or_lower": 0.06, "goed_or_better": 0.22}
PUBLISHED_GROUPS_2020 = {"G4": {"onvoldoende_or_lower": 0.11, "zwak_or_lower": 0.24, "zeer_goed_or_better": 0.37},
                         "G40": {"onvoldoende_or_lower": 0.04, "zwak_or_lower": 0.16, "zeer_goed_or_better": 0.25}}


def run_step(name: str, command: list[str], cwd: Path, log: Path) -> dict:
    """Run one command, return wall time and peak RSS (MB); stop the benchmark if it fails."""
    print(f"[bench] {name}: {' '.join(command)}", flush=True)
    started = time.perf_counter()
    with open(log, "a") as handle:
        handle.write(f"\n### {name}\n")
        handle.flush()
        process = subprocess.Popen(command, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark step {name} failed; see {log}")
    return {"step": name, "seconds": seconds, "peak_mb": usage.ru_maxrss / 1024}


def shares(classes: np.ndarray, households: np.ndarray) -> dict[str, float]:
    per = np.bincount(classes - 1, weights=households, minlength=N_CLASSES) / households.sum()
    return {"onvoldoende_or_lower": per[:3].sum(), "zwak_or_lower": per[:4].sum(),
            "goed_or_better": per[6:].sum(), "zeer_goed_or_better": per[7:].sum()}


def fitted_shares(world: Path, scores_path: Path) -> dict:
    """Household shares per class of the fitted model's scores, nationally and per municipality group."""
    cells = pd.read_parquet(world / "cells.parquet", columns=["cell_id", "year", "gemeente_code", "households"])
    scores = pd.read_parquet(scores_path, columns=["cell_id", "year", "class"])
    merged = cells.merge(scores, on=["cell_id", "year"], validate="one_to_one")
    groups = pd.read_csv(world / "municipality_groups.csv", dtype=str).set_index("gemeente_code")["group"]
    merged["group"] = merged["gemeente_code"].map(groups)
    out = {}
    for year, frame in merged.groupby("year"):
        out[int(year)] = {"national": shares(frame["class"].to_numpy(), frame["households"].to_numpy(float))}
        for group, part in frame.groupby("group"):
            out[int(year)][group] = shares(part["class"].to_numpy(), part["households"].to_numpy(float))
    return out


def onnx_on_world(model_dir: Path, cells_path: Path, rows: int = 131_072) -> dict:
    """``lbm export-onnx`` of ``model_dir`` scored with onnxruntime on every cell-year of ``cells_path`` (in batches),
    against the Python scorer: largest absolute differences, cells with another class, throughput of each."""
    import onnxruntime as ort

    from lbm_model.contract import read_table
    from lbm_model.onnx_export import export_onnx, indicator_matrix
    from lbm_model.scoring import CompiledScorer

    scorer = CompiledScorer.load(model_dir)
    cells = read_table(cells_path)
    started = time.perf_counter()
    reference = scorer.run(cells)
    python_seconds = time.perf_counter() - started
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    dtype = np.float32 if all(cells[name].dtype == np.float32 for name in scorer.names) else np.float64
    session = ort.InferenceSession(str(export_onnx(model_dir, model_dir / "model.onnx", np.dtype(dtype).name)), options,
                                   providers=["CPUExecutionProvider"])
    matrix = indicator_matrix(scorer, cells, dtype)
    started = time.perf_counter()
    parts = [session.run(["dimensions", "score", "class"], {"indicators": matrix[s:s + rows]})
             for s in range(0, len(matrix), rows)]
    onnx_seconds = time.perf_counter() - started
    dimensions, score, classes = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return {"rows": len(cells), "input_type": np.dtype(dtype).name, "max_score_difference": float(np.max(np.abs(score - reference.score))),
            "max_dimension_difference": float(np.max(np.abs(dimensions - reference.dimensions))),
            "other_class": int((classes != reference.classes).sum()), "python_seconds": python_seconds,
            "onnx_seconds": onnx_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="nl")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default="bench-work")
    parser.add_argument("--out", default="BENCHMARKS.md")
    args = parser.parse_args()
    work = (ROOT / args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    log = work / "bench.log"
    world = work / f"world-{args.scale}"
    common = [f"tracking.uri=sqlite:///{work}/mlruns.db", f"tracking.artifact_dir={work}/mlartifacts",
              f"hydra.run.dir={work}/runs/${{now:%H-%M-%S}}", "data=files", f"data.cells={world}/cells.parquet",
              f"data.survey={world}/survey.parquet", f"data.catalog={world}/catalog.yaml"]
    steps = [
        run_step("world generation", [str(BIN / "lbm"), "world", "--scale", args.scale, "--seed", str(args.seed),
                                      "--out", str(world)], ROOT, log),
        run_step("fit + freeze (ordinal logit), no checks", [str(BIN / "lbm-experiment"), *common, "model=ordinal_logit",
                                                             "checks.run=[]", f"export.dir={work}/export-ordinal-nochecks"],
                 ROOT, log),
        run_step("fit + all checks + freeze (ordinal logit)", [str(BIN / "lbm-experiment"), *common, "model=ordinal_logit",
                                                               f"export.dir={work}/export-ordinal"], ROOT, log),
        run_step("fit + freeze (least squares), no checks", [str(BIN / "lbm-experiment"), *common, "model=ols",
                                                             "checks.run=[]", f"export.dir={work}/export-ols"], ROOT, log),
        run_step("score all years + aggregates", [str(BIN / "lbm"), "score", "--model", str(work / "export-ordinal"),
                                                  "--cells", str(world / "cells.parquet"), "--out",
                                                  str(work / "scores.parquet"), "--aggregate", "buurt,wijk,gemeente"],
                 ROOT, log),
        run_step("verify frozen model", [str(BIN / "lbm"), "verify", str(work / "export-ordinal")], ROOT, log),
    ]
    steps.append(run_step("checks one by one (bench_checks.py)", [sys.executable, str(ROOT / "benchmarks" / "bench_checks.py"),
                                                                   "--world", str(world), "--permutations", "999",
                                                                   "--score-permutations", "999", "--replicates", "19",
                                                                   "--out", str(work / "checks.md")], ROOT, log))
    steps.append(run_step("kernels against their peers (bench_kernels.py)",
                          [sys.executable, str(ROOT / "benchmarks" / "bench_kernels.py"), "--out", str(work / "kernels.md")],
                          ROOT, log))
    steps.append(run_step("scaling curves (bench_scaling.py)",
                          [sys.executable, str(ROOT / "benchmarks" / "bench_scaling.py"), "--out", str(work / "scaling.md")],
                          ROOT, log))
    steps.append(run_step("a four-job sweep, serial and parallel (bench_sweep.py)",
                          [sys.executable, str(ROOT / "benchmarks" / "bench_sweep.py"), "--out", str(work / "sweep.md")],
                          ROOT, log))
    steps.append(run_step("the behaviour model's hedonic fit (bench_hedonic.py)",
                          [sys.executable, str(ROOT / "benchmarks" / "bench_hedonic.py"), "--world", str(world),
                           "--out", str(work / "hedonic.md")], ROOT, log))
    steps.append(run_step("estimator families' fit times (bench_families.py)",
                          [sys.executable, str(ROOT / "benchmarks" / "bench_families.py"), "--world", str(world),
                           "--bayes-respondents", "5000", "--bayes-draws", "300", "--out", str(work / "families.md")], ROOT, log))
    steps.append(run_step("Bayesian samplers and prior curve on the small world (bench_bayes.py)",
                          [sys.executable, str(ROOT / "benchmarks" / "bench_bayes.py"), "--n", "1500", "--draws", "200",
                           "--out", str(work / "bayes.md")],
                          ROOT, log))
    truth = json.loads((world / "truth.json").read_text())
    model = json.loads((work / "export-ordinal" / "model.json").read_text())["content"]
    onnx = onnx_on_world(work / "export-ordinal", world / "cells.parquet")
    report = render(args, steps, truth, model, fitted_shares(world, work / "scores.parquet"), onnx)
    for section in (work / "checks.md", work / "kernels.md", work / "scaling.md", work / "sweep.md", work / "hedonic.md",
                    work / "families.md", work / "bayes.md"):
        if section.is_file():
            report += "\n" + section.read_text()
    (ROOT / args.out).write_text(report)
    print(report)


def render(args, steps: list[dict], truth: dict, model: dict, fitted: dict, onnx: dict) -> str:
    n_rows = model["training_data"]["n_cell_years"]
    lines = [
        "# Benchmarks", "",
        f"Reproduce with `make bench` (= `.venv/bin/python benchmarks/run_benchmarks.py --scale {args.scale}`). "
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}. "
        "Every step is the real command in its own process; peak memory is its maximum resident set size.", "",
        f"World: scale `{args.scale}`, seed {args.seed}: {truth['counts']}.", "",
        "| step | wall time (s) | peak memory (MB) |", "| --- | ---: | ---: |",
    ]
    lines += [f"| {s['step']} | {s['seconds']:.1f} | {s['peak_mb']:.0f} |" for s in steps]
    score_step = next(s for s in steps if s["step"].startswith("score"))
    fits = {s["step"]: s["seconds"] for s in steps}
    lines += ["", f"Scoring throughput: {n_rows / score_step['seconds']:,.0f} cell-years per second "
              f"({n_rows:,} cell-years, including reading, validation and writing). "
              f"Ordinal / least-squares fit time ratio (same run): "
              f"{fits['fit + freeze (ordinal logit), no checks'] / fits['fit + freeze (least squares), no checks']:.2f}. "
              "Per-check timings at this scale: `benchmarks/bench_checks.py` (section below when present).", ""]
    whole = [s for s in steps if s["step"] in ("world generation", "fit + all checks + freeze (ordinal logit)",
                                               "score all years + aggregates")]
    lines += [f"Whole {args.scale} run (world, fit, default checks, freeze, score all years): "
              f"{sum(s['seconds'] for s in whole):.0f} s, largest peak {max(s['peak_mb'] for s in whole) / 1024:.1f} GB "
              f"(target: 300 s and 8 GB); one-minute load average at the end {os.getloadavg()[0]:.1f} (the machine "
              "may be shared: times are upper bounds).", "",
              f"ONNX export (`lbm export-onnx`, {onnx['input_type']} input, the cells' own type) on all {onnx['rows']:,} cell-years against the Python "
              f"scorer: largest score difference {onnx['max_score_difference']:.1e}, largest dimension difference "
              f"{onnx['max_dimension_difference']:.1e} (target 1e-6), {onnx['other_class']} cell-years in another class; "
              f"onnxruntime {onnx['onnx_seconds']:.1f} s, the fused kernel {onnx['python_seconds']:.1f} s (scoring core "
              "only, no reading).", ""]
    lines += calibration_table(truth, fitted)
    return "\n".join(lines) + "\n"


def calibration_table(truth: dict, fitted: dict) -> list[str]:
    """True-weight and fitted-model household shares beside the published figures."""
    cal = truth["calibration"]["years"]
    rows = ["## Class shares of households beside the published figures", "",
            "True weights: the world's generating weights, classes fixed on 2020 by the default rule. "
            "Fitted: the frozen ordinal model estimated from the world's survey, its own 2020 thresholds.", "",
            "| year | area | measure | published | true weights | fitted model |", "| --- | --- | --- | ---: | ---: | ---: |"]
    for year, published in ((2014, PUBLISHED_2014), (2020, PUBLISHED_2020)):
        if str(year) not in cal or year not in fitted:
            continue
        for measure, value in published.items():
            rows.append(f"| {year} | national | {measure} | {value:.0%} | {cal[str(year)]['national'][measure]:.1%} "
                        f"| {fitted[year]['national'][measure]:.1%} |")
    for group, published in PUBLISHED_GROUPS_2020.items():
        for measure, value in published.items():
            true_value = cal["2020"][group].get(measure)
            true_text = f"{true_value:.1%}" if true_value is not None else "n/a"
            rows.append(f"| 2020 | {group} | {measure} | {value:.0%} | {true_text} | {fitted[2020][group][measure]:.1%} |")
    return rows


if __name__ == "__main__":
    main()
