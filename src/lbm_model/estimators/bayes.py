"""Bayesian recalibration: a hierarchical proportional-odds logit sampled with PyMC.

P(Y <= k) = F(c_k - eta),  eta = X beta + controls gamma + u_gemeente + v_buurt,
u ~ N(0, sd_gemeente^2), v ~ N(0, sd_buurt^2) (non-centred), F the logistic CDF.

Priors (printable before sampling: :class:`WeightPrior`):

- weights: ``beta_i ~ Normal(m_i, s_i)``. Without a previous model (or ``strength = 0``) this is
  weakly informative, ``Normal(0, weak_sd)``. With a previous frozen model (``model.prior=PATH``)
  it is a *power prior* (Ibrahim and Chen 2000) on the normal approximation of that model's
  estimates: precision ``1/weak_sd^2 + strength/se_i^2``, mean ``(strength/se_i^2) w_i / precision``.
  ``strength`` is how many times the previous model's own information counts (1 = as much as
  its data gave it; 0 = weakly informative). Indicators the previous model lacks keep the weak prior.
- controls ``Normal(0, 2.5)``, cut-points ``Normal(0, 10)`` constrained to increase, area sds
  ``HalfNormal(1)`` (latent logit units).

The controls are centred (survey-weighted) inside the graph and the buurt and gemeente effects sum to
zero (``ZeroSumNormal``), so neither trades off against the cut-points; the reported cut-points are
for the controls as given. Survey weights enter as a weighted (pseudo-)likelihood, normalised to mean 1 so that the
posterior's width reflects the number of respondents. Posterior means are the weights;
posterior draws are the uncertainty (90% intervals and a thinned set of draws go into
model.json for ``lbm score --class-probabilities``). R-hat, effective sample sizes and
divergences are the ``posterior_convergence`` check. PyMC is imported only inside ``fit``.
"""

from __future__ import annotations

import glob
import math
import os
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lbm_model.estimators.base import LbmEstimator, cluster_codes, weighted_rmse
from lbm_model.estimators.diagnostics import FamilyDiagnostics
from lbm_model.estimators.ordinal import _logistic_terms, _probabilities
from lbm_model.estimators.results import Capabilities, DrawsUncertainty, FitResults, FitStats

SAMPLERS = ("pymc", "nutpie", "numpyro")
AREA_COLUMNS = ("buurt_code", "gemeente_code")
LOGIT_SCALE_RULE = "average_marginal_effect"      # frozen models whose native weights are on the logit scale
CONTROL_SD, CUTPOINT_SD, AREA_SD_SCALE = 2.5, 10.0, 1.0


@dataclass(frozen=True, eq=False)
class WeightPrior:
    """Normal priors on the native (logit-scale) weights, by indicator, and where they came from."""

    mean: pd.Series
    sd: pd.Series
    strength: float
    source_sha256: str | None          # content_sha256 of the previous frozen model (None: weakly informative)
    informed: tuple[str, ...]          # indicators whose prior comes from the previous model

    @classmethod
    def weak(cls, names, weak_sd: float) -> "WeightPrior":
        names = list(names)
        return cls(pd.Series(0.0, index=names), pd.Series(float(weak_sd), index=names), 0.0, None, ())

    @classmethod
    def from_frozen(cls, document: dict, names, strength: float, weak_sd: float) -> "WeightPrior":
        """The power prior from a verified frozen-model document (``frozen.read_frozen_model``)."""
        content = document["content"]
        estimator = content.get("estimator", {})
        rule, scale = str(estimator.get("scale_rule", "")), estimator.get("judgement_scale")
        if not rule.startswith(LOGIT_SCALE_RULE) or not scale:
            raise ValueError(f"the prior model's weights are not on the ordinal logit scale (its family is "
                             f"{estimator.get('family')!r}, scale rule {rule[:60]!r}); a prior needs a model of "
                             "family ordinal_logit, bayes_ordinal or elastic_net with an ordinal refit")
        previous = {e["name"]: e for e in content["indicators"]}
        lacking_se = sorted(n for n in names if n in previous and previous[n]["standard_error"] is None)
        if strength > 0 and lacking_se:
            raise ValueError(f"the prior model has no standard errors for {', '.join(lacking_se[:5])}"
                             f"{' ...' if len(lacking_se) > 5 else ''}; a prior with strength > 0 needs them")
        weak_precision = 1.0 / weak_sd**2
        means, sds, informed = {}, {}, []
        for name in names:
            entry = previous.get(name)
            if entry is None or strength == 0 or entry["standard_error"] is None:
                means[name], sds[name] = 0.0, weak_sd
                continue
            se = float(entry["standard_error"]) / float(scale)
            info = strength / se**2
            precision = weak_precision + info
            means[name], sds[name] = info * float(entry["native_weight"]) / precision, 1.0 / math.sqrt(precision)
            informed.append(name)
        return cls(pd.Series(means), pd.Series(sds), float(strength), str(document["content_sha256"]),
                   tuple(informed))

    def describe(self) -> dict:
        """JSON-ready summary (model.json, evidence); the full table is ``table()``."""
        return {"kind": "power prior on a previous model" if self.source_sha256 else "weakly informative",
                "strength": self.strength, "source_sha256": self.source_sha256, "n_informed": len(self.informed),
                "sd_min": float(self.sd.min()), "sd_max": float(self.sd.max())}

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"name": self.mean.index, "prior_mean": self.mean.to_numpy(),
                             "prior_sd": self.sd.to_numpy(), "informed": [n in self.informed for n in self.mean.index]})


