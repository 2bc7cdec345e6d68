"""Methodology checks that gate a model: one module per check, one result shape for all (docs/checks.md).

    from lbm_model.checks import CheckContext, load_checks_config, run_checks, stigma_gate

Every check is a function ``CheckContext -> CheckResult`` (spatial, proxy, collinearity,
signs, crossval, bootstrap); the stigmatisation gate judges the model terms before any fit.
"""

from lbm_model.checks.config import CHECK_NAMES, ChecksConfig, checks_config, load_checks_config
from lbm_model.checks.context import CheckContext
from lbm_model.checks.result import FAIL, PASS, WARN, CheckResult
from lbm_model.checks.runner import CHECKS, Audit, run_checks
from lbm_model.checks.stigma import StigmatisationError, enforce_stigma_gate, stigma_gate

__all__ = ["CHECKS", "CHECK_NAMES", "FAIL", "PASS", "WARN", "Audit", "CheckContext", "CheckResult", "ChecksConfig",
           "StigmatisationError", "checks_config", "enforce_stigma_gate", "load_checks_config", "run_checks",
           "stigma_gate"]
