"""Hard gate: nothing stigmatising may be a model term (LBM 3.0's exclusion rule).

LBM 3.0 no longer uses characteristics that may be experienced as stigmatising:
indicators referring to migration background, household composition, benefit
dependence, income, age and education (Ministerie van BZK, Leefbaarometer 3.0). The gate
runs before any fit and fails the run when a model term is flagged ``stigmatising`` in
the catalog, or when its name or description matches a theme pattern (English or
Dutch, the versioned themes file of checks/themes.py). An allow-list entry with a written
reason is the only way past a name or description match; a catalog flag cannot be allowed away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lbm_model.catalog import Catalog, Indicator
from lbm_model.checks.result import FAIL, PASS, CheckResult
from lbm_model.checks.themes import ThemeMatch, ThemeSet, indicator_matches, load_themes
from lbm_model.errors import ConfigError, LbmError

NAME = "stigma_gate"


@dataclass
class AllowEntry:
    """A name or description match let through, with the written reason recorded in the audit."""

    indicator: str
    reason: str
    themes: list[str] = field(default_factory=list)     # empty: every theme

    def __post_init__(self) -> None:
        if not str(self.reason).strip():
            raise ConfigError(f"checks.stigma.allow ({self.indicator}): an allow-list entry needs a written reason.")


@dataclass
class StigmaConfig:
    """``checks.stigma``: which themes file (None: the built-in one) and the allow-list."""

    themes_file: str | None = None
    allow: list[AllowEntry] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.theme_set()        # a missing or malformed themes file is refused with the configuration

    def theme_set(self) -> ThemeSet:
        return load_themes(self.themes_file)


class StigmatisationError(LbmError):
    """A model term is stigmatising; the run stops before fitting."""


def _allowed(match: ThemeMatch, allow: Sequence[AllowEntry]) -> AllowEntry | None:
    for entry in allow:
        if entry.indicator == match.indicator and (not entry.themes or match.theme in entry.themes):
            return entry
    return None


def _flagged(ind: Indicator, catalog: Catalog) -> bool:
    try:
        return ind.stigmatising or catalog.by_name(ind.name).stigmatising
    except KeyError:
        return ind.stigmatising


def stigma_gate(indicators: Sequence[Indicator], catalog: Catalog, config: StigmaConfig) -> CheckResult:
    """Judge every model term against the catalog flag and the theme patterns.

    Parameters
    ----------
    indicators : the model terms (after ``select_indicators``).
    catalog : the catalog they come from (its flags are authoritative).
    config : the themes file and the allow-list.

    Returns
    -------
    CheckResult
        ``fail`` naming every offending indicator and the matched theme; ``pass`` otherwise.
        ``details`` records the violations, the allowed matches with their reasons and the
        catalog indicators excluded as stigmatising.
    """
    theme_set = config.theme_set()
    violations, allowed = [], []
    for ind in indicators:
        if _flagged(ind, catalog):
            violations.append({"indicator": ind.name, "reason": "flagged stigmatising in the catalog",
                               "theme": None, "field": "catalog", "matched": "stigmatising: true"})
        for match in indicator_matches(ind.name, ind.description, theme_set.themes):
            entry = _allowed(match, config.allow)
            record = {"indicator": ind.name, "theme": match.theme, "field": match.field, "matched": match.matched}
            if entry is None:
                violations.append({**record, "reason": match.describe()})
            else:
                allowed.append({**record, "reason": entry.reason})
    names = {ind.name for ind in indicators}
    unused = [e.indicator for e in config.allow if e.indicator not in names]
    metrics = {"n_model_indicators": len(indicators), "n_violations": len(violations),
               "n_allowed_matches": len(allowed), "n_excluded_flagged": len(catalog.stigmatising_indicators)}
    details = {"violations": violations, "allowed": allowed, "unused_allow_entries": unused,
               "excluded_stigmatising": [i.name for i in catalog.stigmatising_indicators],
               "themes": {k: t.label for k, t in theme_set.themes.items()}, "themes_file": theme_set.describe()}
    if violations:
        listing = "; ".join(f"indicator '{v['indicator']}': {v['reason']}" for v in violations)
        summary = (f"stigmatisation gate failed for {len({v['indicator'] for v in violations})} model indicator(s): "
                   f"{listing}. Remove them from the model (indicators.exclude=[...]) or, only where a name match "
                   "is wrong, add an allow-list entry with a written reason (checks.stigma.allow in lbm_model/conf/checks/).")
        return CheckResult(NAME, FAIL, metrics, details, summary=summary)
    summary = (f"{len(indicators)} model indicators, none flagged or matching a stigmatising theme"
               + (f"; {len(allowed)} match(es) allowed with a recorded reason" if allowed else "")
               + f"; {len(catalog.stigmatising_indicators)} catalog indicator(s) excluded as stigmatising.")
    return CheckResult(NAME, PASS, metrics, details, summary=summary)
