"""A demo-like run of the real commands on the small synthetic world, shared by several test modules.

Two ``lbm-experiment`` processes (ordinal logit, checks, MLflow tracking) start at the same
time with the same data, config and seed, into two export directories and one fresh SQLite
tracking store; then ``lbm score`` with buurt, wijk and gemeente aggregates and ``lbm verify``
for each. Every command's stdout and stderr is kept under ``logs/``. The result is computed
once per test session (module-level cache).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from conftest import BIN

# Fewer permutations and replicates than checks=fast: same code paths, quicker.
QUICK_CHECKS = ["checks=fast", "checks.cluster_bootstrap.replicates=5"]
_CACHE: dict[str, "Demo"] = {}


@dataclass(frozen=True)
class Demo:
    root: Path            # everything the demo wrote: exports/, mlflow.db, mlartifacts/, runs/, logs/
    world: Path           # the inputs (not part of the scan: the survey is the microdata itself)
    exports: dict[str, Path]
    records: dict[str, dict]   # rerun.json of each run, read back from the MLflow store
    run_ids: dict[str, str]


def _start(argv: list[str], cwd: Path, log: Path) -> tuple[subprocess.Popen, list[str], Path]:
    """Start a command with its stdout and stderr going to ``log`` (no pipes that could fill and stall it)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as handle:
        handle.write(f"$ {' '.join(argv)}\n")
        handle.flush()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, text=True)
    return proc, argv, log


def _wait(*started: tuple[subprocess.Popen, list[str], Path]) -> None:
    failures = []
    for proc, argv, log in started:
        if proc.wait(timeout=1800) != 0:
            failures.append(f"{' '.join(argv[:2])} failed ({proc.returncode}):\n{log.read_text()[-4000:]}")
    if failures:
        raise AssertionError("\n".join(failures))


def rerun_record(root: Path, run_id: str) -> dict:
    with sqlite3.connect(root / "mlflow.db") as db:
        (uri,) = db.execute("select artifact_uri from runs where run_uuid = ?", (run_id,)).fetchone()
    return json.loads((Path(unquote(urlparse(uri).path)) / "rerun.json").read_text())


def experiment_argv(world: Path, name: str) -> list[str]:
    return [str(BIN / "lbm-experiment"), "data=files", f"data.cells={world / 'cells.parquet'}",
            f"data.survey={world / 'survey.parquet'}", f"data.catalog={world / 'catalog.yaml'}",
            f"export.dir=exports/{name}", "tracking.uri=sqlite:///mlflow.db", "tracking.artifact_dir=mlartifacts",
            f"hydra.run.dir=runs/{name}", *QUICK_CHECKS]


def run_demo(root: Path, world: Path) -> Demo:
    key = str(world)
    if key in _CACHE:
        return _CACHE[key]
    root.mkdir(parents=True, exist_ok=True)
    names = ("a", "b")
    exports = {n: root / "exports" / n for n in names}
    _wait(*[_start(experiment_argv(world, n), root, root / f"logs/experiment-{n}.log") for n in names])
    _wait(*[_start([str(BIN / "lbm"), "score", "--model", str(exports[n]), "--cells", str(world / "cells.parquet"),
                    "--out", str(exports[n] / "scores.parquet"), "--aggregate", "buurt,wijk,gemeente"],
                   root, root / f"logs/score-{n}.log") for n in names])
    _wait(*[_start([str(BIN / "lbm"), "verify", str(exports[n])], root, root / f"logs/verify-{n}.log") for n in names])
    run_ids = {n: json.loads((exports[n] / "model.json").read_text())["provenance"]["mlflow_run_id"] for n in names}
    records = {n: rerun_record(root, run_ids[n]) for n in names}
    demo = Demo(root=root, world=world, exports=exports, records=records, run_ids=run_ids)
    _CACHE[key] = demo
    return demo
