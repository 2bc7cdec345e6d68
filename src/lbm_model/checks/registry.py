"""Every check the audit can run, built from the check modules (one list, one place).

A new check is a module with a config dataclass, a function ``CheckContext -> CheckResult``
and ``CHECK = Check(name, run, config_key, ConfigClass, needs=...)``; adding it to
``REGISTERED`` below makes it configurable (``checks.<config_key>``), selectable in
``checks.run`` and part of every audit. See docs/architecture.md.
"""

from __future__ import annotations

from lbm_model.checks import bootstrap, collinearity, crossval, family, posterior, proxy, signs, spatial
from lbm_model.checks.result import Check

REGISTERED: tuple[Check, ...] = (
    spatial.RESIDUAL_CHECK,
    spatial.SCORE_CHECK,
    proxy.CHECK,
    collinearity.CHECK,
    signs.CHECK,
    crossval.CHECK,
    bootstrap.CHECK,
    family.CHECK,
    posterior.CHECK,
)

CHECKS: dict[str, Check] = {check.name: check for check in REGISTERED}
CHECK_NAMES: tuple[str, ...] = tuple(CHECKS)


def config_sections() -> dict[str, type]:
    """``checks.<key>`` -> the config dataclass of the check(s) that own it, in registry order."""
    sections: dict[str, type] = {}
    for check in REGISTERED:
        if sections.setdefault(check.config_key, check.config) is not check.config:
            raise TypeError(f"checks sharing config key {check.config_key!r} must share one config class")
    return sections
