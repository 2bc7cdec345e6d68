"""The audit lifecycle in one place: gate before the fit, audit after the classes, recheck on demand.

A recalibration calls, in this order (experiment.py)::

    gate(indicators, catalog, checks.stigma)        # stigmatisation: fails before any fit
    fitted = fit_model(...)                          # recalibrate.py
    thresholds = class_thresholds(...)               # the classes are fixed first
    audit = run_audit(AuditInputs(...), gate_result) # every check in checks.run, staged
    freeze(..., audit=audit, publish=False)          # stages the sealed model.json beside the audit
    (MLflow logging from the staging directory)
    audit.publish(export_dir)                        # evidence/, audit.json, then model.json move into place

``run_audit`` writes the evidence and ``audit.json`` into a hidden staging directory in the
export directory; :meth:`Audit.commit` moves them into place right before model.json is
written, so a run that fails or is killed during the checks leaves the previous model with
its own audit and evidence. ``recheck`` refits a frozen model on its recorded inputs and
repeats the audit (``lbm check``). The checks themselves are the registry's
(checks/registry.py); a check the fitted family cannot serve is recorded "not applicable".
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lbm_model.atomic import remove_stale_temp_files, staging_directory, write_bytes_atomic
from lbm_model.catalog import Catalog, Indicator
from lbm_model.checks.config import ChecksConfig, checks_config, load_checks_config
from lbm_model.checks.context import CheckContext
from lbm_model.checks.evidence import EVIDENCE_DIR
from lbm_model.checks.registry import CHECKS
from lbm_model.checks.result import FAIL, CheckResult, jsonable, worst
from lbm_model.checks.stigma import StigmaConfig, StigmatisationError, stigma_gate
from lbm_model.errors import LbmError
from lbm_model.frozen import MODEL_FILE, read_frozen_model
from lbm_model.inputs import Inputs, capture_warnings, file_sha256, load_inputs
from lbm_model.progress import track

AUDIT_FILE = "audit.json"
AUDIT_FORMAT = "lbm-audit"
AUDIT_FORMAT_VERSION = 2


class ChecksFailedError(LbmError):
    """A check listed in ``checks.fail_on`` returned ``fail`` (the model and its evidence are written)."""


def gate(indicators: Sequence[Indicator], catalog: Catalog, config: StigmaConfig) -> CheckResult:
    """The stigmatisation gate; raises StigmatisationError (exit 2) before any fit when it fails."""
    result = stigma_gate(indicators, catalog, config)
    if result.verdict == FAIL:
        raise StigmatisationError(result.summary)
    return result


@dataclass(frozen=True)
class Audit:
    """All check results of one model, staged until :meth:`commit` puts them beside model.json."""

    results: tuple[CheckResult, ...]
    staging: Path                     # holds audit.json and evidence/ until commit
    sha256: str
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return worst(r.verdict for r in self.results)

    def failed(self) -> list[str]:
        return [r.name for r in self.results if r.verdict == FAIL]

    def reference(self) -> dict:
        """What the frozen model records about its audit."""
        return {"file": AUDIT_FILE, "sha256": self.sha256, "verdict": self.verdict}

    def commit(self, export_dir: str | Path) -> Path | None:
        """Move the staged evidence/ and audit.json into ``export_dir``; returns where the previous
        evidence was moved (hidden, beside it), for :meth:`discard` once model.json is in place."""
        export_dir = Path(export_dir)
        staged_evidence, previous = self.staging / EVIDENCE_DIR, None
        if (export_dir / EVIDENCE_DIR).exists():
            previous = staging_directory(export_dir / EVIDENCE_DIR, create=False)
            os.replace(export_dir / EVIDENCE_DIR, previous)
        if staged_evidence.exists():
            os.replace(staged_evidence, export_dir / EVIDENCE_DIR)
        os.replace(self.staging / AUDIT_FILE, export_dir / AUDIT_FILE)
        return previous

    def stage_model(self, data: bytes) -> Path:
        """Write the sealed model.json into the staging directory, beside the staged audit."""
        return write_bytes_atomic(self.staging / MODEL_FILE, data)

    def publish(self, export_dir: str | Path) -> Path:
        """Move the staged evidence/, audit.json and model.json (model.json last) into ``export_dir``.

        Until this call nothing in ``export_dir`` has changed, so a run that fails or is killed
        earlier (during the checks, freezing or MLflow logging) leaves the previous model, audit
        and evidence byte-for-byte; the previous evidence is removed only after model.json is in place.
        """
        if not (self.staging / MODEL_FILE).is_file():
            raise LbmError("internal: publish() before stage_model(); nothing was published.")
        previous = self.commit(export_dir)
        target = Path(export_dir) / MODEL_FILE
        os.replace(self.staging / MODEL_FILE, target)
        self.discard(previous)
        return target

    def discard(self, previous: Path | None = None) -> None:
        """Remove the staging directory (and the previous evidence, after a commit)."""
        for leftover in (previous, self.staging):
            if leftover is not None:
                shutil.rmtree(leftover, ignore_errors=True)


def enforce_fail_on(audit: Audit, config: ChecksConfig) -> None:
    """Raise ChecksFailedError when a check named in ``checks.fail_on`` (or any, with ``all``) failed."""
    fatal = [name for name in audit.failed() if "all" in config.fail_on or name in config.fail_on]
    if fatal:
        raise ChecksFailedError(f"check(s) {', '.join(fatal)} failed and are listed in checks.fail_on; the model, "
                                "audit.json and evidence are written for review.")


def run_check(name: str, ctx: CheckContext) -> CheckResult:
    """One check; one that its family cannot serve is 'not applicable'; one that cannot run on these
    data is recorded as a fail with the reason, not swallowed."""
    check = CHECKS[name]
    capabilities = ctx.results.capabilities
    missing = [need for need in sorted(check.needs) if not getattr(capabilities, need)]
    if missing:
        return check.not_applicable(missing, ctx.results.family)
    try:
        return check.run(ctx)
    except (LbmError, ValueError, ArithmeticError, KeyError, np.linalg.LinAlgError) as exc:   # e.g. a refit that
        # does not converge: recorded with its reason, the other checks still run
        return CheckResult(name, FAIL, {}, {"error": f"{type(exc).__name__}: {exc}"},
                           summary=f"the check could not run on these data ({type(exc).__name__}: {exc}).")


def audit_document(results: Sequence[CheckResult], ctx: CheckContext, model_version: str | None) -> dict:
    """The content of audit.json (plain, deterministic data: no timestamps or timings)."""
    evidence = sorted({rel for r in results for rel in r.evidence})
    return {
        "format": AUDIT_FORMAT, "format_version": AUDIT_FORMAT_VERSION,
        "model_version": model_version, "input_fingerprint_sha256": ctx.inputs.fingerprint,
        "estimator_family": ctx.results.family,
        "verdict": worst(r.verdict for r in results),
        "verdicts": {r.name: r.verdict for r in results},
        "checks": [r.to_dict() for r in results],
        "evidence_sha256": {rel: file_sha256(ctx.export_dir / rel) for rel in evidence},
        "config": jsonable(ctx.config.to_dict()),
    }


def run_audit(inputs: Inputs, fitted, thresholds: np.ndarray, base_year: int, config: ChecksConfig,
              export_dir: str | Path, gate_result: CheckResult | None = None, *, model_version: str | None = None,
              progress: Callable[[str], None] | None = None) -> Audit:
    """Run every check in ``config.run`` into a staging directory and write its audit.json there."""
    export_dir = Path(export_dir)
    export_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(export_dir / EVIDENCE_DIR)
    staging = staging_directory(export_dir / EVIDENCE_DIR)
    try:
        ctx = CheckContext(inputs, fitted, np.asarray(thresholds, float), int(base_year), config, staging)
        results, seconds = ([gate_result] if gate_result is not None else []), {}
        for name in track(config.run, len(config.run), "checks"):
            if progress:
                progress(str(name))
            started = time.perf_counter()
            results.append(run_check(str(name), ctx))
            seconds[str(name)] = time.perf_counter() - started
        data = (json.dumps(audit_document(results, ctx, model_version), sort_keys=True, indent=2, ensure_ascii=False,
                           allow_nan=False) + "\n").encode("utf-8")
        write_bytes_atomic(staging / AUDIT_FILE, data)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Audit(tuple(results), staging, hashlib.sha256(data).hexdigest(), seconds)


def log_audit(audit: Audit, export_dir: Path) -> None:
    """Log every check (metrics, verdict tag, evidence) and audit.json to the active MLflow run."""
    import mlflow

    for result in audit.results:
        result.log_to_mlflow(str(export_dir))
    mlflow.log_metrics({f"check.{k}.seconds": v for k, v in audit.seconds.items()})
    mlflow.set_tag("check.verdict", audit.verdict)
    mlflow.log_artifact(str(Path(export_dir) / AUDIT_FILE), artifact_path="audit")


# --- lbm check: repeat a frozen model's audit ------------------------------------------------

@dataclass(frozen=True)
class Recheck:
    """What ``lbm check`` found."""

    results: tuple[CheckResult, ...]
    out_dir: Path
    audit_sha256: str | None
    recorded_sha256: str | None
    notes: tuple[str, ...]

    @property
    def verdict(self) -> str:
        return worst(r.verdict for r in self.results)


def locate_model(target: str, tracking_uri: str, evidence: bool = False) -> Path:
    """The directory holding model.json: a local path, or the artifacts of an MLflow run id (model.json and
    audit.json, and with ``evidence`` the evidence files, laid out as in an export directory)."""
    path = Path(target)
    if path.exists():
        return path if path.is_dir() else path.parent
    import mlflow

    try:
        mlflow.set_tracking_uri(tracking_uri)
        local = Path(tempfile.mkdtemp(prefix="lbm-check-"))
        mlflow.artifacts.download_artifacts(run_id=target, artifact_path="model", dst_path=str(local))
        try:
            mlflow.artifacts.download_artifacts(run_id=target, artifact_path="audit" if evidence else f"audit/{AUDIT_FILE}",
                                                dst_path=str(local))
            (local / "audit" / AUDIT_FILE).replace(local / "model" / AUDIT_FILE)
            if evidence and (local / "audit" / EVIDENCE_DIR).is_dir():
                (local / "audit" / EVIDENCE_DIR).replace(local / "model" / EVIDENCE_DIR)
        except Exception:  # an older run without an audit: checks use the package defaults
            pass
    except Exception as exc:
        raise LbmError(f"{target}: neither a frozen model directory nor an MLflow run id with a model artifact in "
                       f"{tracking_uri} ({type(exc).__name__}).") from None
    return local / "model"


def recorded_config(model_dir: Path, content: dict, override: Path | str | None) -> ChecksConfig:
    """The checks configuration: an explicit option or file, else the one in the model's own audit.json
    (the file whose sha256 the model records), else the package default; all with the same schema."""
    if override is not None:
        return load_checks_config(override)
    audit, recorded = model_dir / AUDIT_FILE, content.get("audit", {}).get("sha256")
    if not audit.is_file():
        return load_checks_config()
    if recorded is not None and file_sha256(audit) != recorded:
        raise LbmError(f"{audit}: not the audit this model records (sha256 {recorded[:12]}...); its configuration "
                       "would not describe this model. Pass --checks-config (an option such as default, or a file).")
    document = json.loads(audit.read_text(encoding="utf-8"))
    if document.get("format_version") != AUDIT_FORMAT_VERSION:
        raise LbmError(f"{audit}: audit format {document.get('format_version')} records its configuration in an "
                       "older shape; pass --checks-config (an option such as default, or a file).")
    return checks_config(document["config"])


def training_inputs(document: dict, overrides: dict[str, Path | None]) -> tuple[Inputs, list[str]]:
    """Load the model's training inputs, refusing files that differ from the ones it was fitted on."""
    recorded = document["content"]["training_data"]["files"]
    paths = {k: str(overrides.get(k) or document["provenance"].get("input_paths", {}).get(k, "")) for k in recorded}
    for key, path in paths.items():
        if not path or not Path(path).is_file():
            raise LbmError(f"{key} input {path or '(not recorded)'} not found; pass --{key} PATH.")
        if file_sha256(path) != recorded[key]["sha256"]:
            raise LbmError(f"{path}: sha256 differs from the {key} file this model was fitted on "
                           f"({recorded[key]['name']}); checks on other data would not describe this model.")
    return capture_warnings(load_inputs, paths["cells"], paths["survey"], paths["catalog"], paths.get("transactions"))


