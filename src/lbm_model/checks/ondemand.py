"""``lbm check MODEL_DIR_OR_RUN``: repeat a frozen model's checks on demand.

The frozen model names its training inputs (provenance ``input_paths``, verified against the
sha256 recorded in its content) and its estimator configuration. The model is refitted on
exactly those inputs and the checks run with the configuration recorded in its
``audit.json`` (or ``conf/checks/default.yaml``), writing a fresh audit beside the model in
``recheck/``. With the same data, code and configuration the new audit reproduces the
recorded sha256.
"""

from __future__ import annotations

import importlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lbm_model.checks.config import ChecksConfig, checks_config, load_checks_config
from lbm_model.checks.context import CheckContext
from lbm_model.checks.result import CheckResult, worst
from lbm_model.checks.runner import AUDIT_FILE, run_checks
from lbm_model.checks.stigma import stigma_gate
from lbm_model.errors import LbmError
from lbm_model.frozen import MODEL_FILE, read_frozen_model
from lbm_model.inputs import capture_warnings, file_sha256, load_inputs


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


def locate_model(target: str, tracking_uri: str) -> Path:
    """The directory holding model.json: a local path, or the artifacts of an MLflow run id."""
    path = Path(target)
    if path.exists():
        return path if path.is_dir() else path.parent
    import mlflow

    try:
        mlflow.set_tracking_uri(tracking_uri)
        local = Path(tempfile.mkdtemp(prefix="lbm-check-"))
        mlflow.artifacts.download_artifacts(run_id=target, artifact_path="model", dst_path=str(local))
        try:
            mlflow.artifacts.download_artifacts(run_id=target, artifact_path=f"audit/{AUDIT_FILE}", dst_path=str(local))
            (local / "audit" / AUDIT_FILE).replace(local / "model" / AUDIT_FILE)
        except Exception:  # an older run without an audit: checks use conf/ defaults
            pass
    except Exception as exc:
        raise LbmError(f"{target}: neither a frozen model directory nor an MLflow run id with a model artifact in "
                       f"{tracking_uri} ({type(exc).__name__}).") from None
    return local / "model"


def recorded_config(model_dir: Path, override: Path | None) -> ChecksConfig:
    """The checks configuration: an explicit file, else the one in the model's audit.json, else conf/."""
    if override is not None:
        return load_checks_config(override)
    audit = model_dir / AUDIT_FILE
    if audit.is_file():
        return checks_config(json.loads(audit.read_text(encoding="utf-8"))["config"])
    return load_checks_config()


def training_inputs(document: dict, overrides: dict[str, Path | None]):
    """Load the model's training inputs, refusing files that differ from the ones it was fitted on."""
    recorded = document["content"]["training_data"]["files"]
    paths = {k: str(overrides.get(k) or document["provenance"].get("input_paths", {}).get(k, "")) for k in recorded}
    for key, path in paths.items():
        if not path or not Path(path).is_file():
            raise LbmError(f"{key} input {path or '(not recorded)'} not found; pass --{key} PATH.")
        if file_sha256(path) != recorded[key]["sha256"]:
            raise LbmError(f"{path}: sha256 differs from the {key} file this model was fitted on "
                           f"({recorded[key]['name']}); checks on other data would not describe this model.")
    return capture_warnings(load_inputs, paths["cells"], paths["survey"], paths["catalog"])


def make_estimator(config: dict):
    """Instantiate ``config['_target_']`` with the remaining keys (no Hydra needed)."""
    config = dict(config)
    target = config.pop("_target_", None)
    if not target:
        raise LbmError("the frozen model records no estimator _target_; cannot refit it.")
    module, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module), name)(**config)


def recheck(target: str, *, out: Path | None = None, inputs: dict[str, Path | None] | None = None,
            config_path: Path | None = None, tracking_uri: str = "sqlite:///mlruns.db") -> Recheck:
    """Refit the frozen model ``target`` on its inputs and run every configured check."""
    from lbm_model.recalibrate import fit_model

    model_dir = locate_model(target, tracking_uri)
    if out is None and not Path(target).exists():     # a run id: the download is temporary, the audit is not
        out = Path.cwd() / f"recheck-{target[:12]}"
    document = read_frozen_model(model_dir / MODEL_FILE)
    content = document["content"]
    config = recorded_config(model_dir, config_path)
    loaded, notes = training_inputs(document, inputs or {})
    try:
        indicators = tuple(loaded.catalog.by_name(e["name"]) for e in content["indicators"])
    except KeyError as exc:
        raise LbmError(f"model indicator {exc} is not in the catalog it was fitted with.") from None
    gate = stigma_gate(indicators, loaded.catalog, config.stigma)
    out = Path(out) if out is not None else model_dir / "recheck"
    recorded = content.get("audit", {}).get("sha256")
    if gate.verdict == "fail":
        return Recheck((gate,), out, None, recorded, tuple(notes))
    fitted = fit_model(loaded, make_estimator(content["estimator"]["config"]), indicators)
    classes = content["classes"]
    ctx = CheckContext(loaded, fitted, np.asarray(classes["thresholds"], float), int(classes["rule"]["base_year"]),
                       config, out)
    audit = run_checks(ctx, gate, model_version=content.get("model_version"))
    return Recheck(audit.results, out, audit.sha256, recorded, tuple(notes))
