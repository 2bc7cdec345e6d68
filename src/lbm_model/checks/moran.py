"""Moran's I and local Moran (LISA) with esda, plus Moran's I for regression residuals.

Global Moran's I (Moran 1950) from esda, with permutation inference by the compiled kernel
of lbm_model.checks.moran_kernel (seeded draws of its own; numpy's global random state is
never touched). Local Moran (Anselin 1995) uses esda's conditional randomisation with an
explicit seed, computed by lbm_model.checks.lisa_kernel (the same draws and p-values,
compiled once per machine and linear in n). ``regression_residual_moran`` gives the analytic moments of Moran's I for
least-squares residuals (Cliff and Ord 1981, p. 203; spdep's ``lm.morantest``), which
differ from those of a raw variable because residuals sum to zero and are correlated
through the hat matrix.

References
----------
Moran, P. A. P. (1950). Notes on continuous stochastic phenomena. Biometrika 37, 17-23.
Cliff, A. D. and Ord, J. K. (1981). Spatial Processes: Models and Applications. Pion.
Anselin, L. (1995). Local indicators of spatial association - LISA. Geographical Analysis 27, 93-115.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import sparse, stats

from lbm_model.checks.lisa_kernel import conditional_randomisation
from lbm_model.checks.moran_kernel import permuted_moran
from lbm_model.checks.weights import row_standardised

LISA_LABELS = {0: "not significant", 1: "high-high", 2: "low-high", 3: "low-low", 4: "high-low"}


@dataclass(frozen=True)
class MoranResult:
    """Global Moran's I as esda reports it: the statistic, its moments and p-values.

    ``p_norm`` is two-sided under normality; ``EI_sim``, ``z_sim`` and ``p_sim`` (esda's
    folded pseudo p-value) exist only with permutations.
    """

    n: int
    I: float  # noqa: E741 (the statistic's name)
    EI: float
    z_norm: float
    p_norm: float
    permutations: int
    EI_sim: float | None = None
    z_sim: float | None = None
    p_sim: float | None = None

    @property
    def p(self) -> float:
        """The p-value the verdicts use: the permutation one where there is one."""
        return self.p_sim if self.p_sim is not None else self.p_norm

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True, eq=False)
class LocalMoranResult:
    """Local Moran's I per observation: statistic, quadrant (1..4), pseudo p-value, cluster and label."""

    Is: np.ndarray
    quadrant: np.ndarray
    p_sim: np.ndarray
    cluster: np.ndarray          # quadrant where p_sim < alpha, else 0
    label: np.ndarray            # LISA_LABELS of cluster


def global_moran(values: np.ndarray, graph, permutations: int, seed: int) -> MoranResult:
    """Moran's I of ``values`` under row-standardised ``graph`` with seeded permutation inference.

    The statistic and its moments under normality are esda's formulas (``esda.Moran``: I, EI,
    z_norm, two-sided p_norm) computed from the sparse weights directly; the permutations run in
    the compiled kernel of lbm_model.checks.moran_kernel (both cores, cached, its own seeded
    draws), summarised as esda does: the folded pseudo p-value
    ``(min(larger, permutations - larger) + 1) / (permutations + 1)``, the mean and the z-value.
    esda itself is the reference in tests/test_moran_kernel.py (same I and moments, p-values
    within Monte Carlo error).
    """
    y = np.asarray(values, float)
    W = _row_standardised(graph)
    n = len(y)
    z = y - y.mean()
    s0 = float(W.sum())
    I = n / s0 * float(z @ (W @ z)) / float(z @ z)  # noqa: E741 (the statistic's name)
    EI = -1.0 / (n - 1)
    s1 = 0.5 * float((W + W.T).power(2).sum())
    s2 = float(((np.asarray(W.sum(axis=1)).ravel() + np.asarray(W.sum(axis=0)).ravel()) ** 2).sum())
    VI_norm = (n * n * s1 - n * s2 + 3 * s0 * s0) / ((n - 1) * (n + 1) * s0 * s0) - EI * EI
    z_norm = (I - EI) / np.sqrt(VI_norm)
    p_norm = 2.0 * float(stats.norm.sf(abs(z_norm)))
    simulated = {}
    if permutations:
        sim = permuted_moran(z, W, int(permutations), int(seed))
        larger = int((sim >= I).sum())
        larger = min(larger, int(permutations) - larger)
        with np.errstate(divide="ignore", invalid="ignore"):
            z_sim = (I - sim.mean()) / sim.std()
        simulated = {"EI_sim": float(sim.mean()), "z_sim": float(z_sim),
                     "p_sim": (larger + 1.0) / (int(permutations) + 1.0)}
    return MoranResult(n=n, I=float(I), EI=float(EI), z_norm=float(z_norm), p_norm=p_norm,
                       permutations=int(permutations), **simulated)


