"""lbm outputs: the published outputs under a frozen model, checked against an independent computation from
`lbm score`'s own output files, a planted decline among weak buurten, suppression, and bad input."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from conftest import BIN

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model(small_inputs, tmp_path_factory):
    """Least squares on the small world, frozen (fast to fit; any model will do)."""
    from lbm_model.classes import ThresholdRule
    from lbm_model.estimators import LeastSquares
    from lbm_model.recalibrate import fit_model, freeze, select_indicators

    tmp = tmp_path_factory.mktemp("outputs")
    fitted = fit_model(small_inputs, LeastSquares(), select_indicators(small_inputs))
    freeze(fitted, small_inputs, ThresholdRule(base_year=2020), tmp / "model", model_version="ols-outputs", seed=0,
           provenance={})
    return tmp / "model"


def lbm(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "lbm"), *argv], capture_output=True, text=True)


def test_published_outputs_equal_an_independent_computation_from_lbm_score(model, small_world, tmp_path):
    cells = small_world / "cells.parquet"
    done = lbm("outputs", str(model), "--cells", str(cells), "--year", "2020", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    scored = lbm("score", "--model", str(model), "--cells", str(cells), "--year", "2020",
                 "--out", str(tmp_path / "s.parquet"), "--aggregate", "buurt")
    assert scored.returncode == 0, scored.stderr

    scores = pd.read_parquet(tmp_path / "s.parquet", columns=["cell_id", "class"])
    areas = pd.read_parquet(cells, columns=["cell_id", "year", "buurt_code", "gemeente_code", "households"]).query("year == 2020")
    merged = scores.merge(areas, on="cell_id", validate="one_to_one")
    groups = pd.read_csv(small_world / "municipality_groups.csv", dtype=str).set_index("gemeente_code")["group"]
    merged["group"] = merged["gemeente_code"].map(groups)
    table = pd.read_csv(tmp_path / "out" / "groups.csv")
    for name, part in [("national", merged), *merged.groupby("group")]:
        expected = np.bincount(part["class"] - 1, weights=part["households"], minlength=9)
        got = table.query("group == @name").sort_values("class")
        assert (got["households"].to_numpy() == expected).all(), name
        assert got["share"].to_numpy() == pytest.approx(expected / expected.sum(), abs=1e-12)
    assert set(table["group"]) == {"national", "G4", "G40", "rest"}

    low = merged[merged["class"] <= 3].groupby("buurt_code")["households"].sum()
    onvoldoende = set(low.index[low * 2.13 >= 100])
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["onvoldoende_buurten"]["count"] == len(onvoldoende) > 10
    assert summary["groups_source"].endswith("municipality_groups.csv")
    published = pd.read_parquet(tmp_path / "s_buurt.parquet").query("~suppressed")
    listed = pd.read_csv(tmp_path / "out" / "onvoldoende_buurten.csv", dtype={"buurt_code": str})
    assert set(listed["buurt_code"]) == onvoldoende & set(published["buurt_code"])
    assert summary["onvoldoende_buurten"]["withheld_by_suppression"] == len(onvoldoende - set(published["buurt_code"]))
    # the synthetic G4 has more onvoldoende households than the G40 (the world's polarisation), as published
    assert summary["groups"]["G4"]["onvoldoende_or_lower"] > summary["groups"]["G40"]["onvoldoende_or_lower"]

    # the page: renders offline in Chromium with its figure, lists no suppressed buurt and no respondent id
    from browser import render

    page = render(tmp_path / "out" / "report.html", tmp_path / "outputs.png")
    assert page.errors == [] and page.external_requests == [] and not page.blank()
    assert page.images_loaded == [True, True, True]       # group shares, selections map, veerkracht map
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    hidden = pd.read_parquet(tmp_path / "s_buurt.parquet").query("suppressed")["buurt_code"]
    assert len(hidden) and not [code for code in hidden if code in html]
    ids = pd.read_parquet(small_world / "survey.parquet", columns=["respondent_id"])["respondent_id"].astype(str)
    assert not [i for i in ids if i in html]
    assert f"<p>{summary['onvoldoende_buurten']['count']} buurten where at least 100.0" in html


@pytest.fixture(scope="module")
def every_year(model, small_world, tmp_path_factory):
    """`lbm outputs` with its defaults (2020, risers and fallers since 2018) and `lbm score` of every year with the
    buurt tables, on the small world: the directory holding out/, s.parquet and s_buurt.parquet."""
    tmp = tmp_path_factory.mktemp("every-year")
    cells = small_world / "cells.parquet"
    done = lbm("outputs", str(model), "--cells", str(cells), "--out", str(tmp / "out"))
    assert done.returncode == 0, done.stderr
    scored = lbm("score", "--model", str(model), "--cells", str(cells), "--out", str(tmp / "s.parquet"),
                 "--aggregate", "buurt")
    assert scored.returncode == 0, scored.stderr
    return tmp


def test_no_table_of_lbm_outputs_lists_a_buurt_that_lbm_score_suppresses(every_year):
    """Every buurt code in every CSV and on the page is one `lbm score` publishes in 2020 (primary and
    complementary suppression)."""
    buurten = pd.read_parquet(every_year / "s_buurt.parquet").query("year == 2020")
    published, hidden = set(buurten.loc[~buurten["suppressed"], "buurt_code"]), set(buurten.loc[buurten["suppressed"], "buurt_code"])
    assert hidden
    tables = [path for path in (every_year / "out").glob("*.csv") if "buurt_code" in pd.read_csv(path, nrows=0).columns]
    assert {p.name for p in tables} >= {"onvoldoende_buurten.csv", "under_pressure.csv", "aandachtsbuurten.csv",
                                         "veerkracht.csv", "risers_fallers.csv"}
    for path in tables:
        assert set(pd.read_csv(path, dtype={"buurt_code": str})["buurt_code"]) <= published, path.name
    html = (every_year / "out" / "report.html").read_text(encoding="utf-8")
    assert not [code for code in hidden if code in html]


def test_buurten_under_pressure_equal_an_independent_computation_from_lbm_score(model, every_year):
    """Duration, severity and size recomputed from `lbm score`'s protected buurt tables of every year."""
    tmp_path = every_year
    buurten = pd.read_parquet(tmp_path / "s_buurt.parquet").query("~suppressed").copy()
    thresholds = np.array(json.loads((model / "model.json").read_text())["content"]["classes"]["thresholds"])
    buurten["class"] = (buurten["score"].to_numpy()[:, None] >= thresholds[None, :]).sum(axis=1) + 1
    low_years = buurten[buurten["class"] <= 4].groupby("buurt_code")["year"].nunique()
    latest = buurten[buurten["year"] == 2020].set_index("buurt_code")
    share = latest[["households_class_1", "households_class_2", "households_class_3"]].sum(axis=1) / latest["households"]
    expected = {code for code in latest.index
                if low_years.get(code, 0) >= 3 and share[code] >= 0.2 and latest.loc[code, "households"] >= 250}
    got = pd.read_csv(tmp_path / "out" / "under_pressure.csv", dtype={"buurt_code": str, "gemeente_code": str})
    assert set(got["buurt_code"]) == expected and len(expected) > 5
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())["under_pressure"]
    assert summary["buurten"] == len(expected)
    assert summary["households"] == latest.loc[sorted(expected), "households"].sum()
    assert summary["gemeenten"] == got["gemeente_code"].nunique() < summary["wijken"] <= summary["buurten"]