def recorded_estimator(content: dict):
    """A new estimator of the recorded family with the recorded parameters (no import paths)."""
    from lbm_model.estimators import FAMILIES, estimator_for

    record = content["estimator"]
    family = record.get("family")
    if family not in FAMILIES or "params" not in record:
        raise LbmError(f"the frozen model records estimator family {family!r} without parameters this version can "
                       f"refit (known families: {', '.join(sorted(FAMILIES))}); freeze it again with this version.")
    return estimator_for(family, record["params"])


def recheck(target: str, *, out: Path | None = None, inputs: dict[str, Path | None] | None = None,
            config_path: Path | str | None = None, tracking_uri: str = "sqlite:///mlruns.db") -> Recheck:
    """Refit the frozen model ``target`` on its inputs and repeat the audit into ``out``."""
    from lbm_model.recalibrate import fit_model

    model_dir = locate_model(target, tracking_uri)
    if out is None and not Path(target).exists():     # a run id: the download is temporary, the audit is not
        out = Path.cwd() / f"recheck-{target[:12]}"
    document = read_frozen_model(model_dir / MODEL_FILE)
    content = document["content"]
    estimator = recorded_estimator(content)
    config = recorded_config(model_dir, content, config_path)
    out = Path(out) if out is not None else model_dir / "recheck"
    if out.resolve() == model_dir.resolve():
        raise LbmError(f"--out {out}: is the model's own directory; a recheck must not replace the audit the model "
                       "records. Choose another directory.")
    loaded, notes = training_inputs(document, inputs or {})
    try:
        indicators = tuple(loaded.catalog.by_name(e["name"]) for e in content["indicators"])
    except KeyError as exc:
        raise LbmError(f"model indicator {exc} is not in the catalog it was fitted with.") from None
    recorded = content.get("audit", {}).get("sha256")
    gate_result = stigma_gate(indicators, loaded.catalog, config.stigma)
    if gate_result.verdict == FAIL:
        return Recheck((gate_result,), out, None, recorded, tuple(notes))
    fitted = fit_model(loaded, estimator, indicators)
    classes = content["classes"]
    audit = run_audit(loaded, fitted, np.asarray(classes["thresholds"], float), int(classes["rule"]["base_year"]),
                      config, out, gate_result, model_version=content.get("model_version"))
    audit.discard(audit.commit(out))
    return Recheck(audit.results, out, audit.sha256, recorded, tuple(notes))
