"""Survey-weighted proportional-odds (ordinal) logit with clustered standard errors.

P(Y <= k) = F(c_k - eta), eta = X beta + controls gamma, F the logistic CDF.

Why not statsmodels' OrderedModel: it has no case weights (survey weights are part of the
contract) and differentiates numerically, which at national scale (about 180k respondents,
110 parameters) costs tens of thousands of likelihood evaluations for one Hessian. This
class writes the weighted log-likelihood with its analytic gradient and Hessian and
maximises it by Newton's method (the likelihood is concave). Per iteration the cost is one
symmetric BLAS-3 product X' diag(w) X (syrk) plus a few passes over n; the cluster sandwich's
"meat" comes from cluster sums of the scores without an n x p score matrix. On unweighted
data it reproduces R's MASS::polr (tests/test_golden_r.py, tests/test_estimators.py).

Threads: BLAS runs single-threaded inside the fit (threadpoolctl, ``BLAS_THREADS``); see there.
"""

from __future__ import annotations

import copy
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from scipy import linalg, optimize, sparse
from scipy.linalg import blas
from scipy.special import expit
from threadpoolctl import threadpool_limits

from lbm_model.estimators.base import LbmEstimator, cluster_codes, weighted_rmse
from lbm_model.estimators.results import Capabilities, FitResults, FitStats, OrdinalExtras, WaldUncertainty

# One BLAS thread for the fit: its products are thin (n x ~100), so a second thread gains little on an
# idle 2-core machine, and when another process or the bootstrap's second worker holds the other
# core a 2-thread BLAS slowed the fit 4-8x (issue 14); parallelism belongs to the replicates instead.
BLAS_THREADS = 1

# Newton's stopping rules in mean log-likelihood units (the objective's own scale, about 0.7 per respondent).
# Below RESOLVABLE_GAIN the predicted gain of a step (half the Newton decrement) is within a few thousand
# rounding errors of the summed log-likelihood, so a line search would compare noise: the full step is taken
# (the iterate is deep in the quadratic region). Below NEGLIGIBLE_DECREMENT the step moves no estimate
# beyond about 1e-11, so the fit stops there even when the gradient norm has not reached ``tol``.
RESOLVABLE_GAIN = 1e-12
NEGLIGIBLE_DECREMENT = 1e-22

CORRECTIONS = {
    "cluster": "G/(G-1) on the cluster meat (as R's sandwich::vcovCL with cadjust=TRUE, type HC0)",
    "robust": "N/(N-1) on the meat",
    "nonrobust": "none (inverse observed information)",
}