def test_without_a_groups_file_the_real_cbs_codes_in_conf_are_used(model, small_world, tmp_path):
    """The synthetic world gives its four largest gemeenten the real G4 codes, so conf's G4 finds them."""
    from lbm_model.outputs import default_settings

    from conftest import ROOT

    settings = default_settings()
    codes = list(settings.groups)
    assert len(codes) == len(set(codes)) == 44 and all(len(c) == 6 and c.startswith("GM") for c in codes)
    assert sorted(c for c, g in settings.groups.items() if g == "G4") == ["GM0344", "GM0363", "GM0518", "GM0599"]
    # the G40 of the LBM 2020 report: members before Amstelveen joined (tests/reference/README.md names the sources)
    reference = pd.read_csv(ROOT / "tests" / "reference" / "g4_g40_gemeenten.csv", dtype=str, keep_default_na=False)
    members = reference[reference["member_from"] < "2022-07-01"]
    assert settings.groups == dict(zip(members["gemeente_code"], members["group"]))
    shutil.copy(small_world / "cells.parquet", tmp_path / "cells.parquet")
    done = lbm("outputs", str(model), "--cells", str(tmp_path / "cells.parquet"), "--year", "2020", "--out",
               str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["groups_source"] == "conf/published_outputs.yaml"
    cells = pd.read_parquet(small_world / "cells.parquet").query("year == 2020")
    world = pd.read_csv(small_world / "municipality_groups.csv", dtype=str).set_index("gemeente_code")["group"]
    g4 = cells.loc[cells["gemeente_code"].map(world) == "G4", "households"].sum()
    assert summary["groups"]["G4"]["households"] == g4 > 0


def test_planted_declines_and_rises_among_weak_buurten_are_the_fallers_and_risers(model, small_world, tmp_path):
    """Six weak buurten lose and six gain their physical environment between 2018 and 2020 (every fys
    indicator moved to the 2nd or 98th percentile): they are the fallers and risers, driven by fys."""
    from lbm_model.compare import develop_model
    from lbm_model.frozen import read_frozen_model
    from lbm_model.outputs import default_settings, published_outputs, read_groups

    document = read_frozen_model(model)
    cells = pd.read_parquet(small_world / "cells.parquet")
    before = develop_model(document, cells, 2016, 2018).areas["buurt"].sort_values("buurt_code")
    weak = before.query("households > 150 and class_to <= 4")["buurt_code"]      # zwak or lower in 2018
    down, up = list(weak.iloc[:6]), list(weak.iloc[6:12])
    for entry in document["content"]["indicators"]:
        if entry["dimension"] == "fys":
            low, high = cells[entry["name"]].quantile([0.02, 0.98])
            worse, better = (low, high) if entry["weight"] > 0 else (high, low)
            cells.loc[(cells["year"] == 2020) & cells["buurt_code"].isin(down), entry["name"]] = worse
            cells.loc[(cells["year"] == 2020) & cells["buurt_code"].isin(up), entry["name"]] = better
    settings = default_settings().with_groups(read_groups(small_world / "municipality_groups.csv"), "world")
    result = published_outputs(document, cells, 2020, settings, year_from=2018)
    movers = result.movers.set_index("buurt_code")
    assert set(down) <= set(movers.index[movers["direction"] == "faller"])
    assert set(up) <= set(movers.index[movers["direction"] == "riser"])
    assert (movers.loc[down + up, "driving_dimension"] == "fys").all()
    width = float(np.diff(document["content"]["classes"]["thresholds"]).mean())
    assert (movers["change"].abs() >= 0.5 * width).all()
    assert ((movers["class_from"] <= 4) | (movers["class_to"] <= 4)).all()
    assert result.summary()["risers_fallers"]["fallers"] >= 6


def test_suppressed_areas_appear_in_no_published_table():
    """Buurt A qualifies as onvoldoende but is hidden by complementary suppression (its sibling B has 5
    households): it is counted, never listed. A group below the minimum hides itself and the next smallest."""
    from lbm_model.outputs import default_settings, group_classes, onvoldoende_buurten
    from lbm_model.scoring import aggregate_all

    rows = [("A", "W1", "G1", 60, 2)] + [("B", "W1", "G1", 5, 5)] + [(f"C{i}", "W2", "G1", 40, 6) for i in range(3)]
    scored = pd.DataFrame([{"cell_id": f"c{i}", "year": 2020, "buurt_code": b, "wijk_code": w, "gemeente_code": g,
                            "households": h, "class": c, "score": float(c), "fys": 0.0, "won": 0.0, "vrz": 0.0,
                            "soc": 0.0, "onv": 0.0} for i, (b, w, g, h, c) in enumerate(rows)])
    buurten = aggregate_all(scored)["buurt"]
    assert buurten.set_index("buurt_code").loc["A", "suppression"] == "complementary"
    listed, count = onvoldoende_buurten(scored, buurten, default_settings())
    assert count == 1 and listed.empty

    scored["gemeente_code"] = ["GM1", "GM3", "GM2", "GM2", "GM2"]
    table = group_classes(scored, {"GM1": "G4", "GM3": "G40"}, 10)
    hidden = set(table.loc[table["suppressed"], "group"])       # G40 has 5 households; then G4 (60) < rest (120)
    assert hidden == {"G40", "G4"} and table.loc[table["suppressed"], ["households", "share"]].isna().all().all()
    assert table.query("group == 'national'")["households"].sum() == 185


def test_a_bad_groups_file_is_refused_with_nothing_written(model, small_world, tmp_path):
    bad = tmp_path / "groups.csv"
    bad.write_text("gemeente_code,group\nGM0363,G4\nGM0599,G5\n")
    done = lbm("outputs", str(model), "--cells", str(small_world / "cells.parquet"), "--groups", str(bad),
               "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "column 'group'" in done.stderr and "'G5'" in done.stderr and "row 2" in done.stderr
    assert not (tmp_path / "out").exists()
    done = lbm("outputs", str(model), "--cells", str(small_world / "cells.parquet"), "--year", "2018", "--from", "2020",
               "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "expected an earlier year" in done.stderr and not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def other_model(small_inputs, model):
    """The same fit frozen with the median anchored in class 5 instead of 6: every selection grows."""
    from lbm_model.classes import ThresholdRule
    from lbm_model.estimators import LeastSquares
    from lbm_model.recalibrate import fit_model, freeze, select_indicators

    fitted = fit_model(small_inputs, LeastSquares(), select_indicators(small_inputs))
    freeze(fitted, small_inputs, ThresholdRule(base_year=2020, anchor_class=5), model.parent / "other",
           model_version="ols-anchor5", seed=0, provenance={})
    return model.parent / "other"


def test_compare_lists_the_buurten_entering_and_leaving_each_selection(model, other_model, small_world, tmp_path):
    """lbm compare's selections equal the set differences of two separate lbm outputs runs; its groups table
    equals each run's groups.csv; a model compared with itself moves no buurt; the page renders offline."""
    from browser import render

    cells = str(small_world / "cells.parquet")
    for name, path in (("old", model), ("new", other_model)):
        done = lbm("outputs", str(path), "--cells", cells, "--year", "2020", "--out", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
    done = lbm("compare", str(model), str(other_model), "--cells", cells, "--year", "2020", "--out", str(tmp_path / "cmp"))
    assert done.returncode == 0, done.stderr
    selections = pd.read_csv(tmp_path / "cmp" / "selections.csv", dtype={"buurt_code": str})
    for selection, file in (("onvoldoende_buurt", "onvoldoende_buurten.csv"), ("under_pressure", "under_pressure.csv"),
                            ("aandachtsbuurt", "aandachtsbuurten.csv")):
        old, new = (set(pd.read_csv(tmp_path / n / file, dtype={"buurt_code": str})["buurt_code"]) for n in ("old", "new"))
        rows = selections[selections["selection"] == selection]
        for status, expected in (("enters", new - old), ("leaves", old - new), ("stays", old & new)):
            assert set(rows.loc[rows["status"] == status, "buurt_code"]) == expected, (selection, status)
        assert len(new - old) > 0
    groups = pd.read_csv(tmp_path / "cmp" / "published_groups.csv")
    for name in ("old", "new"):
        assert (groups[f"households_{name}"].to_numpy() == pd.read_csv(tmp_path / name / "groups.csv")["households"]).all()
    headline = pd.read_csv(tmp_path / "cmp" / "published_headline.csv").set_index("figure")
    for name in ("old", "new"):
        alone = json.loads((tmp_path / name / "summary.json").read_text())
        assert headline.loc["onvoldoende buurten", name] == alone["onvoldoende_buurten"]["count"]
        assert headline.loc["aandachtsbuurten: buurten", name] == alone["aandachtsbuurten"]["buurten"]
        assert headline.loc["under pressure: households", name] == alone["under_pressure"]["households"]
    page = render(tmp_path / "cmp" / "report.html", tmp_path / "cmp.png")
    assert page.errors == [] and page.external_requests == [] and not page.blank()
    assert "Buurten entering or leaving a selection" in (tmp_path / "cmp" / "report.html").read_text()

    done = lbm("compare", str(model), str(model), "--cells", cells, "--year", "2020", "--out", str(tmp_path / "self"))
    assert done.returncode == 0, done.stderr
    stable = json.loads((tmp_path / "self" / "summary.json").read_text())["published_outputs"]
    assert all(s["enters"] == s["leaves"] == 0 and s["stays"] == s["old"] for s in stable.values())
    assert all(stable[name]["old"] > 0 for name in ("onvoldoende_buurt", "under_pressure", "aandachtsbuurt"))


def scored_years(model, cells_path, tmp_path, score: bool = True):
    """`lbm score` of every year with buurt tables (unless ``score`` is False: already in ``tmp_path``): (cell scores
    with households and area codes, published buurten with their area class, class thresholds)."""
    if score:
        done = lbm("score", "--model", str(model), "--cells", str(cells_path), "--out", str(tmp_path / "s.parquet"),
                   "--aggregate", "buurt")
        assert done.returncode == 0, done.stderr
    thresholds = np.array(json.loads((model / "model.json").read_text())["content"]["classes"]["thresholds"])
    cells = pd.read_parquet(cells_path)
    scores = pd.read_parquet(tmp_path / "s.parquet").merge(
        cells[["cell_id", "year", "buurt_code", "gemeente_code", "households"]], on=["cell_id", "year"], validate="one_to_one")
    buurten = pd.read_parquet(tmp_path / "s_buurt.parquet").query("~suppressed").copy()
    buurten["class"] = (buurten["score"].to_numpy()[:, None] >= thresholds[None, :]).sum(axis=1) + 1
    return scores, buurten, thresholds


def test_aandachtsbuurten_equal_an_independent_computation_from_lbm_score(model, small_world, every_year):
    """At best zwak in >= 3 measurements, onvoldoende parts, onv among the lowest 20% of published buurten,
    >= 1000 residents (primer, section 3), recomputed from `lbm score`'s protected buurt tables."""
    tmp_path = every_year
    scores, buurten, _ = scored_years(model, small_world / "cells.parquet", tmp_path, score=False)
    published = buurten[buurten["year"] == 2020].set_index("buurt_code")
    onv = published["onv"]
    cutoff = np.quantile(onv, 0.2)             # among published buurten (else a hidden one's score could leak)
    low_years = buurten[buurten["class"] <= 4].groupby("buurt_code")["year"].nunique()
    onvoldoende = published[["households_class_1", "households_class_2", "households_class_3"]].sum(axis=1)
    expected = {code for code in published.index
                if low_years.get(code, 0) >= 3 and onvoldoende[code] >= 1 and onv[code] <= cutoff
                and published.loc[code, "households"] * 2.13 >= 1000}
    got = pd.read_csv(tmp_path / "out" / "aandachtsbuurten.csv", dtype={"buurt_code": str, "gemeente_code": str})
    assert set(got["buurt_code"]) == expected and len(expected) > 5
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())["aandachtsbuurten"]
    assert summary["buurten"] == len(expected) and summary["gemeenten"] == got["gemeente_code"].nunique()
    assert got["onv_cutoff"].iloc[0] == pytest.approx(cutoff, rel=1e-9)


def test_veerkracht_combinations_equal_an_independent_computation_and_find_planted_low_resilience(model, small_world,
                                                                                                  tmp_path):
    """Eight buurten get 10 points more vulnerable residents and every onv indicator at its worst 2nd/98th
    percentile in 2020: they fall in 'weinig veerkracht'. Every buurt's three factors and map group equal a
    computation from the cells' composition columns and `lbm score`'s buurt tables of 2014 and 2020."""
    from lbm_model.frozen import read_frozen_model

    cells = pd.read_parquet(small_world / "cells.parquet")
    document = read_frozen_model(model)
    big = cells.query("year == 2020").groupby("buurt_code")["households"].sum()
    planted = list(big[big > 300].sample(8, random_state=5).index)
    rows = (cells["year"] == 2020) & cells["buurt_code"].isin(planted)
    cells.loc[rows, "benefit_dependence_share"] += 0.10
    for entry in document["content"]["indicators"]:
        if entry["dimension"] == "onv":
            low, high = cells[entry["name"]].quantile([0.02, 0.98])
            cells.loc[rows, entry["name"]] = low if entry["weight"] > 0 else high
    cells.to_parquet(tmp_path / "cells.parquet", index=False)
    done = lbm("outputs", str(model), "--cells", str(tmp_path / "cells.parquet"), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    got = pd.read_csv(tmp_path / "out" / "veerkracht.csv", dtype={"buurt_code": str}).set_index("buurt_code")
    assert (got.loc[planted, "map_group"] == "weinig veerkracht").all()
    assert (got.loc[planted, "vulnerable_development"] == "toename").all()

    scores, buurten, thresholds = scored_years(model, tmp_path / "cells.parquet", tmp_path)
    width = np.diff(thresholds).mean()
    index = cells.assign(v=(cells["benefit_dependence_share"] + cells["migration_background_share"]) * cells["households"])
    index = index.groupby(["year", "buurt_code"])[["v", "households"]].sum()
    vulnerable = (index["v"] / index["households"]).unstack(0)
    latest = buurten[buurten["year"] == 2020]                 # the national mean of the published buurten
    national = (latest["onv"] * latest["households"]).sum() / latest["households"].sum()
    onv = buurten.pivot(index="buurt_code", columns="year", values="onv").dropna(subset=[2014, 2020])
    expected = {}
    for code in onv.index:
        dv = vulnerable.loc[code, 2020] - vulnerable.loc[code, 2014]
        dev = "afname" if dv < -0.01 else "toename" if dv > 0.01 else "gelijk"
        relative, change = onv.loc[code, 2020] - national, onv.loc[code, 2020] - onv.loc[code, 2014]
        level = "veel problemen" if relative < -0.5 * width else "problemen" if relative < 0 else "weinig problemen"
        trend = "verbetering" if change > 0.25 * width else "verslechtering" if change < -0.25 * width else "gelijk"
        expected[code] = (dev, level, trend)
    assert set(got.index) == set(expected)
    assert {code: tuple(r) for code, r in got[["vulnerable_development", "nuisance_level", "nuisance_development"]]
            .iterrows()} == expected
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())["veerkracht"]
    assert summary["computed"] and summary["map_groups"]["weinig veerkracht"]["buurten"] == \
        (got["map_group"] == "weinig veerkracht").sum() >= 8
    assert sum(summary["combinations"].values()) == len(got)


def test_without_composition_columns_veerkracht_is_not_computed_and_the_output_says_why(model, small_world):
    from lbm_model.frozen import read_frozen_model
    from lbm_model.outputs import default_settings, published_outputs
    from lbm_model.report.outputs import output_files

    cells = pd.read_parquet(small_world / "cells.parquet").drop(columns=["benefit_dependence_share"])
    result = published_outputs(read_frozen_model(model), cells, 2020, default_settings(), file="cells.parquet")
    files = output_files(result)
    assert "veerkracht.csv" not in files and "aandachtsbuurten.csv" in files
    summary = json.loads(files["summary.json"])["veerkracht"]
    assert summary["computed"] is False
    assert summary["reason"].startswith("composition column(s) benefit_dependence_share absent from cells.parquet")
    assert "Not computed: composition column(s) benefit_dependence_share absent from cells.parquet" in files["report.html"]
    assert 'id="map-selections"' in files["report.html"] and 'id="map-veerkracht"' not in files["report.html"]


def test_missing_composition_values_are_refused_naming_column_and_rows(small_world):
    from lbm_model.errors import ContractError
    from lbm_model.veerkracht import vulnerable_index

    cells = pd.read_parquet(small_world / "cells.parquet")
    cells.loc[[3, 7], "migration_background_share"] = np.nan
    with pytest.raises(ContractError, match=r"cells.parquet: column 'migration_background_share': missing or "
                                            r"non-numeric values in 2 rows \(rows 4, 8\)"):
        vulnerable_index(cells, ("benefit_dependence_share", "migration_background_share"), [2014, 2020], "cells.parquet")
