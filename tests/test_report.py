"""The audit report (report.html): self-contained, verified against the audit's hashes, free of respondent
data, and rendered by a real browser (headless Chromium) without errors, with every figure loaded."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

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


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: .ci/run installs it with apt (apt-get install chromium)")
        pytest.skip("Chromium is not installed here (apt-get install chromium); CI installs it")
    return found


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
    from playwright.sync_api import sync_playwright

    executable = chromium()
    errors, external = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 1600})
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        def route(request_route):
            url = request_route.request.url
            if url.startswith(("file:", "data:")):
                request_route.continue_()
            else:
                external.append(url)
                request_route.abort()

        page.route("**/*", route)
        page.goto((export / "report.html").as_uri())
        page.wait_for_load_state("load")
        loaded = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
        browser.close()
    assert errors == [] and external == []
    assert loaded and all(loaded), loaded
    from PIL import Image

    pixels = Image.open(tmp_path / "report.png").convert("L")
    histogram = pixels.histogram()
    assert max(histogram) < 0.97 * sum(histogram)       # not a blank page: text and colour on it
