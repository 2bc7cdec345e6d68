"""MLflow logging of a recalibration run: config, weights, fit statistics, frozen model, rerun record.

Only aggregate results are logged: no respondent-level rows or ids ever reach MLflow.
The default store is a local SQLite file in the project folder; no server is needed.

Several processes may log to one SQLite store at the same time (docs/guarantees.md):
first-time creation of the store and of the experiment happens under an exclusive file
lock, and writes that meet a locked database are retried with backoff. A store that
cannot be opened is a user error (LbmError), not a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterator, TypeVar
from urllib.parse import urlparse

import pandas as pd

from lbm_model.atomic import exclusive_lock
from lbm_model.errors import LbmError

T = TypeVar("T")
RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0)
# the MLflow UI shows an experiment with this tag as classic model development, not in its GenAI view
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"
RECORDED_PACKAGES = ("lbm-model", "numpy", "scipy", "pandas", "pyarrow", "statsmodels", "scikit-learn", "esda",
                     "libpysal", "pymc", "mlflow", "hydra-core", "omegaconf")


def _flatten(prefix: str, value, out: dict) -> dict:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    else:
        out[prefix] = value if not isinstance(value, (list, tuple)) else json.dumps(value)
    return out


def is_local_store(uri: str) -> bool:
    """Whether the store is a file on this machine (SQLite or a file store) rather than a tracking server."""
    return not uri.startswith(("http://", "https://", "databricks"))


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` tracking URI (None for other stores)."""
    if not uri.startswith("sqlite:"):
        return None
    path = urlparse(uri).path if not uri.startswith("sqlite:///") else uri[len("sqlite:///"):]
    path = path.split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


@contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """An exclusive inter-process lock for one tracking store (a no-op for non-SQLite stores).

    Keyed on the database's resolved path, so that two spellings of one store (relative,
    absolute) share it.
    """
    db = sqlite_path(uri)
    if db is None:
        yield
        return
    with exclusive_lock(f"mlflow-store:{db.resolve()}"):
        yield


def _is_transient(exc: Exception) -> bool:
    text = str(exc).lower()
    return ("database is locked" in text or "database table is locked" in text
            or getattr(exc, "error_code", "") == "TEMPORARILY_UNAVAILABLE")


def with_retries(action: Callable[[], T], what: str) -> T:
    """Run ``action``; retry with backoff while the store reports a locked database."""
    for delay in (*RETRY_DELAYS_S, None):
        try:
            return action()
        except Exception as exc:  # MLflow wraps sqlite errors in MlflowException
            if delay is None or not _is_transient(exc):
                raise
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _tracking_error(uri: str, exc: Exception) -> LbmError:
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return LbmError(f"tracking.uri={uri}: the MLflow store cannot be used ({type(exc).__name__}: {first_line}); "
                    "fix the URI or set tracking.enabled=false.")


def open_experiment(uri: str, artifact_dir: str, experiment: str) -> str:
    """Point MLflow at the store and return the experiment id, creating store and experiment once."""
    import mlflow
    from mlflow.exceptions import MlflowException

    db = sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    with store_lock(uri):
        try:
            found = with_retries(lambda: mlflow.get_experiment_by_name(experiment), "read the experiment")
            if found is not None:
                if found.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
                    with_retries(lambda: mlflow.MlflowClient().set_experiment_tag(
                        found.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND), "tag the experiment")
                return found.experiment_id
            # a local store keeps artifacts in artifact_dir; a tracking server decides where its artifacts go
            location = Path(artifact_dir).resolve().as_uri() if is_local_store(uri) else None
            try:
                return with_retries(lambda: mlflow.create_experiment(experiment, artifact_location=location,
                                                                     tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}),
                                    "create the experiment")
            except MlflowException as exc:  # another process (without our lock) was first
                if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                    raise
                return mlflow.get_experiment_by_name(experiment).experiment_id
        except LbmError:
            raise
        except Exception as exc:
            raise _tracking_error(uri, exc) from None


@contextmanager
def tracked_run(enabled: bool, uri: str, artifact_dir: str, experiment: str, run_name: str) -> Iterator[object | None]:
    """An active MLflow run (or None when tracking is disabled)."""
    if not enabled:
        yield None
        return
    import mlflow

    experiment_id = open_experiment(uri, artifact_dir, experiment)
    try:
        run = with_retries(lambda: mlflow.start_run(experiment_id=experiment_id, run_name=run_name), "start a run")
    except Exception as exc:
        raise _tracking_error(uri, exc) from None
    try:
        yield run
    except BaseException as exc:
        with_retries(lambda: mlflow.set_tag("error", failure_text(exc)), "record the error")
        with_retries(lambda: mlflow.end_run(status="FAILED"), "end the run")
        raise
    with_retries(lambda: mlflow.end_run(status="FINISHED"), "end the run")


