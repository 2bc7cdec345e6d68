"""Posterior convergence of a sampled family: R-hat, effective sample size and divergences.

Fails when the largest rank-normalised split R-hat (Vehtari et al. 2021, as ArviZ computes it)
exceeds ``max_rhat`` or the sampler reports any divergent transition; warns when the smallest
bulk or tail effective sample size is below ``min_ess``. Families without posterior draws get
"not applicable" (``needs={"posterior"}``), never a NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

from lbm_model.checks.context import CheckContext
from lbm_model.checks.result import FAIL, PASS, WARN, Check, CheckResult
from lbm_model.errors import ConfigError

NAME = "posterior_convergence"


@dataclass
class PosteriorConfig:
    """``checks.posterior_convergence``."""

    max_rhat: float = 1.01         # fail above this (Vehtari et al. 2021)
    max_divergences: int = 0       # fail above this many divergent transitions
    min_ess: float = 400.0         # warn below this bulk or tail effective sample size

    def __post_init__(self) -> None:
        if not self.max_rhat > 1 or self.max_divergences < 0 or not self.min_ess > 0:
            raise ConfigError(f"config: checks.posterior_convergence: max_rhat={self.max_rhat} (expected > 1), "
                              f"max_divergences={self.max_divergences} (expected >= 0), min_ess={self.min_ess} "
                              "(expected > 0) is not valid.")


def posterior_convergence(ctx: CheckContext) -> CheckResult:
    """Grade the sampler's convergence figures recorded in the fit."""
    cfg: PosteriorConfig = ctx.config.posterior_convergence
    figures = dict(ctx.results.extras.convergence)
    rhat, divergences = figures["max_rhat"], int(figures["divergences"])
    ess = min(figures["min_ess_bulk"], figures["min_ess_tail"])
    problems = [f"R-hat {rhat:.4f} > {cfg.max_rhat}" for _ in [0] if rhat > cfg.max_rhat]
    problems += [f"{divergences} divergent transitions" for _ in [0] if divergences > cfg.max_divergences]
    verdict = FAIL if problems else (WARN if ess < cfg.min_ess else PASS)
    summary = (f"max R-hat {rhat:.4f}, min ESS {ess:.0f} (bulk/tail), {divergences} divergences"
               + (f": {'; '.join(problems)}" if problems else "")
               + (f"; ESS below {cfg.min_ess:.0f}" if verdict == WARN else ""))
    return CheckResult(NAME, verdict, figures, {"family": ctx.results.family, "max_rhat_allowed": cfg.max_rhat,
                                                "max_divergences_allowed": cfg.max_divergences,
                                                "min_ess": cfg.min_ess}, summary=summary)


CHECK = Check(NAME, posterior_convergence, NAME, PosteriorConfig, needs=frozenset({"posterior"}))
