"""Kernels against their peers and limits, measured in the same run: scorer, lbm score, ordinal fit, bootstrap.

    .venv/bin/python benchmarks/bench_kernels.py [--cells 10000,100000,1000000] [--respondents 10000,50000,180000]
        [--statsmodels-respondents 5000,10000] [--moran-cells 100000,450000] [--update BENCHMARKS.md]

Every figure is the median of ``--repeats`` runs; ratios compare figures from this run only.
Scorer: the fused compiled pass (lbm_model.score_kernel) beside a parallel read of the same
float32 matrix (the memory-bandwidth floor), numpy's float32 matrix-vector product and the
previous per-indicator numpy scorer, a pandas + scikit-learn pipeline (up to 1,000,000 cells) and onnxruntime
running ``lbm export-onnx``'s graph, each peer with its largest difference from the kernel. ``lbm score``: wall time and peak memory (max RSS of the
process) of the real command on synthetic Parquet files, beside the float32 size of the input.
Ordinal fit: OrdinalLogit with buurt-clustered errors beside one weighted normal-equations solve
on the same design (one BLAS thread for both), and statsmodels' OrderedModel (clustered errors, unweighted:
it takes no case weights) beside ours on the same subsample. Global Moran's I: esda.Moran with its own
999 permutations beside lbm_model.checks.moran.global_moran on the same weights. Bootstrap: seconds per replicate by refit and by
the fixed-Hessian method on the same draws. ``--update`` replaces this section of the file.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lbm_model.dimensions import DIMENSION_KEYS  # noqa: E402
from lbm_model.score_kernel import BLOCK_CELLS, fused_score  # noqa: E402
from sections import markers, publish  # noqa: E402  (benchmarks/sections.py, beside this script)

N_INDICATORS = 94
START, END = markers("bench_kernels")


@numba.njit(parallel=True, cache=True)
def parallel_read(values):  # pragma: no cover - compiled
    """Sum every value of an indicators x cells block on all cores: the memory-read floor."""
    n_indicators, n_cells = values.shape
    n_blocks = (n_cells + BLOCK_CELLS - 1) // BLOCK_CELLS
    partial = np.zeros(n_blocks)
    for block in numba.prange(n_blocks):
        total = 0.0
        for j in range(n_indicators):
            for i in range(block * BLOCK_CELLS, min(n_cells, (block + 1) * BLOCK_CELLS)):
                total += values[j, i]
        partial[block] = total
    return partial.sum()


def median_seconds(func, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def exponent(sizes: list[int], seconds: list[float]) -> float:
    """Slope of log(time) on log(size)."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0]) if len(sizes) > 1 else float("nan")


# --- scorer ---------------------------------------------------------------------------------------------
def random_model(rng: np.random.Generator, p: int) -> dict:
    transforms = rng.choice(["none", "log1p", "sqrt"], p, p=[0.72, 0.17, 0.11])   # the world catalog's mix
    return {"transform_code": np.array([{"none": 0, "log1p": 1, "sqrt": 2}[t] for t in transforms], np.int64),
            "transforms": transforms, "dimension_index": rng.integers(0, len(DIMENSION_KEYS), p),
            "slope": rng.normal(0, 0.1, p), "offset": rng.normal(0, 0.1, p), "train_min": np.zeros(p),
            "train_max": np.full(p, 50.0), "thresholds": np.linspace(-1, 1, 8)}


def previous_scorer(model: dict, block: np.ndarray) -> np.ndarray:
    """The per-indicator numpy scorer the kernel replaced (range counts, dimension sums, total, classes);
    ``block`` is indicators x cells, so each indicator is contiguous as a pandas column was."""
    functions = {"none": lambda v: v, "log1p": np.log1p, "sqrt": np.sqrt}
    out = np.zeros((block.shape[1], len(DIMENSION_KEYS)))
    for j in range(block.shape[0]):
        values = block[j].astype(float)
        int(((values < model["train_min"][j]) | (values > model["train_max"][j])).sum())
        out[:, model["dimension_index"][j]] += model["slope"][j] * functions[model["transforms"][j]](values) + model["offset"][j]
    total = out.sum(axis=1)
    return np.searchsorted(model["thresholds"], total, side="right") + 1


PEER_MAX_CELLS = 1_000_000     # the previous scorer and the pandas + scikit-learn pipeline run up to here


