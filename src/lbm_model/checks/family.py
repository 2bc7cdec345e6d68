"""Family diagnostics: what an estimator family reports about itself, written as evidence.

Multilevel: variance components and area effects (never scored). Elastic net: selection
frequencies and the selected set. Spatial families: Lagrange-multiplier tests. A family
without such diagnostics (least squares, ordinal logit) gets "not applicable".
"""

from __future__ import annotations

from dataclasses import dataclass

from lbm_model.checks.context import CheckContext
from lbm_model.checks.evidence import EvidenceWriter
from lbm_model.checks.result import NOT_APPLICABLE, PASS, WARN, Check, CheckResult

NAME = "family_diagnostics"


@dataclass
class FamilyDiagnosticsConfig:
    """``checks.family_diagnostics``: nothing to tune; area rows follow ``checks.disclosure``."""


def family_diagnostics(ctx: CheckContext) -> CheckResult:
    """Write the family's own evidence tables; 'not applicable' when it has none."""
    extras = ctx.results.extras
    if not hasattr(extras, "diagnostics"):
        return CheckResult(NAME, NOT_APPLICABLE, {}, {"family": ctx.results.family},
                           summary=f"not applicable: the {ctx.results.family} family reports no diagnostics of its own.")
    found = extras.diagnostics(ctx.config.disclosure.min_respondents)
    ev = EvidenceWriter(ctx.export_dir, NAME)
    for filename, table in found.tables.items():
        ev.table(table, filename)
    return CheckResult(NAME, WARN if found.warn else PASS, found.metrics, {"family": ctx.results.family, **found.details},
                       tuple(ev.files), found.summary)


CHECK = Check(NAME, family_diagnostics, NAME, FamilyDiagnosticsConfig)
