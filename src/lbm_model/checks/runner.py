"""Run the configured checks, write ``audit.json`` and log everything to MLflow.

The runner only iterates: every check is a function ``CheckContext -> CheckResult`` in its
own module. ``audit.json`` holds every check's numbers, verdict, evidence files (relative to
the export directory, with their sha256) and the checks configuration; it has no timestamps
or timings, so the same data, config and seed give the same bytes and the frozen model,
which records the audit's sha256, stays deterministic.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lbm_model.atomic import write_bytes_atomic
from lbm_model.checks.bootstrap import cluster_bootstrap
from lbm_model.checks.collinearity import collinearity
from lbm_model.checks.context import CheckContext
from lbm_model.checks.crossval import blocked_cv
from lbm_model.checks.evidence import file_sha256
from lbm_model.checks.proxy import proxy_audit
from lbm_model.checks.result import FAIL, CheckResult, jsonable, worst
from lbm_model.checks.signs import sign_plausibility
from lbm_model.checks.spatial import residual_autocorrelation, score_autocorrelation

AUDIT_FILE = "audit.json"
AUDIT_FORMAT = "lbm-audit"
AUDIT_FORMAT_VERSION = 1

CHECKS: dict[str, Callable[[CheckContext], CheckResult]] = {
    "residual_autocorrelation": residual_autocorrelation,
    "score_autocorrelation": score_autocorrelation,
    "proxy_audit": proxy_audit,
    "collinearity": collinearity,
    "sign_plausibility": sign_plausibility,
    "blocked_cv": blocked_cv,
    "cluster_bootstrap": cluster_bootstrap,
}


@dataclass(frozen=True)
class Audit:
    """All check results of one model, where the audit file went and its sha256."""

    results: tuple[CheckResult, ...]
    path: Path
    sha256: str
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return worst(r.verdict for r in self.results)

    def failed(self) -> list[str]:
        return [r.name for r in self.results if r.verdict == FAIL]

    def reference(self) -> dict:
        """What the frozen model records about its audit."""
        return {"file": self.path.name, "sha256": self.sha256, "verdict": self.verdict}


def audit_document(results: list[CheckResult], ctx: CheckContext, model_version: str | None) -> dict:
    """The content of audit.json (plain, deterministic data)."""
    evidence = sorted({rel for r in results for rel in r.evidence})
    return {
        "format": AUDIT_FORMAT, "format_version": AUDIT_FORMAT_VERSION,
        "model_version": model_version, "input_fingerprint_sha256": ctx.inputs.fingerprint,
        "verdict": worst(r.verdict for r in results),
        "verdicts": {r.name: r.verdict for r in results},
        "checks": [r.to_dict() for r in results],
        "evidence_sha256": {rel: file_sha256(ctx.export_dir / rel) for rel in evidence},
        "config": jsonable(ctx.config.to_dict()),
    }


def write_audit(document: dict, export_dir: Path) -> tuple[Path, str]:
    data = (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    path = write_bytes_atomic(Path(export_dir) / AUDIT_FILE, data)
    return path, hashlib.sha256(data).hexdigest()


def _run_one(name: str, ctx: CheckContext) -> CheckResult:
    """One check; a check that cannot run on these data is recorded as a fail, not swallowed."""
    try:
        return CHECKS[name](ctx)
    except (ValueError, ArithmeticError, KeyError, np.linalg.LinAlgError) as exc:
        return CheckResult(name, FAIL, {}, {"error": f"{type(exc).__name__}: {exc}"},
                           summary=f"the check could not run on these data ({type(exc).__name__}: {exc}).")


def run_checks(ctx: CheckContext, gate: CheckResult | None = None, *, model_version: str | None = None,
               progress: Callable[[str], None] | None = None) -> Audit:
    """Run every check in ``ctx.config.run`` (after the stigmatisation gate's result) and write audit.json."""
    results, seconds = ([gate] if gate is not None else []), {}
    for name in ctx.config.run:
        if progress:
            progress(name)
        started = time.perf_counter()
        results.append(_run_one(name, ctx))
        seconds[name] = time.perf_counter() - started
    path, sha = write_audit(audit_document(results, ctx, model_version), ctx.export_dir)
    return Audit(tuple(results), path, sha, seconds)


def log_audit(audit: Audit, export_dir: Path) -> None:
    """Log every check (metrics, verdict tag, evidence) and audit.json to the active MLflow run."""
    import mlflow

    for result in audit.results:
        result.log_to_mlflow(str(export_dir))
    mlflow.log_metrics({f"check.{k}.seconds": v for k, v in audit.seconds.items()})
    mlflow.set_tag("check.verdict", audit.verdict)
    mlflow.log_artifact(str(audit.path), artifact_path="audit")
