"""Checks inside lbm-experiment and `lbm check`: gate before fit, audit.json, model.json, MLflow, determinism."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import subprocess

import pytest
import yaml

from conftest import BIN, run_lbm_experiment
from lbm_model.frozen import read_frozen_model

pytestmark = pytest.mark.slow  # lbm-experiment and lbm check as subprocesses

QUICK = ("checks.run=[residual_autocorrelation,proxy_audit,collinearity,sign_plausibility]",
         "checks.spatial.lisa=false")  # LISA (numba compiles ~20 s per process) is covered in test_checks_spatial


experiment = run_lbm_experiment


@pytest.fixture(scope="module")
def run(small_world, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("checks-experiment")
    result = experiment(tmp, small_world, "model=ols", f"export.dir={tmp}/export", *QUICK)
    assert result.returncode == 0, result.stderr
    return tmp, result


def test_model_json_records_the_audit_sha256(run):
    tmp, _ = run
    content = read_frozen_model(tmp / "export")["content"]
    data = (tmp / "export" / "audit.json").read_bytes()
    assert content["audit"]["file"] == "audit.json"
    assert content["audit"]["sha256"] == hashlib.sha256(data).hexdigest()


def test_audit_json_holds_every_check_with_relative_evidence(run):
    tmp, _ = run
    audit = json.loads((tmp / "export" / "audit.json").read_text())
    names = [c["name"] for c in audit["checks"]]
    assert names == ["stigma_gate", "residual_autocorrelation", "proxy_audit", "collinearity", "sign_plausibility"]
    proxy = next(c for c in audit["checks"] if c["name"] == "proxy_audit")
    assert len(proxy["details"]["indicator_r2"]) >= 90 and proxy["details"]["likely_proxies"]
    for rel, digest in audit["evidence_sha256"].items():
        assert rel.startswith("evidence/") and not rel.startswith("/")
        assert hashlib.sha256((tmp / "export" / rel).read_bytes()).hexdigest() == digest
    assert audit["config"]["stigma"] == {"themes_file": None, "allow": []}     # the built-in, versioned word lists
    gate = next(c for c in audit["checks"] if c["name"] == "stigma_gate")
    assert gate["details"]["themes_file"]["source"] == "builtin" and gate["details"]["themes_file"]["version"] == 1
    assert "created" not in json.dumps(audit) and "seconds" not in json.dumps(audit)


def test_verdict_table_is_printed(run):
    _, result = run
    assert "Methodology checks" in result.stderr and "proxy_audit" in result.stderr
    lines = result.stderr.splitlines()
    gate = next(i for i, line in enumerate(lines) if line.startswith("gate "))
    fit = next(i for i, line in enumerate(lines) if line.startswith("fit "))
    assert gate < fit


def test_mlflow_holds_verdicts_metrics_and_evidence(run):
    tmp, _ = run
    run_id = read_frozen_model(tmp / "export")["provenance"]["mlflow_run_id"]
    with sqlite3.connect(tmp / "mlruns.db") as db:
        tags = dict(db.execute("select key, value from tags where run_uuid=?", (run_id,)).fetchall())
        metrics = {k for (k,) in db.execute("select key from metrics where run_uuid=?", (run_id,))}
    assert tags["check.proxy_audit.verdict"] == "warn" and tags["check.stigma_gate.verdict"] == "pass"
    assert {"check.proxy_audit.n_likely_proxies", "check.residual_autocorrelation.buurt.knn.moran_i",
            "check.collinearity.seconds"} <= metrics
    artifacts = {p.relative_to(p.parents[3]).as_posix() for p in (tmp / "mlartifacts").rglob("*") if p.is_file()
                 and "audit" in p.parts}
    assert any(a.endswith("audit/audit.json") for a in artifacts)
    assert any(a.endswith("residual_autocorrelation/moran_residuals.csv") for a in artifacts)
    assert any(a.endswith("proxy_audit/indicator_r2.png") for a in artifacts)


def test_no_respondent_level_data_leaves_the_run(run, small_inputs):
    tmp, _ = run
    ids = small_inputs.survey["respondent_id"].astype(str).tolist()
    sample = ids[:50] + ids[-50:]
    texts = [p.read_text(errors="ignore") for p in (tmp / "export").rglob("*") if p.suffix in (".csv", ".json")]
    texts += [p.read_text(errors="ignore") for p in (tmp / "mlartifacts").rglob("*") if p.suffix in (".csv", ".json")]
    assert texts and not any(rid in text for text in texts for rid in sample)


def test_lbm_check_reproduces_the_recorded_audit(run):
    tmp, _ = run
    result = subprocess.run([str(BIN / "lbm"), "check", str(tmp / "export")], capture_output=True, text=True, cwd=tmp)
    assert result.returncode == 0, result.stderr
    assert "Checks of" in result.stdout and "residual_autocorrelation" in result.stdout
    assert "reproduces the frozen model's audit" in result.stderr
    recorded = read_frozen_model(tmp / "export")["content"]["audit"]["sha256"]
    assert hashlib.sha256((tmp / "export" / "recheck" / "audit.json").read_bytes()).hexdigest() == recorded


def test_a_slipped_in_stigmatising_indicator_stops_the_run_before_fitting(small_world, tmp_path):
    catalog = yaml.safe_load((small_world / "catalog.yaml").read_text())
    for entry in catalog["indicators"]:
        if entry["name"] == "income_mean":
            entry["stigmatising"] = False        # the flag is forgotten; the name still gives it away
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    result = experiment(tmp_path, small_world, f"export.dir={tmp_path}/export", catalog=path)
    assert result.returncode == 2
    assert "income_mean" in result.stderr and "income" in result.stderr and "Traceback" not in result.stderr
    assert not any(line.startswith("fit ") for line in result.stderr.splitlines())
    assert not (tmp_path / "export" / "model.json").exists()


def test_fail_on_makes_a_failed_check_fatal_after_writing_everything(small_world, tmp_path):
    result = experiment(tmp_path, small_world, "model=ols", f"export.dir={tmp_path}/export", "checks.run=[collinearity]",
                        "checks.collinearity.condition_fail=1.5", "checks.fail_on=[collinearity]")
    assert result.returncode == 2 and "collinearity" in result.stderr and "fail_on" in result.stderr
    assert (tmp_path / "export" / "model.json").is_file() and (tmp_path / "export" / "audit.json").is_file()
    recorded = json.loads((tmp_path / "export" / "audit.json").read_text())
    assert recorded["verdicts"]["collinearity"] == "fail"


def audit_of(ctx, config, export_dir):
    """The audit of the context's model with ``config``, committed into ``export_dir``."""
    from lbm_model.audit import run_audit

    audit = run_audit(ctx.inputs, ctx.fitted, ctx.thresholds, ctx.base_year, config, export_dir)
    audit.discard(audit.commit(export_dir))
    return audit


