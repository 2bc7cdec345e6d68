"""Attacks beyond the bad-input catalogue, through the real commands: a run that fails after the fit,
near-collinear indicators, names MLflow refuses as keys, an alias bomb, a lowered disclosure minimum.

The catalogue (tests/bad_input_cases.py) covers inputs refused with one message; these are the
cases whose outcome is more than a message: what is left on disk and in MLflow, which figures a
check reports, how much memory a refusal takes.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import BIN, tiny_tables, write_inputs

SLOW = pytest.mark.slow   # runs lbm-experiment or lbm score as a subprocess (~10-60 s)


def experiment(tmp: Path, paths: dict, *overrides: str, export: str = "export") -> subprocess.CompletedProcess:
    args = [str(BIN / "lbm-experiment"), "data=files", f"data.cells={paths['cells']}", f"data.survey={paths['survey']}",
            f"data.catalog={paths['catalog']}", f"export.dir={tmp / export}", f"hydra.run.dir={tmp / 'runs'}",
            "tracking.enabled=false", "checks=fast", *overrides]
    return subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=tmp)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def tracked(tmp: Path) -> tuple[str, ...]:
    return ("tracking.enabled=true", f"tracking.uri=sqlite:///{tmp / 'mlflow.db'}",
            f"tracking.artifact_dir={tmp / 'mlartifacts'}")


def runs(tmp: Path) -> list[tuple[str, str | None]]:
    """(status, error tag) of every MLflow run in the store, oldest first."""
    with sqlite3.connect(tmp / "mlflow.db") as db:
        return db.execute("select r.status, t.value from runs r left join tags t on t.run_uuid = r.run_uuid "
                          "and t.key = 'error' order by r.start_time").fetchall()


@SLOW
def test_a_run_whose_logging_fails_leaves_the_previous_model_audit_and_evidence(tmp_path):
    """The second run fits and audits, then MLflow cannot store its artifacts: it is FAILED with the error,
    exit 2 without a traceback, and export.dir holds the first run's files byte-for-byte."""
    cells, survey, catalog = tiny_tables()
    paths = write_inputs(tmp_path / "in", cells, survey, catalog)
    first = experiment(tmp_path, paths, *tracked(tmp_path))
    assert first.returncode == 0, first.stderr[-3000:]
    before = snapshot(tmp_path / "export")
    assert {"model.json", "audit.json"} <= set(before) and any(k.startswith("evidence/") for k in before)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the artifact store should be")
    second = experiment(tmp_path, paths, *tracked(tmp_path)[:2], f"tracking.artifact_dir={blocker}",
                        "tracking.experiment=second", "seed=7")
    assert second.returncode == 2, second.stderr[-3000:]
    assert "Traceback" not in second.stderr
    assert "error tracking: logging the run to" in second.stderr and "nothing was published" in second.stderr
    assert snapshot(tmp_path / "export") == before
    assert not [p for p in (tmp_path / "export").iterdir() if ".tmp-" in p.name]   # the staging is cleaned up
    statuses = runs(tmp_path)
    assert [s for s, _ in statuses] == ["FINISHED", "FAILED"]
    assert statuses[1][1].startswith("LbmError: tracking: logging the run to")


@SLOW
def test_a_tracked_run_refused_after_it_started_is_failed_with_the_error(tmp_path):
    """A degenerate design is found inside the tracked run: FAILED, with the message as the 'error' tag."""
    cells, survey, catalog = tiny_tables()
    survey["response"] = 4
    paths = write_inputs(tmp_path / "in", cells, survey, catalog)
    done = experiment(tmp_path, paths, *tracked(tmp_path))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "every respondent answered 4" in done.stderr
    assert not (tmp_path / "export").exists()
    ((status, error),) = runs(tmp_path)
    assert status == "FAILED" and "every respondent answered 4" in error and "R0" not in error


@SLOW
def test_near_collinear_indicators_fail_the_collinearity_check_with_their_figures(tmp_path):
    """A near copy (r ~ 0.99999) fits, and the check fails with VIF = 1 / (1 - r^2) of that pair."""
    cells, survey, catalog = tiny_tables()
    rng = np.random.default_rng(4)
    cells["green_copy_500m"] = cells["green_share_500m"] + 1e-3 * rng.standard_normal(len(cells))
    catalog["indicators"].append({**catalog["indicators"][0], "name": "green_copy_500m"})
    paths = write_inputs(tmp_path / "in", cells, survey, catalog)
    done = experiment(tmp_path, paths, "checks.run=[collinearity]", "checks.fail_on=[collinearity]")
    assert done.returncode == 2, done.stderr[-3000:]     # checks.fail_on: an error after writing for review
    assert "check(s) collinearity failed" in done.stderr
    audit = json.loads((tmp_path / "export" / "audit.json").read_text())
    (check,) = [c for c in audit["checks"] if c["name"] == "collinearity"]
    assert check["verdict"] == "fail"
    at = survey.merge(cells, on=["cell_id", "year"])
    w = at["weight"].to_numpy()
    x = at[["green_share_500m", "green_copy_500m"]].to_numpy()
    x = x - np.average(x, axis=0, weights=w)
    cov = (x * w[:, None]).T @ x
    r = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    # the third indicator is nearly uncorrelated with both, so the pair's VIF is close to 1 / (1 - r^2)
    assert check["details"]["vif"]["green_copy_500m"] == pytest.approx(1 / (1 - r**2), rel=0.05)
    assert check["metrics"]["max_vif"] > 1e4
    assert f"max VIF {check['metrics']['max_vif']:.1f}" in check["summary"]


