"""The audit report of one frozen model: ``MODEL_DIR/report.html``, one self-contained page.

It reads only what a reviewer is given: model.json (verified on load), audit.json (checked against
the hash model.json records) and the evidence files (checked against the hashes audit.json records).
Figures are embedded as data URIs and the page loads nothing from elsewhere, so it works offline and
can be mailed. Evidence tables are shown as the checks wrote them (already suppressed below the
minimum counts); no respondent-level data exists in any of these files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lbm_model.audit import AUDIT_FILE
from lbm_model.dimensions import DIMENSIONS
from lbm_model.frozen import read_frozen_model
from lbm_model.inputs import file_sha256

REPORT_FILE = "report.html"
TABLE_ROWS = 15


@dataclass(frozen=True)
class EvidenceItem:
    """One evidence file as the page shows it: a figure (data URI) or the head of a table (HTML)."""

    path: str
    kind: str                 # "figure" | "table" | "missing" | "changed"
    figure: str | None = None
    table_html: str | None = None
    n_rows: int | None = None


def _table_html(frame: pd.DataFrame) -> str:
    return frame.head(TABLE_ROWS).to_html(index=False, border=0, classes="table", float_format=lambda v: f"{v:.4g}",
                                          na_rep="suppressed")


def evidence_item(model_dir: Path, rel: str, recorded_sha256: str | None) -> EvidenceItem:
    """Read one evidence file, refusing to show one whose bytes are not the ones audit.json records."""
    from lbm_model.report.figures import file_data_uri

    path = model_dir / rel
    if not path.is_file():
        return EvidenceItem(rel, "missing")
    if recorded_sha256 is not None and file_sha256(path) != recorded_sha256:
        return EvidenceItem(rel, "changed")
    if path.suffix == ".png":
        return EvidenceItem(rel, "figure", figure=file_data_uri(path))
    if path.suffix == ".csv":
        frame = pd.read_csv(path)
        return EvidenceItem(rel, "table", table_html=_table_html(frame), n_rows=len(frame))
    return EvidenceItem(rel, "missing")


def _audit(model_dir: Path, content: dict) -> tuple[dict | None, str]:
    path = model_dir / AUDIT_FILE
    if not path.is_file():
        return None, "no audit.json beside model.json: this model records no methodology checks"
    recorded = (content.get("audit") or {}).get("sha256")
    actual = file_sha256(path)
    if recorded is None:
        return json.loads(path.read_text(encoding="utf-8")), "model.json records no audit: audit.json is unverified"
    if recorded != actual:
        return json.loads(path.read_text(encoding="utf-8")), (f"audit.json differs from the one model.json records "
                                                              f"(sha256 {actual[:12]} vs {recorded[:12]})")
    return json.loads(path.read_text(encoding="utf-8")), f"audit.json is the one model.json records ({actual[:12]})"


def combined_components(content: dict) -> dict | None:
    """For a combined model: the rule and each component's part per dimension (HTML table), else None."""
    extras = content["estimator"].get("extras") or {}
    if "contributions_by_dimension" not in extras:
        return None
    frame = pd.DataFrame([{"dimension": key, "judgement model part": parts["judgement"],
                           "behaviour model part": parts["behaviour"], "sum |judgement part|": parts["judgement_abs"],
                           "sum |behaviour part|": parts["behaviour_abs"]}
                          for key, parts in extras["contributions_by_dimension"].items()])
    return {"rule": content["estimator"]["scale_rule"], "judgement_family": extras["judgement"]["family"],
            "table_html": frame.to_html(index=False, border=0, classes="table", float_format=lambda v: f"{v:.4g}")}


VALIDATION_DIR = "validation"      # lbm validate MODEL ... --out MODEL_DIR/validation


def external_validation(model_dir: Path) -> dict | None:
    """``lbm validate``'s results when they were written beside the model (not sealed with it), else None."""
    from lbm_model.report.figures import file_data_uri

    folder = model_dir / VALIDATION_DIR
    if not (folder / "validation.json").is_file() or not (folder / "summary.csv").is_file():
        return None
    summary = pd.read_csv(folder / "summary.csv")
    shown = summary[[c for c in ("level", "year", "areas", "left_out_few_respondents", "left_out_suppressed", "r",
                                 "r_corrected", "spearman") if c in summary.columns]]
    scatter = folder / "scatter.png"
    return {"table_html": shown.to_html(index=False, border=0, classes="table", float_format=lambda v: f"{v:.3f}",
                                        na_rep="n/a"),
            "scatter": file_data_uri(scatter) if scatter.is_file() else None, "folder": f"{VALIDATION_DIR}/"}


def run_report_context(model_dir: Path) -> dict:
    """Everything the run template shows, from the model directory's files."""
    from markdown_it import MarkdownIt

    from lbm_model.release.card import model_card
    from lbm_model.report.figures import class_shares_bars, data_uri, weights_forest

    document = read_frozen_model(model_dir)
    content = document["content"]
    audit, audit_status = _audit(model_dir, content)
    recorded = (audit or {}).get("evidence_sha256") or {}
    checks = []
    for check in (audit or {}).get("checks", []):
        items = [evidence_item(model_dir, rel, recorded.get(rel)) for rel in check.get("evidence", [])]
        metrics = {k: v for k, v in sorted(check.get("metrics", {}).items())}
        checks.append({"name": check["name"], "verdict": check["verdict"], "summary": check.get("summary", ""),
                       "metrics": metrics, "evidence": items})
    classes = content["classes"]
    dimensions = content.get("dimensions") or DIMENSIONS
    provenance = document.get("provenance") or {}
    return {
        "title": f"Audit report: {content['model_version']}",
        "model_version": content["model_version"],
        "content_sha256": document["content_sha256"],
        "verdict": (audit or {}).get("verdict", "not run"),
        "audit_status": audit_status,
        "card_html": MarkdownIt("commonmark", {"html": False}).enable("table").render(model_card(document, audit)),
        "forest": data_uri(weights_forest(content["indicators"], dimensions)),
        "shares": data_uri(class_shares_bars(list(classes["labels"]), list(classes["base_year_household_shares"]),
                                             classes["rule"]["base_year"])),
        "checks": checks,
        "components": combined_components(content),
        "validation": external_validation(model_dir),
        "checks_config": json.dumps((audit or {}).get("config", {}), indent=2, sort_keys=True),
        "commands": [c for c in (provenance.get("command"),) if c] + [f"lbm verify {model_dir}",
                                                                        f"lbm check {model_dir}",
                                                                        f"lbm report {model_dir}"],
        "created_at": provenance.get("created_at", "n/a"),
    }


def render_run_report(model_dir: str | Path) -> str:
    """The report page of a frozen model directory, as HTML text."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    environment = Environment(loader=PackageLoader("lbm_model.report", "templates"),
                              autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    return environment.get_template("run.html.j2").render(**run_report_context(Path(model_dir)))


def write_run_report(model_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the report (default ``MODEL_DIR/report.html``) in one atomic rename; returns its path."""
    from lbm_model.atomic import write_bytes_atomic

    target = Path(out) if out is not None else Path(model_dir) / REPORT_FILE
    return write_bytes_atomic(target, render_run_report(model_dir).encode("utf-8"))
