"""The fused scoring kernel: one compiled pass from indicator values to dimensions, score and class.

For every cell the kernel applies each indicator's transform, its standardisation and weight
(folded into ``slope * t + offset``), adds the contribution to the indicator's dimension,
counts values outside the training range, sums the dimensions into the score and looks the
class up among the thresholds. Input is an indicators x cells block (float32 or float64);
every sum is accumulated in float64 in the same order as the reference numpy scorer
(indicator order within a dimension, dimensions in DIMENSION_KEYS order). ``log1p`` is computed
by a vectorisable form of musl's (fdlibm's) algorithm instead of a scalar libm call per value
(which made log1p indicators cost four times a plain one): within one ulp of ``np.log1p``, so
scores agree with the numpy scorer to about 1e-15 and classes are the same except for a cell
within that distance of a threshold.

Cells are split into blocks of ``BLOCK_CELLS`` that run in parallel (numba ``prange``, one
thread per core); within a block the loop runs down each indicator's contiguous values.
Compiled code is cached on disk (numba ``cache=True``): in ``__pycache__`` beside this file
when that directory is writable, otherwise in numba's per-user cache directory
(``~/.cache/numba`` on Linux), or wherever ``NUMBA_CACHE_DIR`` points.

Imports numba and numpy only: production scoring stays free of the training stack.
"""

from __future__ import annotations

import numba
import numpy as np

TRANSFORM_CODES: dict[str, int] = {"none": 0, "log1p": 1, "sqrt": 2}
BLOCK_CELLS = 4096


# musl's log1p (from fdlibm): the polynomial of log(1+f) on [sqrt(2)/2 - 1, sqrt(2) - 1] and ln 2 in two parts
LG1, LG2, LG3, LG4 = 6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, 2.222219843214978396e-01
LG5, LG6, LG7 = 1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01
LN2_HI, LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10


@numba.njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def fused_score(values, transform_code, dimension_index, slope, offset, train_min, train_max, thresholds,
                n_dimensions, block_cells):  # pragma: no cover - compiled
    """Score an indicators x cells block.

    Returns (dimensions n_dimensions x cells, score per cell, class 1..len(thresholds)+1 per
    cell, cells outside the training range per indicator).
    """
    n_indicators, n_cells = values.shape
    dimensions = np.zeros((n_dimensions, n_cells))
    score = np.empty(n_cells)
    classes = np.empty(n_cells, np.int64)
    n_blocks = (n_cells + block_cells - 1) // block_cells
    outside = np.zeros((n_blocks, n_indicators), np.int64)
    for block in numba.prange(n_blocks):
        start = block * block_cells
        stop = min(n_cells, start + block_cells)
        one_plus_x, mantissa, exponent = np.empty(stop - start), np.empty(stop - start), np.empty(stop - start)
        for j in range(n_indicators):
            row = dimensions[dimension_index[j]]
            if transform_code[j] == 1:
                outside[block, j] = _accumulate_log1p(values[j], row, start, stop, slope[j], offset[j], train_min[j],
                                                      train_max[j], one_plus_x, mantissa, exponent)
            else:
                outside[block, j] = _accumulate(values[j], row, start, stop, transform_code[j], slope[j], offset[j],
                                                train_min[j], train_max[j])
        for i in range(start, stop):
            total = dimensions[0, i]
            for d in range(1, n_dimensions):
                total += dimensions[d, i]
            score[i] = total
            cls = 1
            for threshold in thresholds:     # class k holds thresholds[k-2] <= score < thresholds[k-1]
                if total >= threshold:
                    cls += 1
            classes[i] = cls
    return dimensions, score, classes, outside.sum(axis=0)


@numba.njit(error_model="numpy", nogil=True)
def _accumulate(values, row, start, stop, code, slope, offset, low, high):  # pragma: no cover - compiled
    """row[i] += slope * transform(values[i]) + offset over [start, stop); returns the count outside [low, high].

    One loop per transform over slices indexed from 0 (an index numba knows is not negative needs no
    wraparound check, so the loops vectorise).
    """
    x_all, out = values[start:stop], row[start:stop]
    count = 0
    if code == 2:
        for t in range(len(x_all)):
            x = np.float64(x_all[t])
            count += (x < low) | (x > high)
            out[t] += slope * np.sqrt(x) + offset
    else:
        for t in range(len(x_all)):
            x = np.float64(x_all[t])
            count += (x < low) | (x > high)
            out[t] += slope * x + offset
    return count


@numba.njit(error_model="numpy", nogil=True)
def _accumulate_log1p(values, row, start, stop, slope, offset, low, high, one_plus_x, mantissa,
                      exponent):  # pragma: no cover - compiled
    """row[i] += slope * log1p(values[i]) + offset over [start, stop); returns the count outside [low, high].

    musl's log1p without branches, in three vectorisable loops over scratch arrays (the bit
    manipulations read float64 values as uint64 through array views): 1 + x = 2**k * m with m
    in [sqrt(2)/2, sqrt(2)), log1p(x) = k ln 2 + log(m) + c with c the rounding of 1 + x.
    """
    x_all, out = values[start:stop], row[start:stop]
    n = len(x_all)
    for t in range(n):
        one_plus_x[t] = 1.0 + np.float64(x_all[t])
    bits, mantissa_bits = one_plus_x.view(np.uint64), mantissa.view(np.uint64)
    for t in range(n):
        high_word = (bits[t] >> np.uint64(32)) + np.uint64(0x95F62)        # 0x3ff00000 - 0x3fe6a09e
        exponent[t] = np.float64(np.int32(high_word >> np.uint64(20)) - np.int32(0x3FF))
        mantissa_bits[t] = ((((high_word & np.uint64(0x000FFFFF)) + np.uint64(0x3FE6A09E)) << np.uint64(32))
                            | (bits[t] & np.uint64(0xFFFFFFFF)))
    count = 0
    for t in range(n):
        x, u, k = np.float64(x_all[t]), one_plus_x[t], exponent[t]
        count += (x < low) | (x > high)
        c = (1.0 - (u - x)) if k >= 2.0 else (x - (u - 1.0))
        c = c / u if k < 54.0 else 0.0
        f = mantissa[t] - 1.0
        half_f_squared = 0.5 * f * f
        s = f / (2.0 + f)
        z = s * s
        w = z * z
        r = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7))) + w * (LG2 + w * (LG4 + w * LG6))
        out[t] += slope * (s * (half_f_squared + r) + (k * LN2_LO + c) - half_f_squared + f + k * LN2_HI) + offset
    return count


def indicator_block(columns: list[np.ndarray]) -> np.ndarray:
    """Stack indicator columns into one indicators x cells block, float32 when every column is float32."""
    dtype = np.float32 if all(c.dtype == np.float32 for c in columns) else np.float64
    block = np.empty((len(columns), len(columns[0]) if columns else 0), dtype)
    for j, column in enumerate(columns):
        block[j] = column
    return block