@dataclass(frozen=True, eq=False)
class BayesExtras:
    """Cut-points, the posterior's convergence figures, area sds and the prior (model-level only)."""

    levels: np.ndarray
    cutpoints: np.ndarray
    convergence: dict[str, float]        # max_rhat, min_ess_bulk, min_ess_tail, divergences
    area_sd: dict[str, float]            # posterior mean sd of the buurt and gemeente effects (logit units)
    parameter_table: pd.DataFrame        # per model parameter: mean, sd, interval, rhat, ess
    prior: WeightPrior
    sampler: dict[str, object]           # sampler, chains, draws, tune, target_accept, seed

    def to_dict(self) -> dict:
        return {"levels": [float(v) for v in self.levels], "cutpoints": [float(c) for c in self.cutpoints],
                "posterior": {"convergence": {k: float(v) for k, v in self.convergence.items()},
                              "area_sd": {k: float(v) for k, v in self.area_sd.items()},
                              "prior": self.prior.describe(), "sampler": dict(self.sampler)}}

    def diagnostics(self, min_respondents: int) -> FamilyDiagnostics:
        """Per-parameter R-hat and ESS, the priors, and the area sds (model-level rows only)."""
        c = self.convergence
        return FamilyDiagnostics(
            {"posterior_parameters.csv": self.parameter_table, "priors.csv": self.prior.table()},
            {**{k: float(v) for k, v in c.items()}, **{f"sd_{k}": float(v) for k, v in self.area_sd.items()}},
            f"posterior: max R-hat {c['max_rhat']:.4f}, min bulk ESS {c['min_ess_bulk']:.0f}, "
            f"{int(c['divergences'])} divergences; area sd buurt {self.area_sd['buurt']:.3f}, gemeente "
            f"{self.area_sd['gemeente']:.3f} (logit); prior: {self.prior.describe()['kind']}",
            {"prior": self.prior.describe(), "sampler": dict(self.sampler)})


def link_system_blas() -> str:
    """Let PyTensor link the system BLAS (``-lblas``) when the linker can find one and nothing else says otherwise.

    PyTensor from PyPI finds no BLAS by default and then runs its matrix-vector products in Python (with a
    warning); linking Debian's libblas made a gradient of this model about 3x faster on the small world
    (docs/estimators.md). Only before PyTensor is first imported, only when ``PYTENSOR_FLAGS`` does not set
    ``blas__ldflags`` itself. Returns the flags in force.
    """
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "pytensor" in sys.modules or "blas__ldflags" in flags:
        return flags
    if glob.glob("/usr/lib*/libblas.so") or glob.glob("/usr/lib*/*/libblas.so") or glob.glob("/usr/local/lib/libblas.so"):
        os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, "blas__ldflags=-lblas") if f)
    return os.environ.get("PYTENSOR_FLAGS", "")


