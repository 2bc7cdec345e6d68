"""MLflow Models and the model registry: log the frozen scorer, promote a run through gates, roll back.

Every tracked ``lbm-experiment`` run logs its frozen model as an MLflow Model (a pyfunc around
the compiled scorer, :mod:`lbm_model.mlflow_scorer`) with a signature and an input example, and
registers it under ``tracking.registered_model``. ``lbm promote RUN_ID --alias champion`` moves
the alias only when the run passes the gates in ``promotion`` (lbm_model/conf/promotion/):

- ``stigma``: the stigmatisation gate passed;
- ``residual_autocorrelation``: that check ran and did not fail;
- ``out_of_sample``: blocked cross-validation's out-of-sample R-squared of the expected judgement
  (the measure every family shares) is not worse than the current champion's by more than
  ``oos_r2_margin``;
- ``class_changes``: the share of households that change class against the current champion,
  scored on the candidate's training cells in its base year, is at most ``max_class_change_share``.

A refusal names each failed gate with its figure and threshold. ``--override "reason"``
promotes anyway and records the reason, the user and the time as tags of the model version.
The replaced champion gets the alias ``previous``; ``lbm rollback`` swaps them back.
"""

from __future__ import annotations

import getpass
import json
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from lbm_model import __version__
from lbm_model.errors import LbmError

SCORER_CODE = Path(__file__).with_name("mlflow_scorer.py")
MODEL_NAME = "scorer"                 # the logged model's name within a run
PREVIOUS = "previous"


@dataclass
class PromotionConfig:
    """``promotion``: the gates a run must pass before it becomes the champion."""

    oos_r2_margin: float = 0.02           # candidate's out-of-sample R-squared >= champion's minus this
    max_class_change_share: float = 0.35  # share of households changing class against the champion
    require_residual_check: bool = True   # a run whose residual autocorrelation was not measured fails


@dataclass(frozen=True)
class Gate:
    """One promotion gate: passed or not, with the figure and the threshold it was judged on."""

    name: str
    passed: bool
    figure: str

    def line(self) -> str:
        return f"{self.name}: {'passed' if self.passed else 'FAILED'} ({self.figure})"


@dataclass(frozen=True)
class Promotion:
    """What ``lbm promote`` decided and did."""

    version: str
    gates: tuple[Gate, ...]
    promoted: bool
    previous_version: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> list[Gate]:
        return [g for g in self.gates if not g.passed]


# --- logging the frozen model as an MLflow Model --------------------------------------------

def requirements() -> list[str]:
    """Explicit pip requirements of the scorer (no inference: it would need the network)."""
    from importlib import metadata

    pins = [f"{name}=={metadata.version(name)}" for name in ("mlflow", "numpy", "pandas", "pyarrow", "pyyaml")]
    return [f"lbm-model=={__version__}", *pins]


def log_scoring_model(model_path: Path, cells: pd.DataFrame, registered_model: str | None) -> str | None:
    """Log the frozen model as a pyfunc in the active run (and register it); returns the version."""
    import warnings

    import mlflow
    from mlflow.models import infer_signature

    from lbm_model.scoring import CELL_OUTPUT_COLUMNS, CompiledScorer, score_cells

    scorer = CompiledScorer.load(model_path)
    columns = ["cell_id", "year", "x", "y", "buurt_code", "wijk_code", "gemeente_code", "households", *scorer.names]
    example = cells[columns].head(5).reset_index(drop=True)
    output = score_cells(scorer, example, "input example")[list(CELL_OUTPUT_COLUMNS)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # MLflow's advice on type hints and pip versions
        info = mlflow.pyfunc.log_model(name=MODEL_NAME, python_model=str(SCORER_CODE),
                                       artifacts={"frozen_model": str(model_path)},
                                       signature=infer_signature(example, output), input_example=example,
                                       pip_requirements=requirements(),
                                       registered_model_name=registered_model or None)
    return str(info.registered_model_version) if registered_model else None


# --- promotion --------------------------------------------------------------------------------

def _client(tracking_uri: str):
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri)


