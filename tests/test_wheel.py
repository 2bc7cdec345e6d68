"""A wheel of the project, installed into a fresh virtual environment, runs lbm-experiment.

The configuration ships inside the package (lbm_model/conf), so an installed wheel needs no
checkout: the run happens in an empty directory, away from the source tree.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def uv() -> list[str]:
    """The uv the Makefile installs (on PATH, or as a module of the system Python)."""
    found = shutil.which("uv")
    return [found] if found else ["python3", "-m", "uv"]


def run(argv: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=1200, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, argv))}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with the locked dependencies and the project's wheel (no source tree on its path)."""
    tmp = tmp_path_factory.mktemp("wheel")
    run([*uv(), "build", "--wheel", "--out-dir", str(tmp / "dist"), str(ROOT)], cwd=ROOT)
    wheel = next((tmp / "dist").glob("lbm_model-*.whl"))
    requirements = run([*uv(), "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes"], cwd=ROOT).stdout
    (tmp / "requirements.txt").write_text(requirements)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    run([*uv(), "venv", "--python", python, str(tmp / "venv")], cwd=tmp)
    run([*uv(), "pip", "install", "--python", str(tmp / "venv" / "bin" / "python"), "-r", str(tmp / "requirements.txt"),
         str(wheel)], cwd=tmp)
    return tmp / "venv"


def test_the_wheel_carries_the_configuration(installed):
    found = run([str(installed / "bin" / "python"), "-c",
                 "import lbm_model.config as c, lbm_model.checks.themes as t; print(c.CONF_DIR); "
                 "print(sorted(p.name for p in c.CONF_DIR.rglob('*.yaml'))); print(t.BUILTIN_THEMES.is_file())"],
                cwd=installed.parent).stdout.splitlines()
    assert "site-packages" in found[0] and str(ROOT) not in found[0]
    assert all(name in found[1] for name in ("config.yaml", "default.yaml", "fast.yaml", "ordinal_logit.yaml",
                                             "synthetic.yaml"))
    assert found[2] == "True"                               # the versioned stigmatisation word lists


def test_lbm_experiment_from_the_wheel_runs_on_the_small_world(installed, small_world, tmp_path):
    done = run([str(installed / "bin" / "lbm-experiment"), "data=files", f"data.cells={small_world}/cells.parquet",
                f"data.survey={small_world}/survey.parquet", f"data.catalog={small_world}/catalog.yaml",
                "tracking.enabled=false", "checks=fast", "checks.run=[collinearity,sign_plausibility]",
                f"export.dir={tmp_path}/export", f"hydra.run.dir={tmp_path}/runs"], cwd=tmp_path)
    assert "frozen" in done.stderr
    verified = run([str(installed / "bin" / "lbm"), "verify", str(tmp_path / "export")], cwd=tmp_path)
    assert "verified" in verified.stderr
    audit = json.loads((tmp_path / "export" / "audit.json").read_text())
    assert audit["verdicts"] == {"stigma_gate": "pass", "collinearity": "pass", "sign_plausibility": "pass"}
