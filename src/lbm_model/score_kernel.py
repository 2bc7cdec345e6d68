"""The fused scoring kernel: one compiled pass from indicator values to dimensions, score and class.

For every cell the kernel applies each indicator's transform, its standardisation and weight
(folded into ``slope * t + offset``), adds the contribution to the indicator's dimension,
counts values outside the training range, sums the dimensions into the score and looks the
class up among the thresholds. Input is an indicators x cells block (float32 or float64);
every sum is accumulated in float64 in the same order as the reference numpy scorer
(indicator order within a dimension, dimensions in DIMENSION_KEYS order), so scores are
bit-identical to it and cells lying exactly on a threshold get the same class.

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


@numba.njit(parallel=True, cache=True, nogil=True)
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
        for j in range(n_indicators):
            row = dimensions[dimension_index[j]]
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


@numba.njit(inline="always")
def _accumulate(values, row, start, stop, code, slope, offset, low, high):  # pragma: no cover - compiled
    """row[i] += slope * transform(values[i]) + offset over [start, stop); returns the count outside [low, high].

    One loop per transform, so the loop without a transform vectorises.
    """
    count = 0
    if code == 1:
        for i in range(start, stop):
            x = np.float64(values[i])
            count += (x < low) | (x > high)
            row[i] += slope * np.log1p(x) + offset
    elif code == 2:
        for i in range(start, stop):
            x = np.float64(values[i])
            count += (x < low) | (x > high)
            row[i] += slope * np.sqrt(x) + offset
    else:
        for i in range(start, stop):
            x = np.float64(values[i])
            count += (x < low) | (x > high)
            row[i] += slope * x + offset
    return count


def indicator_block(columns: list[np.ndarray]) -> np.ndarray:
    """Stack indicator columns into one indicators x cells block, float32 when every column is float32."""
    dtype = np.float32 if all(c.dtype == np.float32 for c in columns) else np.float64
    block = np.empty((len(columns), len(columns[0]) if columns else 0), dtype)
    for j, column in enumerate(columns):
        block[j] = column
    return block