@SLOW
def test_indicator_names_mlflow_refuses_as_keys_still_give_a_tracked_model(tmp_path):
    """'aandeel_groen_(%)': parentheses and % are not legal MLflow key characters; no key is built from it."""
    cells, survey, catalog = tiny_tables()
    cells = cells.rename(columns={"green_share_500m": "aandeel_groen_(%)"})
    catalog["indicators"][0]["name"] = "aandeel_groen_(%)"
    paths = write_inputs(tmp_path / "in", cells, survey, catalog)
    done = experiment(tmp_path, paths, *tracked(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    assert [s for s, _ in runs(tmp_path)] == ["FINISHED"]
    model = json.loads((tmp_path / "export" / "model.json").read_text())
    assert "aandeel_groen_(%)" in [i["name"] for i in model["content"]["indicators"]]


def test_an_alias_bomb_is_refused_before_it_is_built_in_little_memory(tmp_path):
    """Nine levels of nine aliases (~1e9 nodes once expanded) from a 500-byte file: refused after counting
    the ~100 distinct nodes, with under 2 MB allocated (tracemalloc), for a catalog and for a checks configuration."""
    from lbm_model.checks.config import load_checks_config
    from lbm_model.contract import load_catalog
    from lbm_model.errors import ContractError, LbmError

    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    bomb = tmp_path / "catalog.yaml"
    bomb.write_text("\n".join(lines + ["indicators: *a8", ""]))
    assert bomb.stat().st_size < 600
    tracemalloc.start()
    with pytest.raises(ContractError, match=r"expand to 926,177,115 nodes, more than the 200,000 allowed"):
        load_catalog(bomb)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 2_000_000, peak
    checks = tmp_path / "checks.yaml"
    checks.write_text("\n".join(lines + ["seed: *a8", ""]))
    with pytest.raises(LbmError, match=r"checks\.yaml: its YAML aliases \(\*name\) expand to 926,177,115 nodes"):
        load_checks_config(checks)      # lbm check --checks-config FILE: refused before Hydra expands it


def test_a_legitimate_catalog_with_aliases_still_loads(tmp_path):
    from lbm_model.contract import load_catalog

    _, _, catalog = tiny_tables()
    text = yaml.safe_dump(catalog, sort_keys=False)
    text = text.replace("dimension: fys", "dimension: &d fys", 1)
    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    assert load_catalog(path).names[0] == "green_share_500m"


@SLOW
def test_a_lower_household_minimum_needs_and_records_a_reason(tiny_frozen, tmp_path):
    inputs, _, model = tiny_frozen
    cells = tmp_path / "cells.parquet"
    inputs.cells.to_parquet(cells, index=False)
    base = [str(BIN / "lbm"), "score", "--model", str(model.parent), "--cells", str(cells), "--aggregate", "buurt,wijk"]
    refused = subprocess.run(base + ["--out", str(tmp_path / "a.csv"), "--min-households", "5"], capture_output=True,
                             text=True, timeout=300)
    assert refused.returncode == 2 and "--unsafe-disclosure" in refused.stderr and not (tmp_path / "a.csv").exists()
    done = subprocess.run(base + ["--out", str(tmp_path / "b.csv"), "--min-households", "5", "--unsafe-disclosure",
                                  "internal check of small buurten"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "below the primer's 10" in done.stderr
    table = pd.read_csv(tmp_path / "b_buurt.csv")
    assert (table["min_households"] == 5).all() and (table["unsafe_disclosure"] == "internal check of small buurten").all()
    idle = subprocess.run(base + ["--out", str(tmp_path / "c.csv"), "--unsafe-disclosure", "no effect"],
                          capture_output=True, text=True, timeout=300)
    assert idle.returncode == 0 and "--unsafe-disclosure is ignored: --min-households 10" in idle.stderr
    assert "unsafe_disclosure" not in pd.read_csv(tmp_path / "c_buurt.csv").columns
