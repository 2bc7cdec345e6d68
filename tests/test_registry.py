"""MLflow Models and the registry: the logged pyfunc scores like lbm score; promotion gates; rollback.

Three tracked lbm-experiment runs into one SQLite store: a least-squares model (A), the same with
one indicator left out (B: close to A), and one on a world with a planted residual spatial field
(C: its residual autocorrelation check fails).
"""

from __future__ import annotations

import io
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pandas as pd
import pytest

from conftest import run_lbm_experiment
from lbm_model.frozen import read_frozen_model

pytestmark = pytest.mark.slow

CHECKS = ("checks=fast", "checks.run=[residual_autocorrelation,blocked_cv]", "checks.spatial.lisa=false",
          "checks.spatial.levels=[buurt]", "checks.spatial.weights=[knn]")


@pytest.fixture(scope="module")
def store(small_world, tmp_path_factory):
    from lbm_model.world import generate_world

    tmp = tmp_path_factory.mktemp("registry")
    field_world = tmp / "world-field"
    generate_world(field_world, scale="small", seed=0, residual_field_sd=0.5)
    specs = {"A": (small_world, ()), "B": (small_world, ("indicators.exclude=[dist_library_m]",)), "C": (field_world, ())}
    with ThreadPoolExecutor(max_workers=3) as pool:      # three processes on one SQLite store, as a team would
        done = {key: pool.submit(run_lbm_experiment, tmp, world, "model=ols", f"export.dir={tmp}/export-{key}",
                                 f"hydra.run.dir={tmp}/runs-{key}", *CHECKS, *extra)
                for key, (world, extra) in specs.items()}
    for key, future in done.items():
        assert future.result().returncode == 0, future.result().stderr[-3000:]
    return tmp, {key: read_frozen_model(tmp / f"export-{key}")["provenance"]["mlflow_run_id"] for key in specs}


def lbm(tmp, *argv: str, tracked: bool = True) -> tuple[int, str]:
    """`lbm ...` in-process (against the test store when ``tracked``); returns the exit code and stderr."""
    from lbm_model import cli

    err = io.StringIO()
    argv_before = sys.argv
    sys.argv = ["lbm", *argv, *(["--tracking-uri", f"sqlite:///{tmp}/mlruns.db"] if tracked else [])]
    try:
        with redirect_stderr(err), redirect_stdout(io.StringIO()):
            try:
                cli.main()
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
    finally:
        sys.argv = argv_before
    return code, " ".join(err.getvalue().split())


def aliases(tmp) -> dict[str, str]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp}/mlruns.db")
    return dict(client.get_registered_model("leefbaarometer").aliases)


def test_every_run_registers_a_pyfunc_that_scores_exactly_like_lbm_score(store, small_world):
    import mlflow

    from lbm_model.scoring import CELL_OUTPUT_COLUMNS, CompiledScorer, score_cells

    tmp, runs = store
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlruns.db")
    versions = mlflow.MlflowClient().search_model_versions("name='leefbaarometer'")
    assert sorted(v.run_id for v in versions) == sorted(runs.values())
    version = next(v.version for v in versions if v.run_id == runs["A"])
    model = mlflow.pyfunc.load_model(f"models:/leefbaarometer/{version}")
    cells = pd.read_parquet(small_world / "cells.parquet")
    cells = cells[cells["year"] == 2020].reset_index(drop=True)
    served = model.predict(cells)
    expected = score_cells(CompiledScorer.load(tmp / "export-A"), cells, "cells")[list(CELL_OUTPUT_COLUMNS)]
    assert list(served.columns) == list(CELL_OUTPUT_COLUMNS) and len(served) == len(cells)
    np.testing.assert_allclose(served["score"], expected["score"], rtol=0, atol=1e-12)
    assert (served["class"].to_numpy() == expected["class"].to_numpy()).all()
    assert model.metadata.signature is not None
    requirements = open(mlflow.pyfunc.get_model_dependencies(f"models:/leefbaarometer/{version}")).read().split()
    assert any(r.startswith("lbm-model==") for r in requirements) and any(r.startswith("mlflow==") for r in requirements)