def _row_standardised(w) -> sparse.csr_matrix:
    """The weights of a libpysal W or Graph (or a sparse matrix) with every non-empty row summing to one."""
    return row_standardised(_sparse(w))


def local_moran(values: np.ndarray, graph, permutations: int, seed: int, alpha: float = 0.05) -> LocalMoranResult:
    """Local Moran's I per observation: statistic, quadrant, pseudo p-value and cluster label.

    The label is the quadrant (high-high, low-high, low-low, high-low) where the pseudo
    p-value is below ``alpha`` and ``not significant`` elsewhere.
    """
    import esda

    with warnings.catch_warnings():  # esda announces a change of its default alternative; we keep the folded p
        warnings.filterwarnings("ignore", message="The alternative hypothesis for conditional randomization",
                                category=DeprecationWarning)
        lisa = esda.Moran_Local(np.asarray(values, float), graph, transformation="r", permutations=0)
    quadrant = np.asarray(lisa.q, dtype=int)
    p_sim = conditional_randomisation(lisa.z, lisa.w.sparse, lisa.Is, int(permutations), int(seed)).astype(float)
    cluster = np.where(p_sim < alpha, quadrant, 0)
    return LocalMoranResult(Is=np.asarray(lisa.Is, float), quadrant=quadrant, p_sim=p_sim, cluster=cluster,
                            label=np.array([LISA_LABELS[c] for c in cluster], dtype=object))


def _sparse(w) -> sparse.csr_matrix:
    return sparse.csr_matrix(w.sparse if hasattr(w, "sparse") else w, dtype=float)


@dataclass(frozen=True)
class ResidualMoranResult:
    """Moran's I of least-squares residuals with the Cliff-Ord moments (spdep's ``lm.morantest``)."""

    n: int
    k: int
    I: float  # noqa: E741 (the statistic's name)
    EI: float
    VI: float
    z: float
    p_greater: float         # one-sided, alternative: positive autocorrelation


def regression_residual_moran(y: np.ndarray, X: np.ndarray, w) -> ResidualMoranResult:
    """Moran's I of OLS residuals with the Cliff-Ord moments for regression residuals.

    Parameters
    ----------
    y : (n,) dependent variable.
    X : (n, k) design including the constant.
    w : a libpysal W or Graph (already transformed) or a sparse matrix.

    Returns I, EI, VI, z and the one-sided p-value (alternative: positive autocorrelation),
    as in spdep's ``lm.morantest``. Only k x k matrices are formed besides sparse W, so
    this scales to many areas.
    """
    y, X = np.asarray(y, float), np.asarray(X, float)
    W = _sparse(w)
    n, k = X.shape
    xtx_inv = np.linalg.inv(X.T @ X)
    e = y - X @ (xtx_inv @ (X.T @ y))
    s0 = W.sum()
    scale = n / s0
    I = float(scale * (e @ (W @ e)) / (e @ e))  # noqa: E741 (the statistic's name)
    WX, WtX = W @ X, W.T @ X
    a = xtx_inv @ (X.T @ WX)                 # (X'X)^-1 X'W X
    b = xtx_inv @ (X.T @ WtX)                # (X'X)^-1 X'W'X
    tr_mw = W.diagonal().sum() - np.trace(a)
    # tr(M W M W') and tr(M W M W) with M = I - X (X'X)^-1 X', from k x k pieces only
    tr_mwmwt = (W.multiply(W).sum() - np.trace(xtx_inv @ (WtX.T @ WtX)) - np.trace(xtx_inv @ (WX.T @ WX))
                + np.trace(a @ b))
    tr_mwmw = W.multiply(W.T).sum() - 2.0 * np.trace(xtx_inv @ (X.T @ (W @ WX))) + np.trace(a @ a)
    ei = scale * tr_mw / (n - k)
    vi = scale**2 * (tr_mwmwt + tr_mwmw + tr_mw**2) / ((n - k) * (n - k + 2)) - ei**2
    z = (I - ei) / np.sqrt(vi)
    return ResidualMoranResult(n=int(n), k=int(k), I=I, EI=float(ei), VI=float(vi), z=float(z),
                               p_greater=float(stats.norm.sf(z)))
