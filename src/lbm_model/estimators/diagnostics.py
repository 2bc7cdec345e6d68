"""What a family reports about itself beyond weights and standard errors.

A family whose extras have ``diagnostics(min_respondents) -> FamilyDiagnostics`` (multilevel
area effects, elastic-net selection frequencies, spatial LM tests) gets them written as
evidence by the ``family_diagnostics`` check; other families get "not applicable" there.
Tables are area- or model-level only; area rows below the disclosure minimum are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class FamilyDiagnostics:
    """Evidence tables (file name -> table), flat metrics, a one-line summary and JSON-ready details."""

    tables: dict[str, pd.DataFrame]
    metrics: dict[str, float]
    summary: str
    details: dict = field(default_factory=dict)
    warn: bool = False            # the family flags something a reviewer should look at