class BayesOrdinal(LbmEstimator):
    """Hierarchical ordinal logit (buurt and gemeente intercepts) sampled with NUTS."""

    family = "bayes_ordinal"
    runtime_params = ("progress", "cores")
    needs_areas = True

    def __init__(self, sampler: str = "nutpie", draws: int = 1000, tune: int = 1000, chains: int = 2,
                 target_accept: float = 0.9, weak_sd: float = 2.5, prior_strength: float = 0.0,
                 prior: dict | None = None, interval_level: float = 0.9, saved_draws: int = 200,
                 random_seed: int = 0, cores: int = 1, progress: bool = False) -> None:
        self.sampler = sampler
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.target_accept = target_accept
        self.weak_sd = weak_sd
        self.prior_strength = prior_strength
        self.prior = prior                  # a verified frozen-model document (frozen.read_frozen_model) or None
        self.interval_level = interval_level
        self.saved_draws = saved_draws
        self.random_seed = random_seed
        self.cores = cores
        self.progress = progress

    def model_params(self) -> dict:
        """Hyper-parameters for model.json: the prior model by its content hash, not its whole document."""
        params = super().model_params()
        params["prior"] = self._prior_sha256()
        return params

    def _prior_sha256(self) -> str | None:
        """The prior model's content hash (``prior`` is its document, or the hash model.json recorded)."""
        if self.prior is None or isinstance(self.prior, str):
            return self.prior
        return str(self.prior.get("content_sha256"))

    def weight_prior(self, names) -> WeightPrior:
        """The priors on the weights this estimator will use (inspectable before sampling)."""
        if self.prior is None or self.prior_strength == 0:
            prior = WeightPrior.weak(names, self.weak_sd)
            return WeightPrior(prior.mean, prior.sd, 0.0, self._prior_sha256(), ())
        if isinstance(self.prior, str):
            raise ValueError(f"the prior model (content_sha256 {self.prior[:12]}) is recorded by its hash only; refit "
                             "with lbm-experiment model=bayes_ordinal model.prior=PATH to that model.json")
        return WeightPrior.from_frozen(self.prior, names, self.prior_strength, self.weak_sd)

    def fit(self, X: pd.DataFrame, y: np.ndarray, *, controls: pd.DataFrame | None = None,
            sample_weight: np.ndarray | None = None, groups: np.ndarray | None = None,
            areas: pd.DataFrame | None = None) -> "BayesOrdinal":
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}")
        Xa, y, controls, weight, groups = self._check_fit_input(X, y, controls, sample_weight, groups)
        if areas is None or any(c not in areas.columns for c in AREA_COLUMNS):
            raise ValueError("the bayes_ordinal family needs areas with buurt_code and gemeente_code per respondent")
        levels = np.unique(y)
        if len(levels) < 3:
            raise ValueError("the response needs at least three levels for a hierarchical ordinal model")
        category = np.searchsorted(levels, y)
        prior = self.weight_prior(list(self.feature_names_in_))
        buurt, n_buurt = cluster_codes(areas["buurt_code"].to_numpy())
        gemeente, n_gemeente = cluster_codes(areas["gemeente_code"].to_numpy())
        control_mean = np.average(controls.to_numpy(float), axis=0, weights=weight) if controls.shape[1] else np.zeros(0)
        model = self._model(Xa, controls.to_numpy(float) - control_mean, category, weight / weight.mean(), buurt,
                            n_buurt, gemeente, n_gemeente, prior, len(levels))
        idata = self._sample(model)
        self.results_ = self._results(idata, Xa, controls, control_mean, category, levels, weight, groups, prior)
        return self

    # --- the PyMC graph and the sampler ---------------------------------------------------
    def _model(self, Xa, C, category, weight, buurt, n_buurt, gemeente, n_gemeente, prior: WeightPrior, n_levels):
        link_system_blas()
        import pymc as pm

        shares = np.bincount(category, weights=weight, minlength=n_levels) / weight.sum()
        cumulative = np.clip(np.cumsum(shares)[:-1], 1e-4, 1 - 1e-4)
        with pm.Model() as model:
            beta = pm.Normal("beta", mu=prior.mean.to_numpy(), sigma=prior.sd.to_numpy(), shape=Xa.shape[1])
            eta = pm.math.dot(Xa, beta)
            if C.shape[1]:
                gamma = pm.Normal("gamma", mu=0.0, sigma=CONTROL_SD, shape=C.shape[1])
                eta = eta + pm.math.dot(C, gamma)
            sd_buurt = pm.HalfNormal("sd_buurt", sigma=AREA_SD_SCALE)
            sd_gemeente = pm.HalfNormal("sd_gemeente", sigma=AREA_SD_SCALE)
            z_buurt = pm.ZeroSumNormal("z_buurt", sigma=1.0, shape=n_buurt)
            z_gemeente = pm.ZeroSumNormal("z_gemeente", sigma=1.0, shape=n_gemeente)
            eta = eta + sd_buurt * z_buurt[buurt] + sd_gemeente * z_gemeente[gemeente]
            cutpoints = pm.Normal("cutpoints", mu=0.0, sigma=CUTPOINT_SD, shape=n_levels - 1,
                                  transform=pm.distributions.transforms.ordered,
                                  initval=np.log(cumulative / (1 - cumulative)))
            loglik = pm.logp(pm.OrderedLogistic.dist(eta=eta, cutpoints=cutpoints), category)
            pm.Potential("weighted_loglik", pm.math.sum(weight * loglik))     # survey weights: a pseudo-likelihood
        return model

    def _sample(self, model):
        import pymc as pm

        # nutpie: a low-rank update of the diagonal mass matrix; the buurt sd and its 600 non-centred effects are
        # correlated, and this raised the sd's bulk ESS from about 30 to about 170 per 1000 draws (docs/estimators.md)
        extra = {"low_rank_modified_mass_matrix": True} if self.sampler == "nutpie" else {}
        with model:
            return pm.sample(draws=self.draws, tune=self.tune, chains=self.chains, cores=self.cores,
                             target_accept=self.target_accept, random_seed=self.random_seed,
                             nuts_sampler=self.sampler, progressbar=self.progress, compute_convergence_checks=False,
                             var_names=self._reported(model), nuts_sampler_kwargs=extra)

    @staticmethod
    def _reported(model) -> list[str]:
        """The parameters kept from the sampler and checked for convergence (area effects are nuisance)."""
        return ["beta", "cutpoints", "sd_buurt", "sd_gemeente", *(["gamma"] if "gamma" in model.named_vars else [])]

    # --- results ----------------------------------------------------------------------------
    def _results(self, idata, Xa, controls, control_mean, category, levels, weight, groups,
                 prior: WeightPrior) -> FitResults:
        import arviz as az

        names = list(self.feature_names_in_)
        posterior = idata.posterior
        beta_draws = posterior["beta"].values.reshape(-1, len(names))
        draws = pd.DataFrame(beta_draws, columns=names)
        weights = draws.mean(axis=0)
        gamma = (posterior["gamma"].values.reshape(-1, controls.shape[1]).mean(axis=0)
                 if "gamma" in posterior else np.zeros(0))
        # the graph has centred controls; with the controls as given, the cut-points move by mean(controls) @ gamma
        cutpoints = posterior["cutpoints"].values.reshape(-1, len(levels) - 1).mean(axis=0) + control_mean @ gamma
        reported = [v for v in ("beta", "gamma", "cutpoints", "sd_buurt", "sd_gemeente") if v in posterior]
        summary = az.summary(idata, var_names=reported, hdi_prob=self.interval_level, round_to="none", kind="all")
        divergences = int(idata.sample_stats["diverging"].values.sum())
        convergence = {"max_rhat": float(summary["r_hat"].max()), "min_ess_bulk": float(summary["ess_bulk"].min()),
                       "min_ess_tail": float(summary["ess_tail"].min()), "divergences": float(divergences)}
        eta = Xa @ weights.to_numpy() + controls.to_numpy(float) @ gamma
        _, pdf, _ = _logistic_terms(cutpoints[None, :] - eta[:, None])
        judgement_scale = float(np.average(pdf @ np.diff(levels), weights=weight))
        expected = _probabilities(cutpoints, eta) @ levels
        stats = FitStats(converged=True, n_obs=len(category),
                         n_clusters=cluster_codes(groups)[1] if groups is not None else None,
                         n_params=len(names) + len(gamma) + len(cutpoints) + 2,
                         rmse=weighted_rmse(levels[category], expected, weight), iterations=None,
                         extra={**convergence, "chains": float(self.chains), "draws": float(self.draws)})
        area_sd = {"buurt": float(posterior["sd_buurt"].values.mean()),
                   "gemeente": float(posterior["sd_gemeente"].values.mean())}
        table = summary.reset_index(names="parameter")
        extras = BayesExtras(levels=levels, cutpoints=cutpoints, convergence=convergence, area_sd=area_sd,
                             parameter_table=table, prior=prior,
                             sampler={"sampler": self.sampler, "chains": self.chains, "draws": self.draws,
                                      "tune": self.tune, "target_accept": self.target_accept,
                                      "random_seed": self.random_seed})
        return FitResults(
            family=self.family, params=self.model_params(), weights=weights, judgement_scale=judgement_scale,
            scale_rule=f"{LOGIT_SCALE_RULE}: survey-weighted mean of dE[Y]/d eta over training respondents, at the "
                       "posterior mean (area effects at zero)",
            uncertainty=DrawsUncertainty(draws, "posterior", saved=self.saved_draws),
            fit_stats=stats, control_coefs=pd.Series(gamma, index=list(controls.columns)), extras=extras,
            capabilities=Capabilities(standard_errors=True, probabilities=True, refit=False, warm_start=False,
                                      posterior=True))

    def predict_proba(self, X: pd.DataFrame, controls: pd.DataFrame | None = None) -> np.ndarray:
        """P(Y = level) per row at the posterior means, area effects at zero (rows x levels)."""
        return _probabilities(self.results.extras.cutpoints, self.linear_index(X, controls))

    def predict_expected(self, X: pd.DataFrame, controls: pd.DataFrame | None = None) -> np.ndarray:
        """Expected judgement E[Y] (1..5 scale) per row."""
        return self.predict_proba(X, controls) @ self.results.extras.levels
