"""lbm compare: what replacing one frozen model by another changes, checked against independent counts from
`lbm score`'s own outputs, a model compared with itself, suppression, and the report in a browser."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest

from browser import render
from conftest import BIN

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models(small_inputs, fitted_ordinal, tmp_path_factory):
    """The ordinal logit and least squares on the small world, frozen (no audit needed here)."""
    from lbm_model.classes import ThresholdRule
    from lbm_model.estimators import LeastSquares
    from lbm_model.recalibrate import fit_model, freeze, select_indicators

    tmp = tmp_path_factory.mktemp("compare")
    rule = ThresholdRule(base_year=2020)
    freeze(fitted_ordinal, small_inputs, rule, tmp / "old", model_version="old-ordinal", seed=0, provenance={})
    ols = fit_model(small_inputs, LeastSquares(), select_indicators(small_inputs))
    freeze(ols, small_inputs, rule, tmp / "new", model_version="new-ols", seed=0, provenance={})
    return tmp


def lbm(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "lbm"), *argv], capture_output=True, text=True)


def test_transitions_and_shares_equal_independent_counts_from_lbm_score(models, small_world):
    """Also: --groups replaces the gemeente groups of the published outputs (here one G40 gemeente made the G4)."""
    cells = small_world / "cells.parquet"
    (models / "groups.csv").write_text("gemeente_code,group\nGM0167,G4\nGM0480,G40\n")
    done = lbm("compare", str(models / "old"), str(models / "new"), "--cells", str(cells), "--year", "2020",
               "--out", str(models / "cmp"), "--groups", str(models / "groups.csv"))
    assert done.returncode == 0, done.stderr
    groups = pd.read_csv(models / "cmp" / "published_groups.csv").groupby("group")[["households_old", "households_new"]].sum()
    in_2020 = pd.read_parquet(cells).query("year == 2020")
    assert (groups.loc["G4"] == in_2020.query("gemeente_code == 'GM0167'")["households"].sum()).all()
    assert (groups.loc["G40"] == in_2020.query("gemeente_code == 'GM0480'")["households"].sum()).all()
    for name in ("old", "new"):
        scored = lbm("score", "--model", str(models / name), "--cells", str(cells), "--year", "2020",
                     "--out", str(models / f"{name}.parquet"), "--aggregate", "buurt")
        assert scored.returncode == 0, scored.stderr
    old, new = (pd.read_parquet(models / f"{n}.parquet") for n in ("old", "new"))
    households = pd.read_parquet(cells).query("year == 2020").set_index("cell_id")["households"]
    weights = households.reindex(old["cell_id"]).to_numpy()
    expected = np.zeros((9, 9))
    np.add.at(expected, (old["class"].to_numpy() - 1, new["class"].to_numpy() - 1), weights)
    table = pd.read_csv(models / "cmp" / "transitions.csv", index_col=0)
    assert (table.to_numpy() == expected).all() and table.to_numpy().sum() == households.sum()

    shares = pd.read_csv(models / "cmp" / "shares.csv")
    assert (shares["households_new"].to_numpy() == np.bincount(new["class"] - 1, weights=weights, minlength=9)).all()
    summary = json.loads((models / "cmp" / "summary.json").read_text())
    changed = weights[old["class"].to_numpy() != new["class"].to_numpy()].sum() / weights.sum()
    assert summary["levels"]["cell"]["share_changing_class"] == pytest.approx(changed, abs=1e-12)
    assert 0 < changed < 0.5

    published = pd.read_parquet(models / "old_buurt.parquet").query("~suppressed")
    buurt_table = pd.read_csv(models / "cmp" / "transitions_buurt.csv", index_col=0)
    assert buurt_table.to_numpy().sum() == published["households"].sum()
    movers = pd.read_csv(models / "cmp" / "movers_buurt.csv", dtype={"buurt_code": str})
    assert set(movers["buurt_code"]) <= set(published["buurt_code"])      # never a suppressed buurt
    assert (movers.query("direction == 'rise'")["change"] > 0).all()
    assert set(movers["driving_dimension"]) <= {"fys", "won", "vrz", "soc", "onv"}


def test_no_suppressed_area_appears_in_any_table_map_or_page_of_the_comparison(models, small_world):
    """Against `lbm score`'s own protected buurt table (written by the test above): every area code in the
    comparison's CSVs is published, no suppressed buurt code is in the page, and the class-change map paints
    exactly the cells with at least 10 households in published buurten (all others blank)."""
    from lbm_model.compare import compare_models
    from lbm_model.frozen import read_frozen_model
    from lbm_model.report.maps import class_change_raster

    buurten = pd.read_parquet(models / "old_buurt.parquet")
    published, hidden = set(buurten.loc[~buurten["suppressed"], "buurt_code"]), set(buurten.loc[buurten["suppressed"], "buurt_code"])
    assert hidden
    for path in (models / "cmp").glob("*.csv"):
        table = pd.read_csv(path, dtype=str)
        if "buurt_code" in table:
            assert set(table["buurt_code"]) <= published, path.name
    html = (models / "cmp" / "report.html").read_text(encoding="utf-8")
    assert not [code for code in hidden if code in html]

    cells = pd.read_parquet(small_world / "cells.parquet").query("year == 2020")
    comparison = compare_models(read_frozen_model(models / "old"), read_frozen_model(models / "new"), cells, 2020)
    grid, (left, _, _, top) = class_change_raster(comparison.cell_classes, comparison.published_buurten, 10)
    rows, columns = np.nonzero(np.isfinite(grid))
    painted = set(zip(np.round(left + 50 + 100 * columns), np.round(top - 50 - 100 * rows)))
    allowed = cells[(cells["households"] >= 10) & cells["buurt_code"].isin(published)]
    assert painted == set(zip(allowed["x"].round(), allowed["y"].round()))
    assert 0 < len(painted) < len(cells)


def test_a_model_compared_with_itself_changes_nothing(models, small_world):
    done = lbm("compare", str(models / "old"), str(models / "old"), "--cells", str(small_world / "cells.parquet"),
               "--out", str(models / "self"))
    assert done.returncode == 0, done.stderr
    for level in ("", "_buurt", "_wijk", "_gemeente"):
        table = pd.read_csv(models / "self" / f"transitions{level}.csv", index_col=0).to_numpy()
        assert (table == np.diag(np.diag(table))).all() and table.sum() > 0
        if level:
            assert pd.read_csv(models / "self" / f"movers{level}.csv").empty
    summary = json.loads((models / "self" / "summary.json").read_text())
    assert all(figures["share_changing_class"] == 0 for figures in summary["levels"].values())


def test_the_comparison_report_renders_offline_in_chromium_and_holds_no_respondent_id(models, small_world, tmp_path):
    page = render(models / "cmp" / "report.html", tmp_path / "compare.png")
    assert page.errors == [] and page.external_requests == []
    assert len(page.images_loaded) == 6 and all(page.images_loaded)      # 4 transition heatmaps, 2 maps
    assert not page.blank()
    html = (models / "cmp" / "report.html").read_text(encoding="utf-8")
    assert "map: class change per 100 m cell" in html and "map: buurten entering and leaving each selection" in html
    ids = pd.read_parquet(small_world / "survey.parquet", columns=["respondent_id"])["respondent_id"].astype(str)
    assert not [i for i in ids if i in html]


def test_a_file_as_output_directory_is_refused_with_nothing_written(models, small_world, tmp_path):
    target = tmp_path / "taken"
    target.write_text("keep me")
    done = lbm("compare", str(models / "old"), str(models / "new"), "--cells", str(small_world / "cells.parquet"),
               "--out", str(target))
    assert done.returncode == 2 and "is a file; expected a directory" in done.stderr and "Traceback" not in done.stderr
    assert target.read_text() == "keep me"
    bad = tmp_path / "groups.csv"
    bad.write_text("gemeente_code,group\nGM0363,G4\nGM0363,G40\n")
    done = lbm("compare", str(models / "old"), str(models / "new"), "--cells", str(small_world / "cells.parquet"),
               "--groups", str(bad), "--out", str(tmp_path / "cmp"))
    assert done.returncode == 2 and "Traceback" not in done.stderr and not (tmp_path / "cmp").exists()
    assert "column 'gemeente_code': duplicated codes" in done.stderr and "rows 1, 2" in done.stderr


def test_a_planted_decline_shows_as_the_largest_fallers_driven_by_its_dimension(models, small_world, tmp_path):
    """Ten buurten lose their physical environment between 2018 and 2020 (every fys indicator moved to the
    2nd or 98th percentile, whichever lowers the score under the model): lbm develop must list them among the
    largest fallers, each driven by fys."""
    from lbm_model.frozen import read_frozen_model

    cells = pd.read_parquet(small_world / "cells.parquet")
    content = read_frozen_model(models / "old")["content"]
    buurt_households = cells.query("year == 2020").groupby("buurt_code")["households"].sum()
    planted = list(buurt_households[buurt_households > 150].sample(10, random_state=3).index)
    rows = (cells["year"] == 2020) & cells["buurt_code"].isin(planted)
    for entry in content["indicators"]:
        if entry["dimension"] == "fys":
            low, high = cells[entry["name"]].quantile([0.02, 0.98])
            cells.loc[rows, entry["name"]] = low if entry["weight"] > 0 else high
    cells.to_parquet(tmp_path / "cells.parquet", index=False)
    done = lbm("develop", str(models / "old"), "--cells", str(tmp_path / "cells.parquet"), "--from", "2018",
               "--to", "2020", "--out", str(tmp_path / "dev"))
    assert done.returncode == 0, done.stderr
    buurten = pd.read_csv(tmp_path / "dev" / "buurt.csv", dtype={"buurt_code": str})
    fallers = buurten.head(15)
    assert set(planted) <= set(fallers["buurt_code"]), fallers[["buurt_code", "change"]]
    assert (buurten.set_index("buurt_code").loc[planted, "driving_dimension"] == "fys").all()
    unchanged = buurten[~buurten["buurt_code"].isin(planted)]
    assert (unchanged["change_fys"].abs() < buurten.set_index("buurt_code").loc[planted, "change_fys"].abs().min()).all()