def test_promotion_gates_aliases_override_and_rollback(store):
    tmp, runs = store
    code, text = lbm(tmp, "promote", runs["A"], "--alias", "champion")
    assert code == 0 and "promoted leefbaarometer version" in text and "no champion yet" in text, text
    champion_a = aliases(tmp)["champion"]

    code, text = lbm(tmp, "promote", runs["C"], "--alias", "champion")     # the planted residual field
    assert code == 1, text
    assert "residual_autocorrelation: FAILED (verdict fail; required: not fail" in text
    assert "refused" in text and aliases(tmp)["champion"] == champion_a

    code, text = lbm(tmp, "promote", runs["B"], "--alias", "champion", "--gate", "max_class_change_share=0.0")
    assert code == 1 and "class_changes: FAILED (" in text and "required: <= 0.0%" in text, text

    code, text = lbm(tmp, "promote", runs["B"], "--alias", "champion")
    assert code == 0 and "class_changes: passed" in text and "out_of_sample: passed" in text, text
    after_b = aliases(tmp)
    assert after_b["previous"] == champion_a and after_b["champion"] != champion_a

    code, text = lbm(tmp, "rollback", "--alias", "champion")
    assert code == 0 and aliases(tmp) == {"champion": champion_a, "previous": after_b["champion"]}, text

    code, text = lbm(tmp, "promote", runs["C"], "--alias", "champion", "--override", "field office asked for it")
    assert code == 0 and "by override" in text, text
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp}/mlruns.db")
    version = client.get_model_version_by_alias("leefbaarometer", "champion")
    assert version.run_id == runs["C"] and version.tags["override.reason"] == "field office asked for it"
    assert version.tags["override.user"] and version.tags["override.time"]


def test_promote_refuses_unknown_runs_and_bad_gate_settings(store):
    tmp, _ = store
    code, text = lbm(tmp, "promote", "0123456789abcdef", "--alias", "champion")
    assert code == 2 and "no version of registered model 'leefbaarometer' was logged by it" in text
    code, text = lbm(tmp, "promote", "0123456789abcdef", "--gate", "max_class_change_shar=0.1")
    assert code == 2 and "max_class_change_shar" in text and "Traceback" not in text


def test_the_champion_is_released_by_alias_and_the_bundle_verifies(store):
    import json

    tmp, runs = store
    code, text = lbm(tmp, "promote", runs["A"], "--alias", "champion", "--override", "release test: A is the champion")
    assert code == 0, text
    keys, bundle = tmp / "keys", tmp / "release-champion"
    assert lbm(tmp, "keygen", "--out", str(keys), tracked=False)[0] == 0
    code, text = lbm(tmp, "release", "--alias", "champion", "--key", str(keys / "lbm-release.key"), "--out", str(bundle))
    assert code == 0, text
    code, text = lbm(tmp, "verify", str(bundle), "--public-key", str(keys / "lbm-release.pub"), tracked=False)
    assert code == 0 and "verified release" in text, text
    released = json.loads((bundle / "release.json").read_text())["content_sha256"]
    assert released == read_frozen_model(tmp / "export-A")["content_sha256"]
    assert (bundle / "audit.json").read_bytes() == (tmp / "export-A" / "audit.json").read_bytes()
    assert sorted(p.relative_to(bundle) for p in (bundle / "evidence").rglob("*") if p.is_file()) == \
        sorted(p.relative_to(tmp / "export-A") for p in (tmp / "export-A" / "evidence").rglob("*") if p.is_file())
    code, text = lbm(tmp, "release", "--key", str(keys / "lbm-release.key"), "--out", str(tmp / "nothing"))
    assert code == 2 and "exactly one of --model MODEL_DIR or --alias ALIAS" in text
