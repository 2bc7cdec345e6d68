"""The fused compiled scorer against the reference numpy scorer it replaced.

``reference_*`` below is the scorer as it was before the compiled kernel (one numpy pass per
indicator); the kernel must reproduce its dimensions and scores to 1e-9 (in fact to about
1e-15: it sums in the same order, and its vectorised log1p is within one ulp of numpy's), its
classes (also for cells lying exactly on a threshold) and its out-of-range counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lbm_model.classes import ThresholdRule, assign_classes
from lbm_model.dimensions import DIMENSION_KEYS
from lbm_model.recalibrate import freeze
from lbm_model.score_kernel import BLOCK_CELLS
from lbm_model.scoring import CompiledScorer
from lbm_model.transforms import transform_values


def reference_dimension_scores(scorer: CompiledScorer, cells: pd.DataFrame) -> np.ndarray:
    out = np.zeros((len(cells), len(DIMENSION_KEYS)))
    for i, name in enumerate(scorer.names):
        contribution = scorer.slope[i] * transform_values(cells[name].to_numpy(), scorer.transforms[i]) + scorer.offset[i]
        out[:, scorer.dimension_index[i]] += contribution
    return out


def reference_out_of_range(scorer: CompiledScorer, cells: pd.DataFrame) -> dict[str, int]:
    counts = {}
    for i, name in enumerate(scorer.names):
        values = cells[name].to_numpy(float)
        n = int(((values < scorer.train_min[i]) | (values > scorer.train_max[i])).sum())
        if n:
            counts[name] = n
    return counts


def assert_same_as_reference(scorer: CompiledScorer, cells: pd.DataFrame) -> pd.DataFrame:
    dims = reference_dimension_scores(scorer, cells)
    total = dims.sum(axis=1)
    scores = scorer.score(cells)
    assert np.max(np.abs(scores[list(DIMENSION_KEYS)].to_numpy() - dims)) <= 1e-9
    assert np.max(np.abs(scores["score"].to_numpy() - total)) <= 1e-9
    np.testing.assert_array_equal(scores["class"].to_numpy(), assign_classes(total, scorer.thresholds))
    assert scorer.out_of_range_counts(cells) == reference_out_of_range(scorer, cells)
    return scores


def with_thresholds_on(scorer: CompiledScorer, scores: np.ndarray) -> CompiledScorer:
    """The same model with its thresholds moved exactly onto some cells' reference scores."""
    picks = np.sort(np.unique(scores))[np.linspace(5, len(np.unique(scores)) - 6, 8).astype(int)]
    return CompiledScorer(**{**scorer.__dict__, "thresholds": picks})


def random_scorer(rng: np.random.Generator, n_indicators: int) -> CompiledScorer:
    transforms = tuple(rng.choice(["none", "log1p", "sqrt"], n_indicators))
    return CompiledScorer(
        names=tuple(f"ind_{j}" for j in range(n_indicators)), transforms=transforms,
        dimension_index=rng.integers(0, len(DIMENSION_KEYS), n_indicators),
        slope=rng.normal(0, 0.3, n_indicators), offset=rng.normal(0, 0.5, n_indicators),
        train_min=np.full(n_indicators, 0.25), train_max=np.full(n_indicators, 40.0),
        thresholds=np.linspace(-1.5, 1.5, 8), content_sha256="0" * 64)


def random_cells(rng: np.random.Generator, scorer: CompiledScorer, n: int, dtype) -> pd.DataFrame:
    values = rng.gamma(2.0, 5.0, (n, len(scorer.names))).astype(dtype)
    values[:50] = 0.25                       # exactly on train_min: inside the range
    values[50:100] = 40.0                    # exactly on train_max: inside
    values[100:150] = 0.0                    # below train_min, and the edge of sqrt's domain
    values[150:200] = np.nextafter(np.float32(40.0), np.float32(np.inf))   # just above train_max
    frame = pd.DataFrame(values, columns=list(scorer.names))
    return frame.assign(cell_id=[f"c{i}" for i in range(n)], year=2020)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_matches_reference_on_random_data_and_edge_values(dtype):
    rng = np.random.default_rng(14)
    scorer = random_scorer(rng, 37)
    cells = random_cells(rng, scorer, 3 * BLOCK_CELLS + 17, dtype)   # several parallel blocks and a ragged tail
    scores = assert_same_as_reference(scorer, cells)
    assert scorer.out_of_range_counts(cells)["ind_0"] >= 100       # the below/above rows, not the on-edge rows
    on_edges = with_thresholds_on(scorer, scores["score"].to_numpy())
    classes = assert_same_as_reference(on_edges, cells)["class"].to_numpy()
    assert set(np.unique(classes)) == set(range(1, 10))             # every class, cells on each threshold included
    exactly_on = np.isin(scores["score"].to_numpy(), on_edges.thresholds)
    assert exactly_on.sum() >= 8 and (classes[exactly_on] >= 2).all()