def _run_files(run_id: str, tracking_uri: str) -> tuple[dict, dict | None]:
    """The run's frozen model document (verified) and its audit.json (None when absent)."""
    import mlflow

    from lbm_model.frozen import read_frozen_model

    with tempfile.TemporaryDirectory(prefix="lbm-promote-") as local:     # both files are read into memory
        try:
            model = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="model/model.json",
                                                        dst_path=local, tracking_uri=tracking_uri)
        except Exception as exc:
            raise LbmError(f"run {run_id}: no frozen model artifact in {tracking_uri} ({type(exc).__name__}).") from None
        document = read_frozen_model(model)
        try:
            audit = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="audit/audit.json",
                                                        dst_path=local, tracking_uri=tracking_uri)
            return document, json.loads(Path(audit).read_text(encoding="utf-8"))
        except Exception:
            return document, None


def _check(audit: dict | None, name: str) -> dict | None:
    return next((c for c in (audit or {}).get("checks", []) if c["name"] == name), None)


def _oos_r2(audit: dict | None) -> float | None:
    check = _check(audit, "blocked_cv")
    return None if check is None else check["metrics"].get("oos.r2")


def audit_gates(audit: dict | None, config: PromotionConfig) -> list[Gate]:
    """The gates that read the candidate's own audit."""
    stigma, residual = _check(audit, "stigma_gate"), _check(audit, "residual_autocorrelation")
    gates = [Gate("stigma", stigma is not None and stigma["verdict"] == "pass",
                  f"stigmatisation gate {stigma['verdict'] if stigma else 'not recorded'}; required: pass")]
    if residual is None:
        gates.append(Gate("residual_autocorrelation", not config.require_residual_check,
                          "not measured in this run; required: measured and not fail"))
    else:
        gates.append(Gate("residual_autocorrelation", residual["verdict"] != "fail",
                          f"verdict {residual['verdict']}; required: not fail ({residual['summary']})"))
    return gates


def champion_gates(candidate: tuple[dict, dict | None], champion: tuple[dict, dict | None] | None,
                   config: PromotionConfig) -> list[Gate]:
    """The gates that compare the candidate with the current champion."""
    if champion is None:
        return [Gate("out_of_sample", True, "no champion yet"), Gate("class_changes", True, "no champion yet")]
    (new_doc, new_audit), (old_doc, old_audit) = candidate, champion
    new_r2, old_r2 = _oos_r2(new_audit), _oos_r2(old_audit)
    if new_r2 is None:
        oos = Gate("out_of_sample", False, "blocked_cv not run for the candidate; required: its out-of-sample R-squared")
    elif old_r2 is None:
        oos = Gate("out_of_sample", True, f"candidate R-squared {new_r2:.4f}; the champion has none to compare")
    else:
        oos = Gate("out_of_sample", new_r2 >= old_r2 - config.oos_r2_margin,
                   f"out-of-sample R-squared {new_r2:.4f} vs champion {old_r2:.4f}; required: >= "
                   f"{old_r2 - config.oos_r2_margin:.4f} (margin {config.oos_r2_margin:g})")
    changes = class_change_share(new_doc, old_doc)
    return [oos, Gate("class_changes", changes.share_changed <= config.max_class_change_share,
                      f"{changes.share_changed:.1%} of {changes.total_households:,.0f} households change class in "
                      f"{changes.year}; required: <= {config.max_class_change_share:.1%}")]