def test_audit_is_deterministic(small_check_context, tmp_path):
    base = small_check_context.config
    config = dataclasses.replace(base, run=["residual_autocorrelation", "collinearity"],
                                 spatial=dataclasses.replace(base.spatial, lisa=False))
    digests = [audit_of(small_check_context, config, tmp_path / name).sha256 for name in ("a", "b")]
    assert digests[0] == digests[1]
    assert hashlib.sha256((tmp_path / "a" / "audit.json").read_bytes()).hexdigest() == digests[0]


def test_lbm_check_accepts_an_mlflow_run_id(run):
    tmp, _ = run
    run_id = read_frozen_model(tmp / "export")["provenance"]["mlflow_run_id"]
    config = tmp / "only-collinearity.yaml"
    raw = json.loads((tmp / "export" / "audit.json").read_text())["config"]
    config.write_text(yaml.safe_dump({**raw, "run": ["collinearity"]}))
    result = subprocess.run([str(BIN / "lbm"), "check", run_id, "--tracking-uri", f"sqlite:///{tmp}/mlruns.db",
                             "--checks-config", str(config), "--out", str(tmp / "by-run-id")],
                            capture_output=True, text=True, cwd=tmp)
    assert result.returncode == 0, result.stderr
    audit = json.loads((tmp / "by-run-id" / "audit.json").read_text())
    assert [c["name"] for c in audit["checks"]] == ["stigma_gate", "collinearity"]


def test_lbm_check_refuses_other_data(run, tmp_path):
    tmp, _ = run
    other = tmp_path / "survey.parquet"
    import pandas as pd

    survey = pd.read_parquet(read_frozen_model(tmp / "export")["provenance"]["input_paths"]["survey"])
    survey.iloc[:-1].to_parquet(other)
    result = subprocess.run([str(BIN / "lbm"), "check", str(tmp / "export"), "--survey", str(other)],
                            capture_output=True, text=True, cwd=tmp)
    assert result.returncode == 2 and "sha256 differs" in result.stderr and "Traceback" not in result.stderr


def test_a_check_that_cannot_run_on_the_data_is_recorded_as_a_fail(small_check_context, tmp_path, monkeypatch):
    import numpy as np

    from lbm_model.checks import registry

    def singular(ctx):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setitem(registry.CHECKS, "collinearity", dataclasses.replace(registry.CHECKS["collinearity"], run=singular))
    config = dataclasses.replace(small_check_context.config, run=["collinearity"])
    audit = audit_of(small_check_context, config, tmp_path)
    assert audit.verdict == "fail" and "Singular matrix" in audit.results[0].summary
    assert json.loads((tmp_path / "audit.json").read_text())["verdicts"] == {"collinearity": "fail"}


