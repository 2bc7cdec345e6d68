"""Moran's I and local Moran (LISA) with esda, plus Moran's I for regression residuals.

Global Moran's I (Moran 1950) with permutation inference: esda draws permutations from
numpy's global random state, so the state is seeded right before each call and put back
afterwards. Local Moran (Anselin 1995) uses esda's conditional randomisation with an
explicit seed. ``regression_residual_moran`` gives the analytic moments of Moran's I for
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

import warnings

import numpy as np
from scipy import sparse, stats

LISA_LABELS = {0: "not significant", 1: "high-high", 2: "low-high", 3: "low-low", 4: "high-low"}


def global_moran(values: np.ndarray, graph, permutations: int, seed: int) -> dict[str, float]:
    """Moran's I of ``values`` under row-standardised ``graph`` with seeded permutation inference.

    Returns n, I, EI, z_norm, p_norm (two-sided, normality), and with permutations
    EI_sim, z_sim and p_sim (esda's folded pseudo p-value).
    """
    import esda

    state = np.random.get_state()
    np.random.seed(seed)
    try:
        m = esda.Moran(np.asarray(values, float), graph, transformation="r", permutations=int(permutations))
    finally:
        np.random.set_state(state)
    out = {"n": float(len(values)), "I": float(m.I), "EI": float(m.EI), "z_norm": float(m.z_norm),
           "p_norm": float(m.p_norm), "permutations": float(permutations)}
    if permutations:
        out.update({"EI_sim": float(m.EI_sim), "z_sim": float(m.z_sim), "p_sim": float(m.p_sim)})
    return out


def local_moran(values: np.ndarray, graph, permutations: int, seed: int, alpha: float = 0.05) -> dict[str, np.ndarray]:
    """Local Moran's I per observation: statistic, quadrant, pseudo p-value and cluster label.

    The label is the quadrant (high-high, low-high, low-low, high-low) where the pseudo
    p-value is below ``alpha`` and ``not significant`` elsewhere.
    """
    import esda

    with warnings.catch_warnings():  # esda announces a change of its default alternative; we keep the folded p
        warnings.filterwarnings("ignore", message="The alternative hypothesis for conditional randomization",
                                category=DeprecationWarning)
        lisa = esda.Moran_Local(np.asarray(values, float), graph, transformation="r", permutations=int(permutations),
                                seed=int(seed), keep_simulations=False, n_jobs=1)
    quadrant = np.asarray(lisa.q, dtype=int)
    p_sim = np.asarray(lisa.p_sim, dtype=float)
    cluster = np.where(p_sim < alpha, quadrant, 0)
    return {"Is": np.asarray(lisa.Is, float), "quadrant": quadrant, "p_sim": p_sim, "cluster": cluster,
            "label": np.array([LISA_LABELS[c] for c in cluster], dtype=object)}


def _sparse(w) -> sparse.csr_matrix:
    return sparse.csr_matrix(w.sparse if hasattr(w, "sparse") else w, dtype=float)


def regression_residual_moran(y: np.ndarray, X: np.ndarray, w) -> dict[str, float]:
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
    return {"n": float(n), "k": float(k), "I": I, "EI": float(ei), "VI": float(vi), "z": float(z),
            "p_greater": float(stats.norm.sf(z))}