def transform_indicators(frame: pd.DataFrame, log1p: np.ndarray, sqrt: np.ndarray) -> np.ndarray:
    """The pipeline's first step: float64 values with log1p or sqrt applied to the indicators that use them."""
    values = frame.to_numpy(np.float64, copy=True)
    values[:, log1p] = np.log1p(values[:, log1p])
    values[:, sqrt] = np.sqrt(values[:, sqrt])
    return values


def sklearn_pipeline(model: dict):
    """A scikit-learn Pipeline whose predict gives the 5 dimension scores: the transforms, then a LinearRegression
    with coef_ = each dimension's slopes (zero elsewhere) and intercept_ = the sum of its offsets (set, not fitted)."""
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    p = len(model["slope"])
    dimension = np.asarray(model["dimension_index"])
    regression = LinearRegression()
    regression.coef_ = np.where(dimension[None, :] == np.arange(len(DIMENSION_KEYS))[:, None], model["slope"], 0.0)
    regression.intercept_ = np.bincount(dimension, weights=model["offset"], minlength=len(DIMENSION_KEYS))
    regression.n_features_in_ = p
    transforms = np.asarray(model["transforms"])
    step = FunctionTransformer(transform_indicators, kw_args={"log1p": np.flatnonzero(transforms == "log1p"),
                                                              "sqrt": np.flatnonzero(transforms == "sqrt")})
    return make_pipeline(step, regression)


