"""Complementary suppression: the differencing attack on published buurt, wijk and gemeente tables.

The attacker knows every published area table and how the codes nest (the cells table is
public). A household-weighted area score is a sum over its children (households x score), and
per-class households sum likewise; each area's per-class counts add up to its published
households. Every hidden figure is an unknown of that linear system; it is recovered exactly
when its unit vector lies in the row space of the system (no null-space direction moves it).
The positive control runs the same attack on tables with primary suppression only.
"""

from __future__ import annotations

import dataclasses
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import null_space

from conftest import BIN
from lbm_model.disclosure import nesting, suppression_pattern
from lbm_model.dimensions import AREA_LEVELS
from lbm_model.scoring import aggregate_all, area_figures

CLASSES = [f"households_class_{c}" for c in range(1, 10)]
NEST = (("buurt", "wijk"), ("wijk", "gemeente"))


def differencing_attack(tables: dict[str, pd.DataFrame], codes: pd.DataFrame, year: int, figure: str) -> dict:
    """Every hidden value of ``figure`` the published tables determine: {(level, code): value}.

    ``figure`` is 'score' (solved as households x score totals) or 'classes' (the nine
    per-class household counts together, with each area's counts summing to its households).
    """
    rows = {lvl: t[t["year"] == year].set_index(f"{lvl}_code") for lvl, t in tables.items()}
    parents = nesting(codes[codes["year"] == year])
    columns = ["score"] if figure == "score" else CLASSES
    hidden = [(lvl, str(c)) for lvl, t in rows.items() for c in t.index[t["suppressed"] & (t["households"] > 0)]]
    unknowns = {(*h, col): i for i, (h, col) in enumerate((h, col) for h in hidden for col in columns)}

    def term(level: str, code: str, col: str) -> tuple[int | None, float]:
        row = rows[level].loc[code]
        if (level, str(code), col) in unknowns:
            return unknowns[(level, str(code), col)], 0.0
        value = row[col] if col in CLASSES else row[col] * row["households"]
        return None, 0.0 if row["households"] == 0 else float(value)

    equations, rhs = [], []
    for child, parent in NEST:
        for p_code, members in parents[child].groupby(parents[child]).groups.items():
            for col in columns:
                a, b = np.zeros(len(unknowns)), 0.0
                for sign, (lvl, code) in [(1.0, (parent, p_code))] + [(-1.0, (child, m)) for m in members]:
                    index, known = term(lvl, code, col)
                    if index is None:
                        b -= sign * known
                    else:
                        a[index] += sign
                equations.append(a)
                rhs.append(b)
    if figure == "classes":
        for lvl, code in hidden:
            a = np.zeros(len(unknowns))
            for col in columns:
                a[unknowns[(lvl, code, col)]] = 1.0
            equations.append(a)
            rhs.append(float(rows[lvl].loc[code, "households"]))
    if not unknowns:
        return {}
    A, b = np.array(equations), np.array(rhs)
    solution = np.linalg.lstsq(A, b, rcond=None)[0]
    free = null_space(A)
    determined = np.all(np.abs(free) < 1e-9, axis=1) if free.size else np.ones(len(unknowns), bool)
    found = {}
    for (lvl, code, col), i in unknowns.items():
        if determined[i]:
            value = solution[i] / rows[lvl].loc[code, "households"] if figure == "score" else solution[i]
            found.setdefault((lvl, code), {})[col] = float(value)
    return found


def hierarchy_cells(seed: int = 3) -> pd.DataFrame:
    """Cells in 3 gemeenten x 3 wijken x 4 buurten, two years; some buurten hold only a few households."""
    rng = np.random.default_rng(seed)
    rows, i = [], 0
    for year in (2018, 2020):
        i = 0
        for g in range(3):
            for w in range(3):
                for b in range(4):
                    small = (g + w + b) % 5 == 0
                    for k in range(4):
                        i += 1
                        rows.append({"cell_id": f"E{1000 + i:04d}N{4000 + k:04d}", "year": year,
                                     "x": 120_050.0 + 100 * i, "y": 450_050.0 + 100 * k,
                                     "buurt_code": f"BU0{g}{w}{b}", "wijk_code": f"WK0{g}{w}", "gemeente_code": f"GM0{g}",
                                     "households": int(rng.integers(0, 3)) if small else int(rng.integers(5, 60)),
                                     "green_share_500m": float(rng.uniform(0, 1)),
                                     "dist_supermarket_m": float(rng.uniform(50, 2000)),
                                     "share_low_income": float(rng.uniform(0, 1))})
    return pd.DataFrame(rows)


