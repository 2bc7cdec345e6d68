"""Self-contained HTML reports a reviewer reads without running code (report.html beside model.json)."""

from lbm_model.report.run import REPORT_FILE, render_run_report, write_run_report

__all__ = ["REPORT_FILE", "render_run_report", "write_run_report"]