def failure_text(exc: BaseException) -> str:
    """What a FAILED run records: our errors' own message (rows by number, never respondent ids), else the type."""
    from lbm_model.errors import LbmError

    text = f"{type(exc).__name__}: {exc}" if isinstance(exc, LbmError) else type(exc).__name__
    return text[:5000]


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that determine a run's numbers."""
    versions = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def hydra_overrides() -> list[str]:
    """The command-line overrides of the running Hydra job (empty outside Hydra)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    except Exception:
        return []


def sweep_tags() -> dict[str, str]:
    """The tags that tie the runs of one Hydra sweep (``lbm-experiment -m``) together (empty for a single run).

    ``sweep_id`` is derived from the sweep's output directory, which every job of one sweep
    shares and which Hydra makes unique per launch; filter on it in the MLflow UI with
    ``tags.sweep_id = '...'``.
    """
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
            return {}
        hydra_cfg = HydraConfig.get()
    except Exception:
        return {}
    sweep_dir = Path(hydra_cfg.sweep.dir).resolve()
    return {"sweep_id": hashlib.sha256(str(sweep_dir).encode()).hexdigest()[:12], "sweep_dir": str(sweep_dir),
            "sweep_job": str(hydra_cfg.job.num), "sweep_overrides": ",".join(hydra_cfg.overrides.task)}


def _git_dirty() -> bool | None:
    """Whether the checkout the code runs from has uncommitted changes (None outside git)."""
    import subprocess

    try:
        done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True,
                              timeout=10, cwd=Path(__file__).parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(done.stdout.strip()) if done.returncode == 0 else None


def rerun_record(config: dict, input_paths: dict[str, str], input_sha256: dict[str, str], code_version: dict,
                 content_sha256: str) -> dict:
    """Everything needed to repeat a run and check that the repeat gives the same model.

    Rerun with the same inputs (checked by sha256), the same code (git commit and package
    versions) and ``lbm-experiment`` plus the recorded overrides; the repeat's frozen model
    must have the recorded ``content_sha256``.
    """
    overrides = hydra_overrides()
    return {
        "command": ["lbm-experiment", *overrides],
        "overrides": overrides,
        "argv": list(sys.argv),
        "working_directory": os.getcwd(),
        "resolved_config": config,
        "inputs": {k: {"path": str(Path(p).resolve()), "sha256": input_sha256[k]} for k, p in input_paths.items()},
        "code_version": {**code_version, "git_dirty": _git_dirty()},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "expected_content_sha256": content_sha256,
    }


def log_recalibration(config: dict, fit_metrics: dict[str, float], weights_table: pd.DataFrame, model_path: Path,
                      tags: dict[str, str]) -> None:
    """Log the resolved config, fit statistics (``FitStats.metrics()``), weights table and frozen model."""
    import mlflow

    params = _flatten("", config, {})
    with_retries(lambda: mlflow.log_params({k: str(v)[:6000] for k, v in params.items()}), "log params")
    stats = {f"fit.{k}": v for k, v in fit_metrics.items()}
    with_retries(lambda: mlflow.log_metrics(stats), "log metrics")
    with_retries(lambda: mlflow.set_tags(tags), "set tags")
    mlflow.log_dict(config, "config/resolved_config.json")
    mlflow.log_text(weights_table.to_csv(index=False, lineterminator="\n"), "model/weights.csv")
    mlflow.log_artifact(str(model_path), artifact_path="model")


def log_inputs(paths: dict[str, str], sha256: dict[str, str]) -> None:
    """Record each input file as an MLflow dataset input: its path and the first 32 hex digits of its sha256
    as the digest (MLflow allows 36 characters; the full sha256 is in rerun.json). No rows are logged."""
    import warnings

    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key in sorted(paths):
            dataset = MetaDataset(resolve_dataset_source(str(Path(paths[key]).resolve())), name=key, digest=sha256[key][:32])
            with_retries(lambda: mlflow.log_input(dataset, context="training"), "log an input")


def log_description(content: dict) -> None:
    """The run's description in the MLflow UI (Markdown): model, data size, checks verdict, content hash."""
    import mlflow

    from lbm_model.frozen import canonical_json, sha256_text

    estimator, audit = content["estimator"], content.get("audit", {})
    text = (f"**{content['model_version']}**: {estimator['family']} on {content['training_data']['n_respondents']:,} "
            f"respondents and {len(content['indicators'])} indicators; checks {audit.get('verdict', 'not run')}; "
            f"content sha256 `{sha256_text(canonical_json(content))[:12]}`.")
    with_retries(lambda: mlflow.set_tag("mlflow.note.content", text), "set the description")


def log_rerun_record(record: dict) -> None:
    """Store the rerun record (rerun.json) and its key facts as tags of the active run."""
    import mlflow

    commit = record["code_version"].get("git_commit")
    if commit:
        with_retries(lambda: mlflow.set_tag("mlflow.source.git.commit", commit), "set tags")   # MLflow's own tag
    with_retries(lambda: mlflow.set_tags({"content_sha256": record["expected_content_sha256"],
                                          "git_commit": str(commit),
                                          "rerun_command": " ".join(record["command"])[:5000]}), "set tags")
    mlflow.log_dict(record, "rerun.json")


def log_report(path: Path) -> None:
    """The run's audit report (report.html) as an artifact, next to the audit."""
    import mlflow

    with_retries(lambda: mlflow.log_artifact(str(path), artifact_path="report"), "log the report")