@pytest.fixture
def published(tiny_frozen, tmp_path):
    """The area tables `lbm score --aggregate buurt,wijk,gemeente` publishes, and the cell scores."""
    _, _, model = tiny_frozen
    cells = hierarchy_cells()
    cells.to_csv(tmp_path / "cells.csv", index=False)
    done = subprocess.run([str(BIN / "lbm"), "score", "--model", str(model.parent), "--cells", str(tmp_path / "cells.csv"),
                           "--out", str(tmp_path / "scores.parquet"), "--aggregate", "buurt,wijk,gemeente"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    tables = {lvl: pd.read_parquet(tmp_path / f"scores_{lvl}.parquet") for lvl in AREA_LEVELS}
    scores = pd.read_parquet(tmp_path / "scores.parquet").merge(
        cells[["cell_id", "year", "households", "buurt_code", "wijk_code", "gemeente_code"]], on=["cell_id", "year"])
    return tables, scores, cells, done.stderr


def test_the_differencing_attack_recovers_nothing_from_lbm_score(published):
    tables, _, cells, stderr = published
    assert "more so that none can be derived by subtraction" in stderr
    buurten = tables["buurt"]
    assert (buurten["suppression"] == "primary").sum() >= 4
    assert (buurten["suppression"] == "complementary").sum() >= 1
    assert (buurten["suppressed"] == (buurten["suppression"] != "")).all()
    assert buurten.loc[buurten["suppressed"], ["score", *CLASSES]].isna().all().all()
    for year in (2018, 2020):
        for figure in ("score", "classes"):
            assert differencing_attack(tables, cells, year, figure) == {}, (year, figure)


def test_positive_control_without_complementary_suppression_the_attack_recovers_the_figures(published):
    tables, scores, cells, _ = published
    primary_only = aggregate_all(scores, AREA_LEVELS, 10, complementary=False)
    truth = area_figures(scores, "buurt").set_index(["buurt_code", "year"])
    recovered_any = recovered_classes = 0
    for year in (2018, 2020):
        by_score = differencing_attack(primary_only, cells, year, "score")
        by_class = differencing_attack(primary_only, cells, year, "classes")
        for (level, code), values in by_score.items():
            if level == "buurt":
                assert values["score"] == pytest.approx(truth.loc[(code, year), "score"], abs=1e-9)
                recovered_any += 1
        for (level, code), values in by_class.items():
            if level == "buurt":
                assert set(values) == set(CLASSES)
                assert [round(values[c]) for c in CLASSES] == truth.loc[(code, year), CLASSES].tolist()
                assert np.allclose([values[c] for c in CLASSES], truth.loc[(code, year), CLASSES].to_numpy(float))
                recovered_classes += 1
    assert recovered_classes == recovered_any, "each exposed buurt gives away its nine per-class counts too"
    assert recovered_any >= 2, "the data should expose at least two buurten by subtraction, or the control shows nothing"


@pytest.mark.parametrize("seed", range(25))
def test_random_hierarchies_leave_no_hidden_area_recoverable(seed):
    """The pattern on random nestings and household counts (many small areas): nothing determined."""
    rng = np.random.default_rng(seed)
    n_gem = int(rng.integers(1, 4))
    rows = []
    for g in range(n_gem):
        for w in range(int(rng.integers(1, 5))):
            for b in range(int(rng.integers(1, 5))):
                hh = int(rng.choice([0, 0, 2, 5, 9, 12, 40, 200]))
                rows.append({"year": 2020, "buurt_code": f"B{g}{w}{b}", "wijk_code": f"W{g}{w}", "gemeente_code": f"G{g}",
                             "households": hh, "score": float(rng.normal()), "class": int(rng.integers(1, 10))})
    scores = pd.DataFrame(rows)
    for d in ("fys", "won", "vrz", "soc", "onv"):
        scores[d] = scores["score"] / 5
    tables = aggregate_all(scores, AREA_LEVELS, 10)
    for level, table in tables.items():
        assert table.loc[table["households"] < 10, "suppressed"].all(), level
    for figure in ("score", "classes"):
        assert differencing_attack(tables, scores, 2020, figure) == {}, figure


def test_pattern_is_the_same_whichever_levels_are_asked_for(published):
    tables, scores, _, _ = published
    alone = aggregate_all(scores, ("buurt",), 10)["buurt"]
    assert alone["suppression"].tolist() == tables["buurt"]["suppression"].tolist()


def test_codes_that_do_not_nest_are_refused():
    codes = pd.DataFrame({"year": [2020] * 2, "buurt_code": ["B1", "B1"], "wijk_code": ["W1", "W2"],
                          "gemeente_code": ["G1", "G1"]})
    with pytest.raises(Exception, match=r"buurt_code B1 lies in more than one wijk \(W1, W2\)"):
        nesting(codes)


def test_the_pattern_suppresses_a_parent_when_no_sibling_can_hide_the_small_child():
    households = {"buurt": pd.Series({"B1": 5, "B2": 0}), "wijk": pd.Series({"W1": 5, "W2": 50}),
                  "gemeente": pd.Series({"G1": 55})}
    parents = {"buurt": pd.Series({"B1": "W1", "B2": "W1"}), "wijk": pd.Series({"W1": "G1", "W2": "G1"})}
    pattern = suppression_pattern(households, parents, 10)
    assert pattern["buurt"].to_dict() == {"B1": "primary", "B2": "primary"}
    # W1 (5 households) is primary; gemeente G1 minus W2 would give it, so W2 is hidden, and then W2's
    # own value must not follow from its children: it has none listed, so nothing more is needed.
    assert pattern["wijk"].to_dict() == {"W1": "primary", "W2": "complementary"}
    assert pattern["gemeente"].to_dict() == {"G1": ""}


def test_hidden_parts_hide_a_complement_beside_a_lone_small_part():
    from lbm_model.disclosure import hidden_parts

    assert hidden_parts(np.array([6, 300, 250, 400]), 10).tolist() == [True, False, True, False]
    assert hidden_parts(np.array([6, 8, 250]), 10).tolist() == [True, True, False]
    assert hidden_parts(np.array([60, 80, 250]), 10).tolist() == [False, False, False]


@pytest.mark.slow   # the small world's fit and two cross-validations (~50 s)
def test_a_cross_validation_fold_below_the_respondent_minimum_publishes_no_scores(small_check_context, tmp_path):
    """A fold smaller than the minimum (raised here to just above the smallest fold) keeps its count only,
    in folds.csv and audit.json; a second fold is hidden with it so the pooled figure cannot be differenced."""
    from lbm_model.checks.context import CheckContext
    from lbm_model.checks.crossval import blocked_cv

    ctx = small_check_context
    first = blocked_cv(ctx)
    sizes = [row["n_respondents"] for row in first.details["folds"]]
    config = dataclasses.replace(ctx.config, disclosure=dataclasses.replace(ctx.config.disclosure,
                                                                            min_respondents=int(min(sizes)) + 1))
    result = blocked_cv(CheckContext(ctx.inputs, ctx.fitted, ctx.thresholds, ctx.base_year, config, tmp_path))
    folds = pd.read_csv(tmp_path / "evidence/blocked_cv/folds.csv")
    assert folds["suppressed"].sum() == 2 and folds.loc[folds["n_respondents"] == min(sizes), "suppressed"].all()
    hidden = folds[folds["suppressed"]]
    assert hidden[["r2", "rmse", "log_loss", "accuracy"]].isna().all().all()
    assert folds.loc[~folds["suppressed"], "log_loss"].notna().all()
    for row in result.details["folds"]:
        assert (row["log_loss"] is None and row["accuracy"] is None) == row["suppressed"]
    assert result.metrics["oos.r2"] == pytest.approx(first.metrics["oos.r2"])   # the pooled figure is unchanged


@pytest.mark.slow   # the small world's fit and a score LISA
def test_buurt_score_evidence_shows_only_the_buurten_the_area_tables_publish(small_check_context, tmp_path):
    """The LISA table of buurt scores would otherwise give a complementary-suppressed buurt's score away."""
    from lbm_model.checks.context import CheckContext
    from lbm_model.checks.spatial import score_autocorrelation

    ctx = small_check_context
    cells = ctx.inputs.cells
    base = cells[cells["year"] == ctx.base_year]
    households = base.groupby("buurt_code")["households"].sum()
    scores = base[["year", "buurt_code", "wijk_code", "gemeente_code", "households"]].assign(
        score=0.0, **{d: 0.0 for d in ("fys", "won", "vrz", "soc", "onv")}, **{"class": 1})
    table = aggregate_all(scores, ("buurt",), 10)["buurt"]
    complementary = set(table.loc[table["suppression"] == "complementary", "buurt_code"])
    assert complementary, "the small world should need complementary suppression in the base year"
    assert all(households[c] >= 10 for c in complementary)
    spatial = dataclasses.replace(ctx.config.spatial, score_levels=["buurt"], score_permutations=9, lisa_permutations=9)
    config = dataclasses.replace(ctx.config, spatial=spatial)
    score_autocorrelation(CheckContext(ctx.inputs, ctx.fitted, ctx.thresholds, ctx.base_year, config, tmp_path))
    lisa = pd.read_csv(tmp_path / "evidence/score_autocorrelation/lisa_scores_buurt.csv")
    assert set(lisa["buurt_code"]) == set(table.loc[~table["suppressed"] & (table["households"] > 0), "buurt_code"])
    assert not complementary & set(lisa["buurt_code"])
