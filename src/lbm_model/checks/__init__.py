"""Methodology checks: one module per check, one result shape for all, one registry (docs/checks.md).

Every check module declares ``CHECK = Check(name, run, config_key, ConfigClass, needs=...)``
with ``run: CheckContext -> CheckResult``; checks/registry.py lists them. The lifecycle that
runs them (gate, audit, recheck) is lbm_model/audit.py.
"""

from lbm_model.checks.config import ChecksConfig, checks_config, load_checks_config
from lbm_model.checks.context import CheckContext
from lbm_model.checks.registry import CHECK_NAMES, CHECKS
from lbm_model.checks.result import FAIL, NOT_APPLICABLE, PASS, WARN, Check, CheckResult
from lbm_model.checks.stigma import StigmatisationError, stigma_gate

__all__ = ["CHECKS", "CHECK_NAMES", "FAIL", "NOT_APPLICABLE", "PASS", "WARN", "Check", "CheckContext", "CheckResult",
           "ChecksConfig", "StigmatisationError", "checks_config", "load_checks_config", "stigma_gate"]