def class_change_share(new_doc: dict, old_doc: dict):
    """Class transitions between two frozen documents on the candidate's training cells and base year."""
    import warnings

    from lbm_model.compare import class_transitions
    from lbm_model.contract import read_table
    from lbm_model.scoring import CompiledScorer

    cells_path = new_doc["provenance"].get("input_paths", {}).get("cells")
    if not cells_path or not Path(cells_path).is_file():
        raise LbmError(f"the candidate's training cells {cells_path or '(not recorded)'} are not on this machine; "
                       "the class-change gate needs them.")
    year = int(new_doc["content"]["classes"]["rule"]["base_year"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # out-of-range counts: not what the gate asks
        return class_transitions(CompiledScorer.from_document(old_doc), CompiledScorer.from_document(new_doc),
                                 read_table(cells_path), year, cells_path)


def _version_of_run(client, name: str, run_id: str):
    versions = client.search_model_versions(f"name='{name}' and run_id='{run_id}'")
    if not versions:
        raise LbmError(f"run {run_id}: no version of registered model '{name}' was logged by it (tracked runs "
                       "register their model; was tracking.registered_model empty?).")
    return versions[0]


def _alias_version(client, name: str, alias: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def promote(run_id: str, *, alias: str, name: str, tracking_uri: str, config: PromotionConfig,
            override: str | None = None) -> Promotion:
    """Judge ``run_id`` against the gates and move ``alias`` to its model version when it passes
    (or when ``override`` gives a reason, which is recorded)."""
    client = _client(tracking_uri)
    version = _version_of_run(client, name, run_id)
    candidate = _run_files(run_id, tracking_uri)
    current = _alias_version(client, name, alias)
    champion = _run_files(current.run_id, tracking_uri) if current is not None and current.run_id != run_id else None
    gates = (*audit_gates(candidate[1], config), *champion_gates(candidate, champion, config))
    passed = all(g.passed for g in gates)
    if not passed and not override:
        return Promotion(str(version.version), gates, False)
    now, user = datetime.now(timezone.utc).isoformat(timespec="seconds"), getpass.getuser()
    if current is not None and current.version != version.version:
        client.set_registered_model_alias(name, PREVIOUS, current.version)
    client.set_registered_model_alias(name, alias, version.version)
    tags = {f"{alias}.promoted_at": now, f"{alias}.promoted_by": user,
            "gates": "; ".join(g.line() for g in gates)}
    if not passed:
        tags |= {"override.reason": override, "override.user": user, "override.time": now}
    for key, value in tags.items():
        client.set_model_version_tag(name, version.version, key, value[:5000])
    return Promotion(str(version.version), gates, True, current.version if current else None)


def rollback(*, alias: str, name: str, tracking_uri: str) -> tuple[str, str]:
    """Swap ``alias`` and ``previous``: the previous champion is restored. Returns (restored, replaced)."""
    client = _client(tracking_uri)
    current, previous = _alias_version(client, name, alias), _alias_version(client, name, PREVIOUS)
    if previous is None or current is None:
        raise LbmError(f"registered model '{name}' has no '{PREVIOUS}' version to roll '{alias}' back to.")
    client.set_registered_model_alias(name, alias, previous.version)
    client.set_registered_model_alias(name, PREVIOUS, current.version)
    client.set_model_version_tag(name, previous.version, f"{alias}.restored_at",
                                 datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return str(previous.version), str(current.version)


def download_alias(*, alias: str, name: str, tracking_uri: str) -> Path:
    """The model directory (model.json, audit.json, evidence/) of the version carrying ``alias``, downloaded
    from its run's artifacts into a temporary directory."""
    import mlflow

    client = _client(tracking_uri)
    version = _alias_version(client, name, alias)
    if version is None:
        raise LbmError(f"registered model '{name}' has no version with alias '{alias}' in {tracking_uri}.")
    local = Path(tempfile.mkdtemp(prefix="lbm-release-"))
    try:
        model = mlflow.artifacts.download_artifacts(run_id=version.run_id, artifact_path="model/model.json",
                                                    dst_path=str(local / "download"), tracking_uri=tracking_uri)
        audit = Path(mlflow.artifacts.download_artifacts(run_id=version.run_id, artifact_path="audit",
                                                         dst_path=str(local / "download"), tracking_uri=tracking_uri))
    except Exception as exc:
        raise LbmError(f"{name}@{alias} (run {version.run_id}): its model or audit artifacts cannot be downloaded "
                       f"({type(exc).__name__}).") from None
    Path(model).replace(audit / "model.json")      # audit/ holds audit.json and evidence/: a model directory
    return audit