def _logistic_terms(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CDF, density and density derivative of the logistic distribution (inf-safe)."""
    cdf = expit(z)
    pdf = cdf * (1.0 - cdf)
    return cdf, pdf, pdf * (1.0 - 2.0 * cdf)


class OrdinalLogit(LbmEstimator):
    """Proportional-odds logit of the 1..5 judgement on indicators and controls.

    Native weights are on the latent logit scale. They map onto judgement points by the
    recorded rule ``average_marginal_effect``: the survey-weighted mean over the training
    respondents of dE[Y]/d eta = sum_k (level_{k+1} - level_k) f(c_k - eta).
    """

    family = "ordinal_logit"
    runtime_params = ("progress", "start_params")
    refit_params = {"cov_type": "nonrobust", "progress": False}

    def __init__(self, cov_type: str = "cluster", max_iter: int = 200, tol: float = 1e-10, progress: bool = False,
                 start_params: np.ndarray | None = None) -> None:
        self.cov_type = cov_type
        self.max_iter = max_iter
        self.tol = tol
        self.progress = progress
        self.start_params = start_params  # (weights, control coefs, cut-points); used when the sizes match

    def fit(self, X: pd.DataFrame, y: np.ndarray, *, controls: pd.DataFrame | None = None,
            sample_weight: np.ndarray | None = None, groups: np.ndarray | None = None) -> "OrdinalLogit":
        Xa, y, controls, weight, groups = self._check_fit_input(X, y, controls, sample_weight, groups)
        levels = np.unique(y)
        if len(levels) < 2:
            raise ValueError("the response has a single level; an ordinal model needs at least two")
        category = np.searchsorted(levels, y)
        design = np.column_stack([Xa, controls.to_numpy(float)])
        theta0 = self._start(category, weight, design.shape[1], len(levels))
        if self.start_params is not None and len(self.start_params) == len(theta0):
            theta0 = np.asarray(self.start_params, float).copy()
        clusters = cluster_codes(groups) if groups is not None else None
        self._iteration = 0
        self._scratch = {}
        try:
            with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
                result = self._newton(theta0, design, category, weight)
                theta = result.x
                covariance = self._covariance(theta, design, category, weight, clusters)
        finally:
            del self._scratch       # the design-sized buffer and cached pieces live only during a fit
        self.results_ = self._results(theta, covariance, design, category, levels, weight, clusters, controls.columns,
                                      result)
        return self

    def _newton(self, theta, design, category, weight) -> optimize.OptimizeResult:
        """Maximise the mean weighted log-likelihood by Newton's method with backtracking (Armijo) steps.

        The proportional-odds log-likelihood is concave in (weights, cut-points) (Pratt 1981), so
        full Newton steps from the start converge quadratically; a step that unorders the cut-points
        or lowers the likelihood is halved. One gradient and one Hessian per iteration, and the
        Hessian at the optimum is the one the covariance reuses. Once a step's predicted gain is below
        what the summed log-likelihood resolves (``RESOLVABLE_GAIN``) the full step is taken without the
        line search, as long as the Newton decrement keeps falling. Stops when the gradient's norm is
        below ``tol`` (scipy's ``gtol``), when the decrement is negligible or stops falling, after
        ``max_iter`` iterations, or when no step improves.
        """
        scale = weight.sum()
        objective = lambda t: self._loglike(t, design, category, weight) / scale  # noqa: E731
        value = objective(theta)
        success, message, iteration, previous_slope = False, "maximum number of iterations reached", 0, np.inf
        for iteration in range(1, self.max_iter + 1):
            gradient = self._gradient(theta, design, category, weight) / scale
            if np.linalg.norm(gradient) < self.tol:
                success, message, iteration = True, "gradient below tol", iteration - 1
                break
            information = -self._hessian(theta, design, category, weight) / scale
            try:
                step = linalg.solve(information, gradient, assume_a="pos")
            except linalg.LinAlgError:
                step = np.linalg.lstsq(information, gradient, rcond=None)[0]
            rate, slope = 1.0, float(gradient @ step)
            if slope < NEGLIGIBLE_DECREMENT:
                success, message, iteration = True, "Newton decrement at rounding level", iteration - 1
                break
            if slope < RESOLVABLE_GAIN:        # no Armijo test on rounding noise: the full step, while it helps
                if slope > previous_slope / 4 or not np.isfinite(full_value := objective(theta + step)):
                    success, message, iteration = True, "at the optimum to rounding (the decrement stopped falling)", \
                        iteration - 1
                    break
                theta, value, previous_slope = theta + step, full_value, slope
                continue
            while rate > 1e-10:
                candidate = theta + rate * step
                candidate_value = objective(candidate)
                if candidate_value >= value + 1e-4 * rate * slope:
                    break
                rate /= 2
            else:
                message = "no step improves the likelihood (at the optimum to rounding)"
                break
            theta, value = candidate, candidate_value
            if self.progress:
                self._report(optimize.OptimizeResult(fun=-value))
        gradient = self._gradient(theta, design, category, weight) / scale
        return optimize.OptimizeResult(x=theta, fun=-value, jac=-gradient, nit=iteration, message=message,
                                       success=success or bool(np.linalg.norm(gradient) < self.tol))

    def _report(self, intermediate_result) -> None:
        """Print one line per Newton iteration (stderr): the mean negative log-likelihood."""
        self._iteration += 1
        print(f"  ordinal logit iteration {self._iteration}: mean -loglik {intermediate_result.fun:.8f}",
              file=sys.stderr, flush=True)

    # --- likelihood pieces -------------------------------------------------------------
    def _start(self, category: np.ndarray, weight: np.ndarray, k: int, n_levels: int) -> np.ndarray:
        shares = np.bincount(category, weights=weight, minlength=n_levels) / weight.sum()
        cumulative = np.clip(np.cumsum(shares)[:-1], 1e-6, 1 - 1e-6)
        return np.concatenate([np.zeros(k), np.log(cumulative / (1 - cumulative))])

    def _pieces(self, theta: np.ndarray, design: np.ndarray, category: np.ndarray):
        """Per respondent probability and logistic terms at both cuts; cached for the last theta."""
        scratch = getattr(self, "_scratch", None)
        key = (theta.tobytes(), id(design))
        if scratch is not None and scratch.get("pieces_key") == key:
            return scratch["pieces"]
        pieces = self._compute_pieces(theta, design, category)
        if scratch is not None:
            scratch["pieces_key"], scratch["pieces"] = key, pieces
        return pieces

    def _compute_pieces(self, theta: np.ndarray, design: np.ndarray, category: np.ndarray):
        k = design.shape[1]
        cuts = np.concatenate([[-np.inf], theta[k:], [np.inf]])
        eta = design @ theta[:k]
        upper, lower = cuts[category + 1] - eta, cuts[category] - eta
        F_up, f_up, d_up = _logistic_terms(upper)
        F_lo, f_lo, d_lo = _logistic_terms(lower)
        prob = F_up - F_lo
        return k, prob, f_up, f_lo, d_up, d_lo

    def _loglike(self, theta, design, category, weight) -> float:
        cuts = theta[design.shape[1]:]
        if np.any(np.diff(cuts) <= 0):
            return -np.inf
        _, prob, *_ = self._pieces(theta, design, category)
        if np.any(prob <= 0):
            return -np.inf
        return float(weight @ np.log(prob))

    def _score_obs(self, theta, design, category, weight) -> np.ndarray:
        """Per-respondent weighted score (n x parameters)."""
        k, prob, f_up, f_lo, *_ = self._pieces(theta, design, category)
        A, B = f_up / prob, f_lo / prob
        n_cuts = len(theta) - k
        score = np.zeros((len(category), len(theta)))
        score[:, :k] = -design * (A - B)[:, None]
        rows = np.arange(len(category))
        has_up, has_lo = category < n_cuts, category > 0
        score[rows[has_up], k + category[has_up]] += A[has_up]
        score[rows[has_lo], k + category[has_lo] - 1] -= B[has_lo]
        return score * weight[:, None]

    def _gradient(self, theta, design, category, weight) -> np.ndarray:
        """Analytic gradient: one matrix-vector product for the weights, bincounts for the cut-points."""
        k, prob, f_up, f_lo, *_ = self._pieces(theta, design, category)
        wA, wB = weight * f_up / prob, weight * f_lo / prob
        n_cuts = len(theta) - k
        at_upper = np.bincount(category, weights=wA, minlength=n_cuts + 1)   # c_j is the upper cut of category j
        at_lower = np.bincount(category, weights=wB, minlength=n_cuts + 1)   # ... and the lower cut of j + 1
        return np.concatenate([design.T @ (wB - wA), at_upper[:n_cuts] - at_lower[1:]])

    def _hessian(self, theta, design, category, weight) -> np.ndarray:
        """Analytic Hessian, cached for the last theta: X' diag(w) X as one symmetric BLAS-3 product, the
        cut-point blocks from bincounts."""
        scratch = getattr(self, "_scratch", None)
        key = (theta.tobytes(), id(design), id(weight))
        if scratch is not None and scratch.get("hessian_key") == key:
            return scratch["hessian"].copy()
        hess = self._compute_hessian(theta, design, category, weight)
        if scratch is not None:
            scratch["hessian_key"], scratch["hessian"] = key, hess.copy()
        return hess

    def _compute_hessian(self, theta, design, category, weight) -> np.ndarray:
        k, prob, f_up, f_lo, d_up, d_lo = self._pieces(theta, design, category)
        A, B, A2, B2 = f_up / prob, f_lo / prob, d_up / prob, d_lo / prob
        n_cuts = len(theta) - k
        hess = np.empty((len(theta), len(theta)))
        hess[:k, :k] = self._weighted_gram(design, weight * ((A2 - B2) - (A - B) ** 2))
        # per respondent, d2/(d beta d c_j) per unit of x sits in column j of ``by_cut``: the upper term at
        # c_j = the respondent's upper cut (category j), the lower term at its lower cut (category j + 1)
        rows = np.arange(len(category))
        by_cut = np.zeros((len(category), n_cuts + 1))
        by_cut[rows, category] = -weight * (A2 - A**2 + A * B)
        by_cut[rows[category > 0], category[category > 0] - 1] += (weight * (B2 + B**2 - A * B))[category > 0]
        cross = design.T @ by_cut[:, :n_cuts]
        hess[:k, k:], hess[k:, :k] = cross, cross.T
        at_upper = np.bincount(category, weights=weight * (A2 - A**2), minlength=n_cuts + 1)
        at_lower = np.bincount(category, weights=weight * (-B2 - B**2), minlength=n_cuts + 1)
        between = np.bincount(category, weights=weight * A * B, minlength=n_cuts + 1)
        cuts = np.zeros((n_cuts, n_cuts))
        cuts[np.diag_indices(n_cuts)] = at_upper[:n_cuts] + at_lower[1:]
        cuts[np.arange(n_cuts - 1), np.arange(1, n_cuts)] = cuts[np.arange(1, n_cuts), np.arange(n_cuts - 1)] = \
            between[1:n_cuts]
        hess[k:, k:] = cuts
        return hess

    def _weighted_gram(self, design: np.ndarray, curvature: np.ndarray) -> np.ndarray:
        """X' diag(curvature) X. The log-likelihood is concave in eta (log-concave logistic), so the curvature is
        <= 0 and the product is -S'S with S = sqrt(-curvature) X: one BLAS syrk (half a general product's flops)
        into a reused buffer. A positive curvature (rounding at extreme eta) falls back to the general product."""
        scaled = self._work_buffer(design.shape)
        if np.all(curvature <= 0):
            np.multiply(design, np.sqrt(-curvature)[:, None], out=scaled)
            upper = blas.dsyrk(-1.0, scaled.T, trans=0)            # scaled.T is Fortran-ordered: no copy
            return np.triu(upper) + np.triu(upper, 1).T
        np.multiply(design, curvature[:, None], out=scaled)
        return design.T @ scaled

    def _work_buffer(self, shape: tuple[int, int]) -> np.ndarray:
        """A design-sized scratch matrix reused by every Hessian of a fit (no n x p allocation per call)."""
        scratch = getattr(self, "_scratch", None)
        if scratch is None:
            return np.empty(shape)
        if scratch.get("buffer") is None or scratch["buffer"].shape != shape:
            scratch["buffer"] = np.empty(shape)
        return scratch["buffer"]

    def _covariance(self, theta, design, category, weight, clusters) -> np.ndarray:
        bread = np.linalg.inv(-self._hessian(theta, design, category, weight))
        if self.cov_type == "nonrobust":
            return bread
        if self.cov_type == "robust":
            score = self._score_obs(theta, design, category, weight)
            n = len(score)
            meat = score.T @ score * n / (n - 1)
        else:
            codes, n_clusters = clusters
            sums = self._cluster_score_sums(theta, design, category, weight, codes, n_clusters)
            meat = sums.T @ sums * n_clusters / (n_clusters - 1)
        return bread @ meat @ bread

    def _cluster_score_sums(self, theta, design, category, weight, codes, n_clusters) -> np.ndarray:
        """Per cluster, the sum of the respondents' weighted scores (clusters x parameters): the weights' part as
        one sparse (clusters x respondents) by dense design product, each cluster's respondents summed in their
        order; the cut-points' part by bincounts; the sandwich's meat without an n x p score matrix."""
        k, prob, f_up, f_lo, *_ = self._pieces(theta, design, category)
        wA, wB = weight * f_up / prob, weight * f_lo / prob
        n_cuts = len(theta) - k
        sums = np.zeros((n_clusters, len(theta)))
        by_cluster = sparse.csr_matrix((wB - wA, (codes, np.arange(len(codes)))), shape=(n_clusters, len(codes)))
        sums[:, :k] = by_cluster @ design
        for j in range(n_cuts):        # c_j is the upper cut of category j and the lower cut of category j + 1
            sums[:, k + j] = (np.bincount(codes, weights=np.where(category == j, wA, 0.0), minlength=n_clusters)
                              - np.bincount(codes, weights=np.where(category == j + 1, wB, 0.0), minlength=n_clusters))
        return sums

    def _results(self, theta, covariance, design, category, levels, weight, clusters, control_names,
                 result) -> FitResults:
        k_ind, k = self.n_features_in_, design.shape[1]
        se = np.sqrt(np.diag(covariance))
        names = list(self.feature_names_in_)
        cutpoints = theta[k:]
        eta = design @ theta[:k]
        _, pdf, _ = _logistic_terms(cutpoints[None, :] - eta[:, None])
        judgement_scale = float(np.average(pdf @ np.diff(levels), weights=weight))
        loglike = self._loglike(theta, design, category, weight)
        shares = np.bincount(category, weights=weight, minlength=len(levels)) / weight.sum()
        loglike_null = float(weight @ np.log(shares[category]))
        expected = _probabilities(cutpoints, eta) @ levels
        stats = FitStats(
            converged=bool(result.success) or self._at_optimum(result), n_obs=len(category),
            n_clusters=clusters[1] if clusters is not None else None, n_params=len(theta),
            rmse=weighted_rmse(levels[category], expected, weight), iterations=int(result.nit),
            extra={"loglike": loglike, "loglike_null": loglike_null, "pseudo_r2_mcfadden": 1.0 - loglike / loglike_null,
                   "aic": -2.0 * loglike + 2.0 * len(theta)})
        return FitResults(
            family=self.family, params=self.model_params(), weights=pd.Series(theta[:k_ind], index=names),
            judgement_scale=judgement_scale,
            scale_rule="average_marginal_effect: survey-weighted mean of dE[Y]/d eta over training respondents",
            uncertainty=WaldUncertainty(pd.Series(se[:k_ind], index=names), covariance[:k_ind, :k_ind], self.cov_type,
                                        CORRECTIONS[self.cov_type]),
            fit_stats=stats, control_coefs=pd.Series(theta[k_ind:k], index=list(control_names)),
            extras=OrdinalExtras(levels=levels, cutpoints=cutpoints, cutpoint_se=se[k:]),
            capabilities=Capabilities(standard_errors=True, probabilities=True, refit=True, warm_start=True))

    def _at_optimum(self, result) -> bool:
        """trust-exact may stop with 'bad approximation' once the gradient is at rounding level: accept that."""
        return bool(np.max(np.abs(result.jac)) < 1e-6)

    def fixed_hessian_bootstrap(self, data, cluster: np.ndarray, counts: np.ndarray, max_steps: int = 100,
                                step_tol: float = 1e-10, n_jobs: int = 1) -> Iterator[np.ndarray]:
        """Judgement weights of cluster-bootstrap replicates without refits, one array per replicate.

        ``data`` is the estimation data of this fit, ``cluster`` an integer code per respondent and
        ``counts[b, g]`` how often replicate ``b`` drew cluster ``g``: replicate ``b`` is this fit's
        likelihood with respondent weights ``weight * counts[b, cluster]`` (no resampled copy of
        the data). Each replicate repeats Newton steps from this fit's estimate with one matrix held
        fixed (a chord method; the first step is the one-step bootstrap of Hu and Kalbfleisch 2000):
        the full sample's Hessian, computed once for all replicates and scaled to the replicate's total
        weight, or, when that does not converge, the replicate's own Hessian at this estimate. Steps
        go on until no parameter moves by more than ``step_tol``: the replicate's own maximum, as a
        refit would reach it, for a few gradients, with no line search, covariance or results object.
        The judgement scale is recomputed over the replicate's respondents. A replicate that does not
        converge in ``max_steps`` with either matrix, or whose cut-points stop increasing, yields NaN
        (a failed replicate). With ``n_jobs`` > 1 the replicates run in that many threads (the
        products release the GIL; each thread works on its own shallow copy of this estimator, so
        scratch buffers are never shared), yielded in replicate order: the draws do not depend on
        ``n_jobs``.
        """
        results = self.results
        design = np.column_stack([data.indicators[list(self.feature_names_in_)].to_numpy(float),
                                  data.controls[list(results.control_coefs.index)].to_numpy(float)])
        levels = np.asarray(results.extras.levels)
        category = np.searchsorted(levels, np.asarray(data.response, float))
        theta = np.concatenate([results.weights.to_numpy(float), results.control_coefs.to_numpy(float),
                                np.asarray(results.extras.cutpoints, float)])
        k = design.shape[1]
        full_weight = np.asarray(data.weight, float)
        workers = threading.local()

        def replicate(replicate_counts: np.ndarray) -> np.ndarray:
            if not hasattr(workers, "estimator"):
                workers.estimator = copy.copy(self)         # its own _scratch in this thread
            weight = full_weight * replicate_counts[cluster]
            shared = full_inverse * (full_weight.sum() / weight.sum())
            solution = workers.estimator._chord_newton(theta, design, category, weight, max_steps, step_tol, shared)
            if not np.isfinite(solution).all():
                solution = workers.estimator._chord_newton(theta, design, category, weight, max_steps, step_tol)
            eta = design @ solution[:k]
            scale = np.average(_logistic_terms(solution[k:][None, :] - eta[:, None])[1] @ np.diff(levels),
                               weights=weight)
            return solution[:self.n_features_in_] * scale

        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            try:
                full_inverse = np.linalg.inv(-self._hessian(theta, design, category, full_weight))
            except np.linalg.LinAlgError:
                full_inverse = np.full((len(theta), len(theta)), np.nan)     # every replicate uses its own
            if n_jobs == 1:
                yield from map(replicate, counts)
                return
            with ThreadPoolExecutor(max_workers=n_jobs) as pool:
                yield from pool.map(replicate, counts)

    def _chord_newton(self, theta, design, category, weight, max_steps, step_tol,
                      inverse_information: np.ndarray | None = None) -> np.ndarray:
        """Maximise the weighted log-likelihood from ``theta`` by Newton steps with one matrix held fixed:
        ``inverse_information``, or the inverse of the Hessian at ``theta`` (NaN if it fails)."""
        k = design.shape[1]
        self._scratch = {}
        try:
            if inverse_information is None:
                inverse_information = np.linalg.inv(-self._hessian(theta, design, category, weight))
            for _ in range(max_steps):
                with np.errstate(all="ignore"):
                    step = inverse_information @ self._gradient(theta, design, category, weight)
                theta = theta + step
                if not np.isfinite(theta).all() or np.any(np.diff(theta[k:]) <= 0):
                    break
                if np.max(np.abs(step)) < step_tol:
                    return theta
        except np.linalg.LinAlgError:
            pass
        finally:
            del self._scratch
        return np.full(len(theta), np.nan)

    def predict_proba(self, X: pd.DataFrame, controls: pd.DataFrame | None = None) -> np.ndarray:
        """P(Y = level) for every row and response level (rows x levels)."""
        return _probabilities(self.results.extras.cutpoints, self.linear_index(X, controls))

    def predict_expected(self, X: pd.DataFrame, controls: pd.DataFrame | None = None) -> np.ndarray:
        """Expected judgement E[Y] (1..5 scale) for every row."""
        return self.predict_proba(X, controls) @ self.results.extras.levels

    def warm_start_from(self, results: FitResults, control_columns: list[str]) -> None:
        """Start the next fit at ``results`` (replicates and folds converge in fewer steps)."""
        coefs = results.control_coefs.reindex(list(control_columns), fill_value=0.0).to_numpy(float)
        self.start_params = np.concatenate([results.weights.to_numpy(float), coefs,
                                            np.asarray(results.extras.cutpoints, float)])


def _probabilities(cutpoints: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """P(Y = level) for linear predictors ``eta`` (rows x levels)."""
    cdf, _, _ = _logistic_terms(np.asarray(cutpoints)[None, :] - eta[:, None])
    full = np.column_stack([np.zeros(len(eta)), cdf, np.ones(len(eta))])
    return np.diff(full, axis=1)