def pipeline_scorer(model: dict, pipeline, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score, class and range counts per indicator of a cells x indicators DataFrame with pandas and the pipeline."""
    outside = (frame.lt(model["train_min"], axis=1) | frame.gt(model["train_max"], axis=1)).sum().to_numpy()
    score = pipeline.predict(frame).sum(axis=1)
    return score, np.searchsorted(model["thresholds"], score, side="right") + 1, outside


def onnx_session(model: dict):
    """An onnxruntime session of ``lbm export-onnx``'s graph for ``model`` (float32 input, both cores)."""
    import onnxruntime as ort

    from lbm_model.onnx_export import scorer_graph
    from lbm_model.scoring import CompiledScorer

    p = len(model["slope"])
    scorer = CompiledScorer(names=tuple(f"ind_{j:02d}" for j in range(p)), transforms=tuple(model["transforms"]),
                            dimension_index=np.asarray(model["dimension_index"], np.int64), slope=model["slope"],
                            offset=model["offset"], train_min=model["train_min"], train_max=model["train_max"],
                            thresholds=model["thresholds"], content_sha256="bench")
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    return ort.InferenceSession(scorer_graph(scorer, "float32").SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def onnx_scores(session, by_row: np.ndarray, rows: int = 131_072) -> np.ndarray:
    """Scores from the ONNX graph in batches of ``rows`` cells (as ``lbm score`` reads record batches)."""
    return np.concatenate([session.run(["score"], {"indicators": by_row[start:start + rows]})[0]
                           for start in range(0, len(by_row), rows)])


def pipeline_peer(model: dict, block: np.ndarray, by_row: np.ndarray, args: tuple, repeats: int) -> dict:
    """Seconds of the pandas + scikit-learn pipeline on a DataFrame of the same float32 values, and how far its
    scores, classes and range counts are from the fused kernel's."""
    frame = pd.DataFrame(by_row, columns=[f"ind_{j:02d}" for j in range(by_row.shape[1])], copy=False)
    pipeline = sklearn_pipeline(model)
    seconds = median_seconds(lambda: pipeline_scorer(model, pipeline, frame), repeats)
    score, classes, outside = pipeline_scorer(model, pipeline, frame)
    _, kernel_score, kernel_classes, kernel_outside = fused_score(block, *args)
    return {"pipeline": seconds, "pipeline_max_difference": float(np.max(np.abs(score - kernel_score))),
            "pipeline_classes_differing": int((classes != kernel_classes).sum()),
            "pipeline_range_counts_equal": bool(np.array_equal(outside, kernel_outside))}


def bench_scorer(sizes: list[int], repeats: int) -> list[dict]:
    rng = np.random.default_rng(0)
    model = random_model(rng, N_INDICATORS)
    rows = []
    for n in sizes:
        block = rng.gamma(2.0, 3.0, (N_INDICATORS, n)).astype(np.float32)     # indicators x cells
        by_row = np.ascontiguousarray(block.T)                                  # cells x indicators, for numpy
        weights = rng.normal(size=N_INDICATORS).astype(np.float32)
        args = (model["transform_code"], model["dimension_index"], model["slope"], model["offset"], model["train_min"],
                model["train_max"], model["thresholds"], len(DIMENSION_KEYS), BLOCK_CELLS)
        warm = np.ascontiguousarray(block[:, :10])
        fused_score(warm, *args), parallel_read(warm)                           # compile or load from cache
        row = {"cells": n, "gigabytes": block.nbytes / 1e9,
               "read": median_seconds(lambda: parallel_read(block), repeats),
               "matvec": median_seconds(lambda: by_row @ weights, repeats),
               "fused": median_seconds(lambda: fused_score(block, *args), repeats)}
        row["previous"] = median_seconds(lambda: previous_scorer(model, block), repeats) if n <= PEER_MAX_CELLS else None
        if n <= PEER_MAX_CELLS:
            row |= pipeline_peer(model, block, by_row, args, repeats)
        session = onnx_session(model)
        row["onnx"] = median_seconds(lambda: onnx_scores(session, by_row), repeats)
        onnx_score = onnx_scores(session, by_row)
        row["onnx_max_difference"] = float(np.max(np.abs(onnx_score - fused_score(block, *args)[1])))
        rows.append(row)
        print(f"[bench] scorer {n:,}: {row}", file=sys.stderr, flush=True)
    return rows


# --- lbm score end to end --------------------------------------------------------------------------------
def write_model(directory: Path, names: list[str], rng: np.random.Generator) -> None:
    from lbm_model.classes import CLASS_LABELS
    from lbm_model.frozen import write_frozen_model

    indicators = [{"name": name, "dimension": DIMENSION_KEYS[j % 5], "description": "synthetic", "transform": "none",
                   "mean": 5.0, "sd": 3.0, "train_min": 0.0, "train_max": 40.0, "weight": float(rng.normal(0, 0.05)),
                   "native_weight": 0.0, "standard_error": None, "expected_sign": 0} for j, name in enumerate(names)]
    content = {"model_version": "bench", "indicators": indicators,
               "classes": {"thresholds": list(np.linspace(-0.4, 0.4, 8)), "labels": list(CLASS_LABELS)}}
    write_frozen_model(directory, content, {"bench": True})


def write_cells(path: Path, n: int, names: list[str], rng: np.random.Generator) -> float:
    """A contract-shaped cells table of ``n`` cells (one year); returns the float32 size of its indicators (GB)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    chunk = 500_000
    schema = None
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as tmp:
        partial = Path(tmp.name)
    writer = None
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        ids = np.arange(start, start + m)
        columns = {"cell_id": pa.array([f"C{i:08d}" for i in ids]), "year": pa.array(np.full(m, 2020, np.int64)),
                   "x": pa.array(13_000 + (ids % 2000) * 100.0), "y": pa.array(310_000 + (ids // 2000) % 2900 * 100.0),
                   "buurt_code": pa.array([f"BU{i // 300:08d}" for i in ids]),
                   "wijk_code": pa.array([f"WK{i // 3000:06d}" for i in ids]),
                   "gemeente_code": pa.array([f"GM{i // 30000:04d}" for i in ids]),
                   "households": pa.array(rng.integers(0, 60, m))}
        columns |= {name: pa.array(rng.gamma(2.0, 3.0, m).astype(np.float32)) for name in names}
        table = pa.table(columns)
        schema = schema or table.schema
        writer = writer or pq.ParquetWriter(partial, schema)
        writer.write_table(table)
    writer.close()
    partial.replace(path)
    return n * len(names) * 4 / 1e9


def run_measured(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of one process.

    Launched through a fresh, small Python (``--measure``): Linux reports a forked child's peak
    RSS from the moment of the fork, so forking straight from this process, which holds the
    scorer's gigabyte matrices, would report this process's size instead of the command's.
    """
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--measure", *command], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started, float(done.stdout.strip().splitlines()[-1])


def measure(command: list[str]) -> None:
    """Run ``command`` and print its peak RSS in GB (the ``--measure`` mode)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.stderr.write(process.stderr.read().decode()[-2000:])
        raise SystemExit(1)
    print(usage.ru_maxrss / 1024**2)   # KB on Linux


WHOLE_TABLE = """
from lbm_model.contract import read_table
from lbm_model.scoring import CELL_OUTPUT_COLUMNS, CompiledScorer, score_cells
scorer = CompiledScorer.load(r'{model}')
score_cells(scorer, read_table(r'{cells}'), 'cells')[list(CELL_OUTPUT_COLUMNS)].to_parquet(r'{out}', index=False)
"""


def bench_score_command(sizes: list[int], repeats: int, work: Path) -> list[dict]:
    rng = np.random.default_rng(1)
    names = [f"ind_{j:02d}" for j in range(N_INDICATORS)]
    write_model(work / "model", names, rng)
    lbm = str(ROOT / ".venv" / "bin" / "lbm")
    rows = []
    for n in sizes:
        cells = work / f"cells-{n}.parquet"
        input_gb = write_cells(cells, n, names, rng)
        runs = [run_measured([lbm, "score", "--model", str(work / "model"), "--cells", str(cells),
                              "--out", str(work / "scores.parquet")]) for _ in range(repeats)]
        whole = [run_measured([sys.executable, "-c", WHOLE_TABLE.format(model=work / "model", cells=cells,
                                                                       out=work / "scores-whole.parquet")])
                 for _ in range(repeats)]
        rows.append({"cells": n, "input_gb": input_gb, "parquet_gb": cells.stat().st_size / 1e9,
                     "seconds": statistics.median(r[0] for r in runs), "peak_gb": statistics.median(r[1] for r in runs),
                     "whole_seconds": statistics.median(r[0] for r in whole),
                     "whole_peak_gb": statistics.median(r[1] for r in whole),
                     **score_phases(work / "model", cells, work / "scores-phases.parquet", repeats)})
        print(f"[bench] lbm score {n:,}: {rows[-1]}", file=sys.stderr, flush=True)
        cells.unlink()
    return rows


def score_phases(model: Path, cells: Path, out: Path, repeats: int) -> dict:
    """In this process, medians: reading the record batches ``lbm score`` reads (Arrow to pandas, nothing else),
    ``score_parquet`` (that reading plus validation, range counts, scoring and area codes) and writing its result."""
    import pyarrow.parquet as pq

    from lbm_model.dimensions import CELL_COLUMNS
    from lbm_model.scoring import BATCH_ROWS, READ_BUFFER_BYTES, CompiledScorer, score_parquet

    scorer = CompiledScorer.load(model)
    columns = [*CELL_COLUMNS, *scorer.names]

    def read_only() -> None:
        reader = pq.ParquetFile(cells, pre_buffer=False, buffer_size=READ_BUFFER_BYTES)
        for batch in reader.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            batch.to_pandas()

    score_parquet(scorer, cells)                    # compile or load the kernel, warm the page cache
    scored = score_parquet(scorer, cells)
    return {"read_s": median_seconds(read_only, repeats),
            "score_parquet_s": median_seconds(lambda: score_parquet(scorer, cells), repeats),
            "write_s": median_seconds(lambda: scored.to_parquet(out, index=False), repeats)}


# --- ordinal fit and bootstrap -----------------------------------------------------------------------------
def survey_like(n: int, p: int, rng: np.random.Generator):
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"x{j}" for j in range(p)])
    y = np.digitize(X.to_numpy() @ rng.normal(0, 0.2, p) + rng.logistic(size=n), [-1.5, -0.3, 0.6, 1.8]) + 1
    controls = pd.DataFrame({"age": rng.normal(size=n)})
    return X, y, controls, rng.uniform(0.5, 1.5, n), rng.integers(0, max(n // 14, 2), n)


def bench_fit(sizes: list[int], repeats: int) -> list[dict]:
    from threadpoolctl import threadpool_limits

    from lbm_model.estimators import OrdinalLogit
    from lbm_model.estimators.ordinal import BLAS_THREADS

    rng = np.random.default_rng(2)
    rows = []
    for n in sizes:
        X, y, controls, weight, groups = survey_like(n, 100, rng)
        design = np.column_stack([X.to_numpy(), controls.to_numpy(), np.ones(n)])

        def normal_equations():
            with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
                return np.linalg.solve(design.T @ (design * weight[:, None]), design.T @ (weight * y))

        fit = median_seconds(lambda: OrdinalLogit().fit(X, y, controls=controls, sample_weight=weight, groups=groups),
                             repeats)
        rows.append({"respondents": n, "parameters": design.shape[1] + 3, "fit": fit,
                     "normal_equations": median_seconds(normal_equations, repeats)})
        print(f"[bench] ordinal fit {n:,}: {rows[-1]}", file=sys.stderr, flush=True)
    return rows


STATSMODELS_GTOL = 1e-8    # BFGS stops when the mean log-likelihood's gradient is below this (scipy's default 1e-5
                           # left slopes about 1e-5 from the optimum on 3,000 x 101)


def bench_statsmodels(sizes: list[int], repeats: int, statsmodels_repeats: int) -> list[dict]:
    """statsmodels' OrderedModel (logit, BFGS on numerical gradients, numerical Hessian, buurt-clustered errors)
    beside OrdinalLogit on the same unweighted subsample: seconds, convergence and the largest differences."""
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    from lbm_model.estimators import OrdinalLogit

    rows = []
    for n in sizes:
        X, y, controls, _, groups = survey_like(n, 100, np.random.default_rng(4))
        exog = np.column_stack([X.to_numpy(), controls.to_numpy()])        # indicators + the control, no constant

        def statsmodels_fit():
            return OrderedModel(y, exog, distr="logit").fit(method="bfgs", maxiter=5000, gtol=STATSMODELS_GTOL,
                                                            disp=False, cov_type="cluster", cov_kwds={"groups": groups})

        def ours_fit():
            return OrdinalLogit().fit(X, y, controls=controls, groups=groups).results_

        times = []
        for _ in range(statsmodels_repeats):
            started = time.perf_counter()
            reference = statsmodels_fit()
            times.append(time.perf_counter() - started)
        ours = ours_fit()
        slopes = np.concatenate([ours.weights.to_numpy(), ours.control_coefs.to_numpy()])
        k = exog.shape[1] + len(np.unique(y)) - 1
        # statsmodels' CRV1 multiplies the covariance by (N-1)/(N-K) on top of G/(G-1), which ours applies alone
        reference_se = np.asarray(reference.bse[:X.shape[1]]) / np.sqrt((n - 1) / (n - k))
        ours_se = ours.uncertainty.standard_errors.to_numpy()
        row = {"respondents": n, "parameters": k, "statsmodels": statistics.median(times),
               "ours": median_seconds(ours_fit, repeats),
               "converged": bool(reference.mle_retvals["converged"]), "iterations": int(reference.mle_retvals["gcalls"]),
               "slope_max_difference": float(np.max(np.abs(np.asarray(reference.params[:len(slopes)]) - slopes))),
               "se_max_relative_difference": float(np.max(np.abs(reference_se / ours_se - 1)))}
        rows.append(row)
        print(f"[bench] statsmodels OrderedModel {n:,}: {row}", file=sys.stderr, flush=True)
    return rows


def bench_esda_moran(sizes: list[int], repeats: int, permutations: int = 999) -> list[dict]:
    """esda.Moran with its own permutations beside global_moran on the same 8-nearest-neighbour weights."""
    import esda

    from lbm_model.checks.moran import global_moran
    from lbm_model.checks.weights import build_weights

    def esda_moran(values, weights, seed: int = 0):
        state = np.random.get_state()          # esda permutes with numpy's global generator
        np.random.seed(seed)
        try:
            return esda.Moran(values, weights.graph, transformation="r", permutations=permutations)
        finally:
            np.random.set_state(state)

    rng = np.random.default_rng(5)
    rows = []
    for n in sizes:
        xy = rng.uniform(0, 100.0 * np.sqrt(4 * n), (n, 2))
        values = np.sin(xy[:, 0] / 20_000) + rng.normal(size=n)
        weights = build_weights(xy, "knn", k=8)
        warm = build_weights(xy[:200], "knn", k=8)
        esda_moran(values[:200], warm), global_moran(values[:200], warm.sparse, 9, 0)    # warm both
        weights.graph                                                                   # built once, outside the timing
        reference, ours = esda_moran(values, weights), global_moran(values, weights.sparse, permutations, 0)
        row = {"cells": n, "esda": median_seconds(lambda: esda_moran(values, weights), repeats),
               "ours": median_seconds(lambda: global_moran(values, weights.sparse, permutations, 0), repeats),
               "I_difference": abs(float(reference.I) - ours.I), "z_difference": abs(float(reference.z_norm) - ours.z_norm),
               "I": ours.I, "z_norm": ours.z_norm, "esda_p_sim": float(reference.p_sim), "ours_p_sim": ours.p_sim,
               "esda_z_sim": float(reference.z_sim), "ours_z_sim": ours.z_sim}
        rows.append(row)
        print(f"[bench] esda Moran {n:,}: {row}", file=sys.stderr, flush=True)
    return rows


def bench_bootstrap(n: int, replicates: int) -> dict:
    from lbm_model.checks.bootstrap import fit_replicate, replicate_counts
    from lbm_model.estimators import OrdinalLogit
    from lbm_model.features import EstimationData

    rng = np.random.default_rng(3)
    X, y, controls, weight, groups = survey_like(n, 100, rng)
    data = EstimationData(indicators=X, controls=controls, response=y, weight=weight, cluster=groups.astype(str),
                          cell_position=np.arange(n))
    estimator = OrdinalLogit().fit_data(data)
    codes_text, codes = np.unique(data.cluster, return_inverse=True)
    names = list(X.columns)
    started = time.perf_counter()
    refits = np.array([fit_replicate(estimator, data, names, codes, len(codes_text), 0, b) for b in range(replicates)])
    refit_seconds = (time.perf_counter() - started) / replicates
    started = time.perf_counter()
    counts = replicate_counts(len(codes_text), 0, replicates)
    fixed = np.array(list(estimator.fixed_hessian_bootstrap(data, codes, counts)))
    fixed_seconds = (time.perf_counter() - started) / replicates
    return {"respondents": n, "replicates": replicates, "refit": refit_seconds, "fixed_hessian": fixed_seconds,
            "max_difference": float(np.max(np.abs(refits - fixed)))}


# --- report ----------------------------------------------------------------------------------------------
def pipeline_lines(scorer: list[dict]) -> list[str]:
    """The pandas + scikit-learn table, from the scorer rows where the pipeline ran."""
    peers = [r for r in scorer if "pipeline" in r]
    if not peers:
        return []
    lines = ["pandas + scikit-learn against the fused kernel, same float32 values as a cells x indicators DataFrame: "
              "pandas range counts per indicator, then a Pipeline (FunctionTransformer applying each indicator's "
              "none/log1p/sqrt in float64, LinearRegression with coef_ and intercept_ set to the dimensions' slopes "
              "and summed offsets), total = sum of the 5 predictions, class by np.searchsorted on the thresholds. "
              f"Not run above {PEER_MAX_CELLS:,} cells (as the previous scorer).", "",
              "| cells | pandas + scikit-learn (s) | fused kernel (s) | pipeline / kernel | max abs score difference "
              "| classes differing | range counts equal |", "| ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    lines += [f"| {r['cells']:,} | {r['pipeline']:.4f} | {r['fused']:.4f} | {r['pipeline'] / r['fused']:.1f}x | "
              f"{r['pipeline_max_difference']:.1e} | {r['pipeline_classes_differing']} | "
              f"{'yes' if r['pipeline_range_counts_equal'] else 'NO'} |" for r in peers]
    return [*lines, ""]


def statsmodels_lines(statsmodels: list[dict], repeats: int, statsmodels_repeats: int) -> list[str]:
    """The OrderedModel table."""
    if not statsmodels:
        return []
    lines = ["### Ordinal fit against statsmodels' OrderedModel on a subsample", "",
              "Same design (100 indicators + 1 control, no constant: OrderedModel refuses one), same buurt clusters, "
              "both with clustered standard errors (statsmodels: `fit(method='bfgs', gtol="
              f"{STATSMODELS_GTOL:g}, cov_type='cluster', cov_kwds={{'groups': ...}})`, numerical gradient and Hessian, "
              "numpy's default BLAS threads; ours one BLAS thread). "
              "Unweighted for both: OrderedModel takes no survey weights. OrderedModel parametrises the cut-points "
              "differently, so the slopes are compared; its standard errors carry an extra (N-1)/(N-K) factor, "
              f"removed before comparing. statsmodels: {statsmodels_repeats} run(s) per size (minutes each); ours: "
              f"median of {repeats}.", "",
              "| respondents | parameters | statsmodels (s) | ours (s) | statsmodels / ours | converged (gradient "
              "evaluations) | max abs slope difference | max relative SE difference |",
              "| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |"]
    lines += [f"| {r['respondents']:,} | {r['parameters']} | {r['statsmodels']:.1f} | {r['ours']:.3f} | "
              f"{r['statsmodels'] / r['ours']:.0f}x | {'yes' if r['converged'] else 'NO'} ({r['iterations']}) | "
              f"{r['slope_max_difference']:.1e} | {r['se_max_relative_difference']:.1e} |" for r in statsmodels]
    return [*lines, ""]


def moran_lines(morans: list[dict]) -> list[str]:
    """The esda.Moran table."""
    if not morans:
        return []
    lines = ["### Global Moran's I, 999 permutations: esda.Moran against global_moran on the same weights", "",
              "Random points, 8 nearest neighbours (`build_weights(xy, 'knn', k=8)`: esda gets its `.graph`, ours its "
              "`.sparse`, both built before timing), the value a west-east trend plus noise. esda permutes with numpy's "
              "global generator, ours with its own seeded draws: I and the normal-approximation z must agree to "
              "rounding, the pseudo p-values and z_sim within Monte Carlo error. Both warm (called once before timing).",
              "", "| cells | esda (s) | ours (s) | esda / ours | abs difference I | abs difference z_norm | p_sim esda "
              "/ ours | z_sim esda / ours |", "| ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    lines += [f"| {r['cells']:,} | {r['esda']:.2f} | {r['ours']:.2f} | {r['esda'] / r['ours']:.1f}x | "
              f"{r['I_difference']:.1e} | {r['z_difference']:.1e} | {r['esda_p_sim']:.3f} / {r['ours_p_sim']:.3f} | "
              f"{r['esda_z_sim']:.1f} / {r['ours_z_sim']:.1f} |" for r in morans]
    return [*lines, ""]


def render(scorer: list[dict], score_command: list[dict], fits: list[dict], bootstrap: dict, repeats: int,
           statsmodels: list[dict] = (), morans: list[dict] = (), statsmodels_repeats: int = 1) -> str:
    load = os.getloadavg()
    lines = [START, "## Kernels against their peers (benchmarks/bench_kernels.py)", "",
             f"Medians of {repeats} runs; ratios compare figures from the same run. Machine: {os.cpu_count()} cores, "
             f"{platform.machine()}, Python {platform.python_version()}, numba {numba.__version__} "
             f"({numba.config.NUMBA_NUM_THREADS} threads); load average at the end {load[0]:.1f} "
             "(the machine is shared with other sessions: absolute times are upper bounds, ratios hold better).", "",
             f"### Scoring core ({N_INDICATORS} float32 indicators, score + 5 dimensions + class + range counts)", "",
             "| cells | float32 GB | parallel read (s) | read GB/s | numpy float32 mat-vec (s) | fused kernel (s) "
             "| kernel GB/s | kernel / read | previous numpy scorer (s) | previous / kernel | onnxruntime (s) "
             "| onnxruntime / kernel | ONNX - kernel, max abs score |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in scorer:
        previous = f"{r['previous']:.3f} | {r['previous'] / r['fused']:.1f}x" if r["previous"] else "not run | "
        lines.append(f"| {r['cells']:,} | {r['gigabytes']:.3f} | {r['read']:.4f} | {r['gigabytes'] / r['read']:.1f} "
                     f"| {r['matvec']:.4f} | {r['fused']:.4f} | {r['gigabytes'] / r['fused']:.1f} "
                     f"| {r['read'] / r['fused']:.2f} of read speed | {previous} | {r['onnx']:.4f} "
                     f"| {r['onnx'] / r['fused']:.2f} | {r['onnx_max_difference']:.1e} |")
    lines += ["", f"Fitted exponent (time ~ cells^k) of the fused kernel: k = "
              f"{exponent([r['cells'] for r in scorer], [r['fused'] for r in scorer]):.2f}.", ""]
    lines += pipeline_lines(scorer)
    if score_command:
        lines += ["### `lbm score` end to end (Parquet in record batches, one year, no aggregates)", "",
                  "Beside it, the whole-table path (read_table, then score_cells, then write: how `lbm score` read "
                  "Parquet before record batches) in the same run.", "",
                  "| cells | float32 indicators (GB) | Parquet (GB) | wall (s) | peak RSS (GB) | peak / float32 input "
                  "| whole table: wall (s) | whole table: peak RSS (GB) |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {r['cells']:,} | {r['input_gb']:.2f} | {r['parquet_gb']:.2f} | {r['seconds']:.1f} | "
                  f"{r['peak_gb']:.2f} | {r['peak_gb'] / r['input_gb']:.2f} | {r['whole_seconds']:.1f} | "
                  f"{r['whole_peak_gb']:.2f} |" for r in score_command]
        lines += ["", "Where the time goes, in one process (medians): reading the record batches alone (Arrow to pandas), "
                  "everything else `score_parquet` does (validation, range counts, the fused kernel, area codes: its time "
                  "minus the reading) and writing the scores. Target: everything else faster than the reading.", "",
                  "| cells | Parquet read (s) | validation + range counts + scoring + codes (s) | that / read | write (s) |",
                  "| ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {r['cells']:,} | {r['read_s']:.2f} | {r['score_parquet_s'] - r['read_s']:.2f} | "
                  f"{(r['score_parquet_s'] - r['read_s']) / r['read_s']:.2f} | {r['write_s']:.2f} |" for r in score_command]
        lines += ["", f"Fitted exponents: time k = {exponent([r['cells'] for r in score_command], [r['seconds'] for r in score_command]):.2f}, "
                  f"peak memory k = {exponent([r['cells'] for r in score_command], [r['peak_gb'] for r in score_command]):.2f}.", ""]
    lines += ["### Ordinal fit (buurt-clustered errors) against one normal-equations solve on the same design", "",
              "| respondents | parameters | ordinal fit (s) | normal equations (s) | fit / solve |",
              "| ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['respondents']:,} | {r['parameters']} | {r['fit']:.2f} | {r['normal_equations']:.3f} | "
              f"{r['fit'] / r['normal_equations']:.1f}x |" for r in fits]
    lines += ["", f"Fitted exponent of the fit time in respondents: k = "
              f"{exponent([r['respondents'] for r in fits], [r['fit'] for r in fits]):.2f}.", ""]
    lines += statsmodels_lines(statsmodels, repeats, statsmodels_repeats) + moran_lines(morans)
    lines += [
              "### Cluster bootstrap, seconds per replicate on the same draws", "",
              f"{bootstrap['respondents']:,} respondents x 101 parameters, {bootstrap['replicates']} replicates: warm-started "
              f"refit {bootstrap['refit']:.2f} s, fixed-Hessian Newton {bootstrap['fixed_hessian']:.2f} s "
              f"({bootstrap['refit'] / bootstrap['fixed_hessian']:.1f}x faster); largest difference between the two "
              f"methods' judgement weights {bootstrap['max_difference']:.1e}.", "", END]
    return "\n".join(lines) + "\n"


def main() -> None:
    if sys.argv[1:2] == ["--measure"]:
        return measure(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", default="10000,100000,1000000,4000000", help="scorer sizes (cells)")
    parser.add_argument("--score-cells", default="250000,1000000", help="lbm score sizes (cells); empty to skip")
    parser.add_argument("--respondents", default="10000,50000,180000", help="ordinal fit sizes")
    parser.add_argument("--statsmodels-respondents", default="5000,10000",
                        help="OrderedModel comparison sizes (respondents); empty to skip")
    parser.add_argument("--statsmodels-repeats", type=int, default=1, help="runs of OrderedModel per size (minutes each)")
    parser.add_argument("--moran-cells", default="100000,450000", help="esda.Moran comparison sizes (cells); empty to skip")
    parser.add_argument("--bootstrap-respondents", type=int, default=50_000)
    parser.add_argument("--replicates", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--update", type=Path, help="replace this section in the given Markdown file")
    parser.add_argument("--out", type=Path, help="also write the section alone to this file")
    args = parser.parse_args()
    sizes = lambda text: [int(v) for v in text.split(",") if v.strip()]  # noqa: E731
    scorer = bench_scorer(sizes(args.cells), args.repeats)
    with tempfile.TemporaryDirectory(prefix="bench-kernels-", dir=ROOT) as tmp:
        score_command = bench_score_command(sizes(args.score_cells), args.repeats, Path(tmp))
    fits = bench_fit(sizes(args.respondents), args.repeats)
    statsmodels = bench_statsmodels(sizes(args.statsmodels_respondents), args.repeats, args.statsmodels_repeats)
    morans = bench_esda_moran(sizes(args.moran_cells), args.repeats)
    bootstrap = bench_bootstrap(args.bootstrap_respondents, args.replicates)
    section = render(scorer, score_command, fits, bootstrap, args.repeats, statsmodels, morans, args.statsmodels_repeats)
    publish(section, "bench_kernels", args.out, args.update)


if __name__ == "__main__":
    main()
