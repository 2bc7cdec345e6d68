"""Production scoring: one row per cell, clear errors, area aggregation, no training stack."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import BIN
from lbm_model.errors import ContractError, ContractWarning
from lbm_model.scoring import CompiledScorer, aggregate_areas, score_cells

TRAINING_STACK = ("statsmodels", "sklearn", "pymc", "mlflow", "hydra")


def test_one_row_per_cell_and_year_filter(tiny_frozen):
    inputs, _, path = tiny_frozen
    scorer = CompiledScorer.load(path)
    all_years = score_cells(scorer, inputs.cells, "cells.csv")
    assert len(all_years) == len(inputs.cells)
    only_2020 = score_cells(scorer, inputs.cells, "cells.csv", years=[2020])
    assert len(only_2020) == (inputs.cells["year"] == 2020).sum() and set(only_2020["year"]) == {2020}
    assert only_2020["class"].between(1, 9).all()
    with pytest.raises(ContractError, match=r"cells.csv: column 'year': no cells for year\(s\) 2030"):
        score_cells(scorer, inputs.cells, "cells.csv", years=[2030])


def test_nan_and_missing_indicator_are_errors_naming_column_and_rows(tiny_frozen):
    inputs, _, path = tiny_frozen
    scorer = CompiledScorer.load(path)
    broken = inputs.cells.copy()
    broken.loc[[2, 9], "dist_supermarket_m"] = np.nan
    with pytest.raises(ContractError, match=r"column 'dist_supermarket_m': missing, NaN or infinite values in 2 rows \(rows 3, 10\)"):
        score_cells(scorer, broken, "cells.csv")
    with pytest.raises(ContractError, match=r"cells.csv: missing column\(s\) green_share_500m"):
        score_cells(scorer, inputs.cells.drop(columns=["green_share_500m"]), "cells.csv")


def test_out_of_training_range_is_a_warning_with_counts(tiny_frozen):
    inputs, _, path = tiny_frozen
    shifted = inputs.cells.copy()
    shifted.loc[[0, 1, 2], "green_share_500m"] = 5.0
    with pytest.warns(ContractWarning, match=r"outside the model's training range \(cells per indicator\): green_share_500m: 3"):
        score_cells(CompiledScorer.load(path), shifted, "cells.csv")


def test_area_aggregate_is_household_weighted_and_suppresses_small_areas(tiny_frozen):
    inputs, _, path = tiny_frozen
    scores = score_cells(CompiledScorer.load(path), inputs.cells, "cells.csv", years=[2020])
    buurten = aggregate_areas(scores, "buurt", min_households=10)
    first = scores[scores["buurt_code"] == buurten.loc[0, "buurt_code"]]
    expected = np.average(first["score"], weights=first["households"])
    assert buurten.loc[0, "score"] == pytest.approx(expected, abs=1e-12)
    class_cols = [f"households_class_{c}" for c in range(1, 10)]
    visible = buurten[~buurten["suppressed"]]
    assert (visible[class_cols].sum(axis=1) == visible["households"]).all()
    in_first = (scores["buurt_code"] == buurten.loc[0, "buurt_code"]).to_numpy()
    small = scores.assign(households=np.where(in_first, 0, scores["households"]))
    small.loc[np.flatnonzero(in_first)[0], "households"] = 9  # 9 households in the whole buurt: below 10
    suppressed = aggregate_areas(small, "buurt", min_households=10)
    assert suppressed.loc[0, "suppressed"] and np.isnan(suppressed.loc[0, "score"]) and np.isnan(suppressed.loc[0, class_cols]).all()


def test_score_command_imports_no_training_stack(tiny_frozen, tmp_path):
    inputs, _, path = tiny_frozen
    cells = tmp_path / "cells.parquet"
    inputs.cells.to_parquet(cells, index=False)
    out = tmp_path / "scores.csv"
    probe = (
        "import sys\n"
        "from lbm_model.cli import app\n"
        "try:\n"
        f"    app(['score', '--model', r'{path.parent}', '--cells', r'{cells}', '--out', r'{out}', '--aggregate', 'buurt,gemeente'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {TRAINING_STACK!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout
    written = pd.read_csv(out)
    assert list(written.columns) == ["cell_id", "year", "score", "fys", "won", "vrz", "soc", "onv", "class", "class_label"]
    assert len(written) == len(inputs.cells)
    assert (tmp_path / "scores_buurt.csv").is_file() and (tmp_path / "scores_gemeente.csv").is_file()


def test_score_command_bad_input_exits_nonzero_without_traceback_or_output(tiny_frozen, tmp_path):
    inputs, _, path = tiny_frozen
    tmp_path = tmp_path / "scoring"
    tmp_path.mkdir()
    cells = tmp_path / "cells.csv"
    inputs.cells.drop(columns=["dist_supermarket_m"]).to_csv(cells, index=False)
    out = tmp_path / "scores.parquet"
    result = subprocess.run([str(BIN / "lbm"), "score", "--model", str(path.parent), "--cells", str(cells), "--out", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "missing column(s) dist_supermarket_m" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [cells]
