"""The DVC pipeline on a fresh clone: params.yaml is what DVC's Hydra composition makes of lbm_model/conf, a
second `dvc repro` runs nothing, `dvc exp run -S model=ols` reruns only the stages that depend on the model,
and `dvc metrics diff` shows what changed.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import BIN, ROOT

DVC = {**{k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}


def run(cwd: Path, *argv: str, stdout_only: bool = False) -> str:
    done = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, env=DVC)
    assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout if stdout_only else done.stdout + done.stderr


def test_committed_params_are_the_hydra_composition_dvc_makes(tmp_path, monkeypatch):
    from dvc.utils.hydra import compose_and_dump

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)     # as `make params` composes it: the default store

    config = dict(line.strip().split(" = ", 1) for line in (ROOT / ".dvc" / "config").read_text().splitlines()
                  if " = " in line)
    assert config["enabled"] == "true" and config["config_module"] == "lbm_model.conf"
    compose_and_dump(tmp_path / "params.yaml", None, config["config_module"], config["config_name"], str(tmp_path), [])
    assert (tmp_path / "params.yaml").read_text() == (ROOT / "params.yaml").read_text(), \
        "params.yaml is stale: regenerate it with `make params`"
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert params["checks"]["run"] != [] and params["export"]["dir"] == "pipeline/model"


@pytest.mark.slow
def test_repro_twice_then_one_override_reruns_only_its_stages(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, capture_output=True)
    (clone / ".dvc").mkdir(exist_ok=True)
    for path in ("dvc.yaml", "params.yaml", ".dvcignore", ".dvc/config", ".dvc/.gitignore", "src"):
        subprocess.run(["cp", "-r", str(ROOT / path), str((clone / path).parent)], check=True)   # the tree under test
    (clone / ".venv").symlink_to(ROOT / ".venv")
    run(clone, "git", "add", "-A")
    run(clone, "git", "commit", "--quiet", "--allow-empty", "-m", "under test")
    dvc = str(BIN / "dvc")

    first = run(clone, dvc, "repro")
    assert all(f"Running stage '{stage}'" in first for stage in ("world", "fit", "score")), first
    run(clone, "git", "add", "-A")
    run(clone, "git", "commit", "--quiet", "-m", "first reproduction")
    second = run(clone, dvc, "repro")
    assert "Running stage" not in second and "Data and pipelines are up to date" in second, second

    shown = json.loads(run(clone, dvc, "metrics", "show", "--json", stdout_only=True))
    assert "pipeline/model/metrics.json" in json.dumps(shown) and '"oos.r2"' in json.dumps(shown)

    changed = run(clone, dvc, "exp", "run", "-S", "model=ols")
    assert "Stage 'world' didn't change, skipping" in changed, changed
    assert "Running stage 'fit'" in changed and "Running stage 'score'" in changed, changed
    assert yaml.safe_load((clone / "params.yaml").read_text())["model"]["name"] == "ols"

    diff = json.loads(run(clone, dvc, "metrics", "diff", "--json", stdout_only=True))
    figures = diff["pipeline/model/metrics.json"]
    assert "fit.rmse" in figures and figures["fit.rmse"]["old"] != figures["fit.rmse"]["new"]
    assert figures["check.blocked_cv.oos.r2"]["old"] != figures["check.blocked_cv.oos.r2"]["new"]
