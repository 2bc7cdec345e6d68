"""The audit report (report.html): self-contained, verified against the audit's hashes, free of respondent
data, and rendered by a real browser (headless Chromium) without errors, with every figure loaded."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from browser import render
from conftest import BIN, run_lbm_experiment

pytestmark = pytest.mark.slow

CHECKS = ("checks.run=[residual_autocorrelation,proxy_audit,blocked_cv]", "checks.spatial.levels=[buurt]",
          "checks.spatial.weights=[knn]")


@pytest.fixture(scope="module")
def export(small_world, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    done = run_lbm_experiment(tmp, small_world, "model=ols", f"export.dir={tmp}/export", *CHECKS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"report {tmp}/export/report.html" in " ".join(done.stderr.split())
    return tmp / "export"


def test_the_report_is_self_contained_and_carries_no_respondent_data(export, small_world):
    html = (export / "report.html").read_text(encoding="utf-8")
    sources = re.findall(r'(?:src|href)="([^"#][^"]*)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources), \
        [s[:40] for s in sources if not s.startswith("data:")]
    assert not re.search(r"https?://", html)
    images = re.findall(r"<img ", html)
    assert len(images) >= 5           # weights, classes, Moran scatter, LISA map, proxy R-squared
    for check in ("residual_autocorrelation", "proxy_audit", "blocked_cv"):
        assert f'id="check-{check}"' in html
    ids = pd.read_parquet(small_world / "survey.parquet", columns=["respondent_id"])["respondent_id"]
    assert not any(str(i) in html for i in ids.sample(2000, random_state=0))
    assert "audit.json is the one model.json records" in html


def test_a_changed_evidence_file_is_not_shown(export, tmp_path):
    copy = tmp_path / "export"
    shutil.copytree(export, copy)
    figure = next((copy / "evidence").rglob("*.png"))
    figure.write_bytes(figure.read_bytes()[:-10] + b"0123456789")
    done = subprocess.run([str(BIN / "lbm"), "report", str(copy), "--out", str(tmp_path / "r.html")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    rel = figure.relative_to(copy).as_posix()
    assert f"{rel}: differs from the hash audit.json records; not shown" in html


def test_the_report_renders_in_headless_chromium_offline(export, tmp_path):
    page = render(export / "report.html", tmp_path / "report.png")
    assert page.errors == [] and page.external_requests == []
    assert page.images_loaded and all(page.images_loaded), page.images_loaded
    assert not page.blank()