def test_lbm_check_reads_the_projects_own_checks_options(run, tmp_path):
    """`--checks-config fast` as the README shows it; a file with a defaults list naming `fast` and
    limiting the run composes the same way (composition itself: tests/test_checks_result.py)."""
    tmp, _ = run
    mine = tmp_path / "mine.yaml"
    mine.write_text("defaults:\n  - fast\n  - _self_\nrun: [collinearity]\n")
    for source, out in (("fast", None), (str(mine), tmp_path / "recheck-mine")):
        if out is None:      # the option name: refuse early (--out is the model's own directory) but after parsing it
            result = subprocess.run([str(BIN / "lbm"), "check", str(tmp / "export"), "--checks-config", source,
                                     "--out", str(tmp / "export")], capture_output=True, text=True, cwd=tmp)
            assert result.returncode == 2 and "is the model's own directory" in result.stderr, result.stderr
            continue
        result = subprocess.run([str(BIN / "lbm"), "check", str(tmp / "export"), "--checks-config", source,
                                 "--out", str(out)], capture_output=True, text=True, cwd=tmp)
        assert result.returncode == 0, result.stderr
        config = json.loads((out / "audit.json").read_text())["config"]
        assert config["spatial"]["permutations"] == 99 and config["cluster_bootstrap"]["replicates"] == 9
        assert config["run"] == ["collinearity"]


def test_a_run_killed_during_the_checks_leaves_the_previous_model_and_evidence(run, small_world, tmp_path):
    """The audit is staged: evidence and audit.json replace the previous ones only together with model.json."""
    import os
    import shutil
    import signal

    tmp, _ = run
    export = tmp_path / "export"
    shutil.copytree(tmp / "export", export)
    before = {p.relative_to(export): p.read_bytes() for p in export.rglob("*") if p.is_file()}
    args = [str(BIN / "lbm-experiment"), "data=files", f"data.cells={small_world}/cells.parquet",
            f"data.survey={small_world}/survey.parquet", f"data.catalog={small_world}/catalog.yaml",
            "tracking.enabled=false", f"hydra.run.dir={tmp_path}/runs", "checks=fast", "model=ols",
            "checks.run=[residual_autocorrelation,collinearity,sign_plausibility]", "checks.spatial.lisa=false",
            f"export.dir={export}"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=tmp_path)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("check sign_plausibility"):      # evidence of two checks is staged by now
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=600)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)
    after = {p.relative_to(export): p.read_bytes() for p in export.rglob("*") if p.is_file() and ".tmp-" not in str(p)}
    assert after == before
    assert any(".evidence.tmp-" in p.name for p in export.iterdir())        # the killed run's staging, left behind


def test_stale_staging_of_a_killed_run_is_removed_by_the_next_audit(small_check_context, tmp_path):
    stale = tmp_path / ".evidence.tmp-999999999-deadbeef"
    (stale / "evidence").mkdir(parents=True)
    config = dataclasses.replace(small_check_context.config, run=["collinearity"])
    audit_of(small_check_context, config, tmp_path)
    assert not stale.exists() and (tmp_path / "audit.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.json", "evidence"]


def test_a_check_that_raises_a_user_error_is_recorded_and_the_others_still_run(small_check_context, tmp_path,
                                                                                monkeypatch):
    from lbm_model.checks import registry
    from lbm_model.errors import LbmError

    def no_convergence(ctx):
        raise LbmError("the ordinal_logit fit did not converge (200 iterations)")

    monkeypatch.setitem(registry.CHECKS, "proxy_audit", dataclasses.replace(registry.CHECKS["proxy_audit"], run=no_convergence))
    config = dataclasses.replace(small_check_context.config, run=["proxy_audit", "collinearity"])
    audit = audit_of(small_check_context, config, tmp_path)
    assert [(r.name, r.verdict) for r in audit.results] == [("proxy_audit", "fail"), ("collinearity", "pass")]
    assert "did not converge" in audit.results[0].summary


def test_lbm_check_refuses_to_overwrite_the_models_own_audit(run):
    tmp, _ = run
    before = (tmp / "export" / "audit.json").read_bytes()
    result = subprocess.run([str(BIN / "lbm"), "check", str(tmp / "export"), "--out", str(tmp / "export")],
                            capture_output=True, text=True, cwd=tmp)
    assert result.returncode == 2 and "is the model's own directory" in result.stderr and "Traceback" not in result.stderr
    assert (tmp / "export" / "audit.json").read_bytes() == before


def test_lbm_check_refuses_an_audit_json_the_model_does_not_record(run, tmp_path):
    import shutil

    tmp, _ = run
    export = tmp_path / "export"
    shutil.copytree(tmp / "export", export)
    (export / "audit.json").write_text((export / "audit.json").read_text().replace('"seed": 0', '"seed": 1'))
    result = subprocess.run([str(BIN / "lbm"), "check", str(export)], capture_output=True, text=True, cwd=tmp)
    assert result.returncode == 2 and "not the audit this model records" in result.stderr, result.stderr