def test_kernel_matches_reference_on_the_small_world(small_inputs, fitted_ordinal, tmp_path):
    path, _ = freeze(fitted_ordinal, small_inputs, ThresholdRule(base_year=2020), tmp_path, model_version="test",
                     seed=0, provenance={})
    scorer = CompiledScorer.load(path)
    cells = small_inputs.cells
    scores = assert_same_as_reference(scorer, cells)
    assert_same_as_reference(with_thresholds_on(scorer, scores["score"].to_numpy()), cells)
    as_float32 = cells.astype({name: np.float32 for name in scorer.names})
    assert_same_as_reference(scorer, as_float32)


def test_parquet_batches_score_and_refuse_like_the_whole_table(tiny_frozen, tmp_path):
    from lbm_model.contract import read_table
    from lbm_model.errors import ContractError, ContractWarning
    from lbm_model.scoring import score_cells, score_parquet

    inputs, _, path = tiny_frozen
    scorer = CompiledScorer.load(path)
    cells = inputs.cells.copy()
    cells.loc[[43, 73], "green_share_500m"] = 5.0                 # year 2020, out of range in two different batches
    file = tmp_path / "cells.parquet"
    cells.to_parquet(file, index=False)
    with pytest.warns(ContractWarning, match=r"green_share_500m: 2\."):
        whole = score_cells(scorer, read_table(file), str(file), years=[2020])
    with pytest.warns(ContractWarning, match=r"green_share_500m: 2\."):
        batched = score_parquet(scorer, file, years=[2020], batch_rows=7)
    pd.testing.assert_frame_equal(batched, whole)

    def refusal(frame: pd.DataFrame, **kwargs) -> tuple[str, str]:
        frame.to_parquet(file, index=False)
        with pytest.raises(ContractError) as from_table:
            score_cells(scorer, read_table(file), str(file), **kwargs)
        with pytest.raises(ContractError) as from_batches:
            score_parquet(scorer, file, batch_rows=7, **kwargs)
        return str(from_table.value), str(from_batches.value)

    late_nan = cells.copy()
    late_nan.loc[[2], "dist_supermarket_m"] = np.nan               # first batch; a later batch has an earlier-column error
    late_nan.loc[[30], "households"] = -1
    expected, got = refusal(late_nan)
    assert got == expected and "column 'households'" in got and "row 31" in got
    duplicated = pd.concat([cells, cells.iloc[[1]]], ignore_index=True)   # duplicate across batches
    expected, got = refusal(duplicated)
    assert got == expected and "duplicate values" in got and str(len(duplicated)) in got
    expected, got = refusal(cells, years=[2031])
    assert got == expected and "no cells for year(s) 2031" in got


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vectorised_log1p_is_within_one_ulp_of_numpy(dtype):
    """The kernel's log1p (musl's algorithm in vectorisable loops) against np.log1p over a wide range of values."""
    from lbm_model.score_kernel import BLOCK_CELLS, fused_score

    rng = np.random.default_rng(12)
    values = np.concatenate([rng.gamma(2.0, 3.0, 5000), 10 ** rng.uniform(-20, 8, 5000), rng.uniform(-0.999, 0, 2000),
                             [0.0, 1e-300, np.sqrt(2) - 1, np.sqrt(0.5) - 1, 1.0, 2.0**53, 3e20]]).astype(dtype)
    block = values[None, :]
    dimensions, score, _, outside = fused_score(block, np.array([1]), np.array([0]), np.array([1.0]), np.array([0.0]),
                                                np.array([0.0]), np.array([10.0]), np.linspace(-1, 1, 8), 5, BLOCK_CELLS)
    expected = np.log1p(values.astype(np.float64))
    assert np.all(np.abs(dimensions[0] - expected) <= np.spacing(np.abs(expected)))
    assert outside[0] == int(((values < 0) | (values > 10)).sum())
