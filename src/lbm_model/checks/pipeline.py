"""How the checks plug into a recalibration run: gate before the fit, audit before freezing.

Order in ``lbm-experiment``: stigmatisation gate (fails before any fit) -> fit -> class
thresholds -> every configured check, evidence into ``export_dir/evidence/`` and
``audit.json`` beside model.json -> the frozen content records the audit's sha256 -> model.json
-> MLflow logging -> verdict table. A ``fail`` verdict of a check named in
``checks.fail_on`` (or any, with ``[all]``) raises ChecksFailedError after everything is
written, so the command exits non-zero with the evidence in place.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from lbm_model.catalog import Indicator
from lbm_model.checks.config import ChecksConfig, checks_config
from lbm_model.checks.context import CheckContext
from lbm_model.checks.evidence import EVIDENCE_DIR
from lbm_model.checks.report import print_verdicts
from lbm_model.checks.result import FAIL, CheckResult
from lbm_model.checks.runner import Audit, log_audit, run_checks
from lbm_model.checks.stigma import enforce_stigma_gate
from lbm_model.errors import LbmError
from lbm_model.inputs import Inputs


class ChecksFailedError(LbmError):
    """A check listed in ``checks.fail_on`` returned ``fail`` (the evidence is written)."""


class RunChecks:
    """The checks of one recalibration run (create it right after selecting the indicators)."""

    def __init__(self, config: ChecksConfig | Mapping, inputs: Inputs, indicators: Sequence[Indicator],
                 export_dir: str | Path, model_version: str | None = None, console=None) -> None:
        self.config = config if isinstance(config, ChecksConfig) else checks_config(config)
        self.inputs, self.export_dir, self.model_version, self.console = inputs, Path(export_dir), model_version, console
        self.gate: CheckResult = enforce_stigma_gate(indicators, inputs.catalog, self.config.stigma)
        self.audit: Audit | None = None
        self._say("gate", f"stigmatisation: {self.gate.summary}")

    def _say(self, label: str, text: str) -> None:
        if self.console is not None:
            from rich.markup import escape

            self.console.print(f"[bold]{label}[/] {escape(text)}", highlight=False, soft_wrap=True)

    def freeze_hook(self, fitted, base_year: int):
        """A function thresholds -> the frozen model's audit record (runs every check)."""
        def hook(thresholds: np.ndarray) -> dict:
            shutil.rmtree(self.export_dir / EVIDENCE_DIR, ignore_errors=True)
            ctx = CheckContext(self.inputs, fitted, np.asarray(thresholds, float), base_year, self.config, self.export_dir)
            self.audit = run_checks(ctx, self.gate, model_version=self.model_version,
                                    progress=lambda name: self._say("check", name))
            return self.audit.reference()
        return hook

    def log(self) -> None:
        """Log metrics, verdicts, evidence and audit.json to the active MLflow run."""
        if self.audit is not None:
            log_audit(self.audit, self.export_dir)

    def report(self) -> None:
        """Print the verdict table and refuse to finish quietly when a fatal check failed."""
        if self.audit is None:
            return
        if self.console is not None:
            print_verdicts(self.console, self.audit.results)
            self._say("audit", f"{self.audit.path} (sha256 {self.audit.sha256[:12]}), evidence in "
                               f"{self.export_dir / EVIDENCE_DIR}")
        fatal = [r.name for r in self.audit.results if r.verdict == FAIL
                 and ("all" in self.config.fail_on or r.name in self.config.fail_on)]
        if fatal:
            raise ChecksFailedError(f"check(s) {', '.join(fatal)} failed and are listed in checks.fail_on; the model, "
                                    f"audit.json and evidence are written to {self.export_dir} for review.")
