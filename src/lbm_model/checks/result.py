"""The shapes of the checks: what a check declares (:class:`Check`) and what it returns (:class:`CheckResult`).

Like esda's statistics, a check computes on call and hands back a small, read-only
object with plain attributes. The audit (lbm_model/audit.py) only iterates over the
registered checks, collects these results into ``audit.json`` and logs them to MLflow.
A check whose needs the fitted family cannot meet (standard errors, cheap refits,
probabilities) is recorded as ``not applicable``, never run into a NaN or a crash.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

PASS, WARN, FAIL, NOT_APPLICABLE = "pass", "warn", "fail", "not applicable"
VERDICTS: tuple[str, ...] = (NOT_APPLICABLE, PASS, WARN, FAIL)
VERDICT_CODE = {NOT_APPLICABLE: -1, PASS: 0, WARN: 1, FAIL: 2}
CAPABILITIES = ("standard_errors", "probabilities", "refit", "warm_start", "posterior")


def worst(verdicts: Iterable[str]) -> str:
    """The most severe of ``verdicts`` (pass when there are none)."""
    return max(verdicts, key=VERDICT_CODE.__getitem__, default=PASS)


def grade(value: float, warn_at: float | None, fail_at: float | None, *, higher_is_worse: bool = True) -> str:
    """Verdict of one number against a warn and a fail threshold (either may be None).

    A non-finite value is graded ``warn``: the check could not measure what it should.
    """
    if value is None or not math.isfinite(value):
        return WARN
    sign = 1.0 if higher_is_worse else -1.0
    if fail_at is not None and sign * value >= sign * fail_at:
        return FAIL
    if warn_at is not None and sign * value >= sign * warn_at:
        return WARN
    return PASS


def clean_number(value: Any, digits: int = 12) -> float | None:
    """A float rounded to ``digits`` significant digits, or None for NaN and infinity.

    Rounding keeps ``audit.json`` byte-stable across BLAS builds that differ in the last bits.
    """
    value = float(value)
    if not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


def jsonable(value: Any) -> Any:
    """Plain JSON data from nested mappings, sequences and numpy scalars (floats rounded)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item") and not isinstance(value, (list, tuple)):  # numpy scalar
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return clean_number(value)
    return str(value)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one methodology check.

    Attributes
    ----------
    name : str
        The check's name (also its module name), e.g. ``residual_autocorrelation``.
    verdict : str
        ``pass``, ``warn`` or ``fail`` against the thresholds in ``checks.*`` (lbm_model/conf/checks/), or ``not applicable``.
    metrics : Mapping[str, float]
        Flat numbers logged to MLflow as ``check.<name>.<metric>``.
    details : Mapping[str, Any]
        Structured, JSON-ready results for ``audit.json`` (tables small enough to read).
    evidence : tuple[str, ...]
        Evidence files, relative to the export directory (``evidence/...``).
    summary : str
        One or two sentences a reviewer reads in the verdict table.
    """

    name: str
    verdict: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()
    summary: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, not {self.verdict!r}")
        object.__setattr__(self, "metrics", MappingProxyType({str(k): float(v) for k, v in self.metrics.items()}))
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))
        object.__setattr__(self, "evidence", tuple(self.evidence))

    def to_dict(self) -> dict:
        """Deterministic JSON-ready form (floats rounded, NaN as null)."""
        return {"name": self.name, "verdict": self.verdict, "summary": self.summary,
                "metrics": jsonable(dict(self.metrics)), "details": jsonable(dict(self.details)),
                "evidence": list(self.evidence)}

    def finite_metrics(self) -> dict[str, float]:
        """The finite metrics and the verdict as a number (``verdict_code``): what MLflow and metrics.json get."""
        finite = {k: float(v) for k, v in self.metrics.items() if math.isfinite(v)}
        return {**finite, "verdict_code": float(VERDICT_CODE[self.verdict])}

    def log_to_mlflow(self, export_dir: str | None = None) -> None:
        """Log metrics, the verdict and evidence files to the active MLflow run."""
        import mlflow

        mlflow.log_metrics({f"check.{self.name}.{k}": v for k, v in self.finite_metrics().items()})
        mlflow.set_tag(f"check.{self.name}.verdict", self.verdict)
        if export_dir is not None:
            from pathlib import Path

            for rel in self.evidence:
                path = Path(export_dir) / rel
                if path.is_file():
                    mlflow.log_artifact(str(path), artifact_path=f"audit/{Path(rel).parent.as_posix()}")


@dataclass(frozen=True)
class Check:
    """A check as the registry knows it (checks/registry.py).

    Attributes
    ----------
    name : the check's name in ``checks.run``, audit.json and MLflow.
    run : the function ``CheckContext -> CheckResult``.
    config_key : its configuration's key under ``checks.`` (two checks may share one).
    config : the dataclass of that configuration (defaults, types, range checks).
    needs : capabilities of the fitted family it cannot do without (``CAPABILITIES``).
    """

    name: str
    run: Callable[[Any], CheckResult]
    config_key: str
    config: type
    needs: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = set(self.needs) - set(CAPABILITIES)
        if unknown:
            raise ValueError(f"check {self.name}: unknown need(s) {sorted(unknown)}; expected from {CAPABILITIES}")

    def not_applicable(self, missing: Iterable[str], family: str) -> CheckResult:
        """The result recorded when the fitted family lacks what this check needs."""
        missing = sorted(missing)
        return CheckResult(self.name, NOT_APPLICABLE, {}, {"missing_capabilities": missing, "family": family},
                           summary=f"not applicable: the {family} family has no {', '.join(m.replace('_', ' ') for m in missing)}.")
