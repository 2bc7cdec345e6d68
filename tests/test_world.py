"""The synthetic Netherlands: contract shape, determinism, planted truth and calibration.

Everything runs on the small world (seed 0), generated once per module. The calibration
checks recompute the true-weight scores from the written files with transforms.py and
classes.py, independently of the generator's own bookkeeping.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from lbm_model.catalog import Catalog, Indicator
from lbm_model.classes import ThresholdRule, assign_classes, class_shares, fix_thresholds, weighted_std
from lbm_model.dimensions import CELL_COLUMNS
from lbm_model.transforms import fit_standardisation, transform_domain_ok, transform_values
from lbm_model.world import build_world, generate_world
from lbm_model.world.output import write_world

FILES = ("cells.parquet", "survey.parquet", "catalog.yaml", "municipality_groups.csv", "truth.json",
         "transactions.parquet", "reference.parquet")
PUBLISHED_2020 = {"onvoldoende_or_lower": 0.04, "goed_or_better": 0.30}
RESPONSE_TARGET = np.array([0.02, 0.05, 0.15, 0.45, 0.33])


@pytest.fixture(scope="module")
def world():
    """The default small world in memory (its files are written by ``world_dir``)."""
    return build_world("small", seed=0)


@pytest.fixture(scope="module")
def world_dir(world, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world") / "seed0"
    write_world(world, out)
    return out


@pytest.fixture(scope="module")
def data(world_dir):
    cells = pd.read_parquet(world_dir / "cells.parquet")
    survey = pd.read_parquet(world_dir / "survey.parquet")
    raw = yaml.safe_load((world_dir / "catalog.yaml").read_text())
    catalog = Catalog(tuple(Indicator(**i) for i in raw["indicators"]), tuple(raw["controls"]))
    truth = json.loads((world_dir / "truth.json").read_text())
    groups = pd.read_csv(world_dir / "municipality_groups.csv", dtype=str)
    return cells, survey, catalog, truth, groups


@pytest.fixture(scope="module")
def standardised(data) -> dict[str, np.ndarray]:
    """Every indicator transformed and standardised over all cell-year rows, as the estimators do."""
    cells, _, catalog, _, _ = data
    out = {}
    for ind in catalog.indicators:
        t = transform_values(cells[ind.name].to_numpy(), ind.transform)
        out[ind.name] = fit_standardisation(t).apply(t)
    return out


@pytest.fixture(scope="module")
def recomputed(data, standardised) -> dict:
    """Class shares per year and group from the files: true weights, classes.py thresholds."""
    cells, _, _, truth, groups = data
    score = sum(w * standardised[name] for name, w in truth["weights"].items())
    group = cells["gemeente_code"].map(dict(zip(groups["gemeente_code"], groups["group"]))).to_numpy()
    years = cells["year"].to_numpy()
    households = cells["households"].to_numpy()
    base = years == 2020
    thresholds = fix_thresholds(score[base], households[base], ThresholdRule(base_year=2020))
    out = {"thresholds": thresholds, "score": score, "group": group}
    for year in np.unique(years):
        for g in ("national", "G4", "G40", "rest"):
            mask = (years == year) & ((group == g) if g != "national" else True)
            shares = class_shares(assign_classes(score[mask], thresholds), households[mask])
            out[(int(year), g)] = {"shares": shares, "onvoldoende_or_lower": shares[:3].sum(),
                                   "goed_or_better": shares[6:].sum(), "zeer_goed_or_better": shares[7:].sum()}
    return out


# determinism ---------------------------------------------------------------------------

def test_same_seed_gives_identical_files(world_dir, tmp_path):
    generate_world(tmp_path / "again", scale="small", seed=0)
    for name in FILES:
        assert (world_dir / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name


def test_different_seed_gives_a_different_world(data):
    cells, survey, _, truth, _ = data
    other = build_world("small", seed=1)
    assert set(other.geography.cell_id) != set(cells.loc[cells["year"] == 2020, "cell_id"])
    assert len(other.survey.frame) == len(survey) and not other.survey.frame["cell_id"].equals(survey["cell_id"])
    assert other.truth["cutpoints"] != truth["cutpoints"]
    assert other.truth["weights"] == truth["weights"]  # the planted model is fixed; the place is not


# contract shape ------------------------------------------------------------------------

def test_cells_columns_and_dtypes(world_dir, data):
    cells, _, catalog, _, _ = data
    schema = pq.read_schema(world_dir / "cells.parquet")
    assert schema.names == [*CELL_COLUMNS, *catalog.names]
    expected = {"cell_id": pa.string(), "year": pa.int64(), "x": pa.float64(), "y": pa.float64(), "buurt_code": pa.string(),
                "wijk_code": pa.string(), "gemeente_code": pa.string(), "households": pa.int64()}
    for name, kind in expected.items():
        assert schema.field(name).type == kind, name
    for name in catalog.names:
        assert schema.field(name).type == pa.float64(), name
    assert not cells.isna().any().any()


def test_cell_ids_codes_and_coordinates(data):
    cells, *_ = data
    assert not cells.duplicated(["cell_id", "year"]).any()
    assert sorted(cells["year"].unique()) == [2014, 2016, 2018, 2020]
    assert cells["cell_id"].str.fullmatch(r"E\d{4}N\d{4}").all()
    assert (cells["cell_id"].str[1:5].astype(int) == (cells["x"] // 100)).all()
    assert (cells["cell_id"].str[6:].astype(int) == (cells["y"] // 100)).all()
    assert cells["x"].between(10_000, 280_000).all() and cells["y"].between(300_000, 620_000).all()
    assert cells["gemeente_code"].str.fullmatch(r"GM\d{4}").all()
    assert (cells["wijk_code"].str[2:6] == cells["gemeente_code"].str[2:]).all()
    assert (cells["buurt_code"].str[2:8] == cells["wijk_code"].str[2:]).all()
    assert cells["buurt_code"].str.fullmatch(r"BU\d{8}").all()


def test_small_world_size_and_households(data):
    cells, _, _, truth, groups = data
    year = cells[cells["year"] == 2020]
    assert 17_000 <= len(year) <= 24_000
    assert 500 <= year["buurt_code"].nunique() <= 700
    assert 120 <= year["wijk_code"].nunique() <= 180
    assert year["gemeente_code"].nunique() == 15 == len(groups)
    assert (cells["households"] >= 0).all() and (year["households"] > 0).all()
    assert 14 <= year["households"].mean() <= 22 and year["households"].max() >= 150
    assert groups["group"].value_counts().to_dict() == {"rest": 11, "G40": 3, "G4": 1}
    assert truth["counts"]["cells_per_year"]["2020"] == len(year)


def test_catalog(data):
    cells, _, catalog, _, _ = data
    allowed = [i for i in catalog.model_indicators if not i.candidate]
    assert len(allowed) == 94 and len(catalog.stigmatising_indicators) == 6
    counts = pd.Series([i.dimension for i in allowed]).value_counts().to_dict()
    assert counts == {"vrz": 22, "fys": 20, "won": 20, "onv": 20, "soc": 12}
    assert {"building_age_mean", "green_percentage_500m"} <= {i.name for i in allowed}
    assert catalog.controls == ("age_group", "tenure", "household_type")
    for ind in catalog.indicators:
        assert re.fullmatch(r"[a-z0-9_]+", ind.name) and ind.description
        assert ind.transform == ("log1p" if ind.name.startswith("dist_") else "sqrt" if ind.name.startswith("n_") else "none")
        assert transform_domain_ok(cells[ind.name].to_numpy(), ind.transform).all(), ind.name
        assert cells[ind.name].std() > 0, ind.name


def test_inputs_pass_the_contract_validation(world_dir):
    contract = pytest.importorskip("lbm_model.contract")
    catalog = contract.load_catalog(world_dir / "catalog.yaml")
    cells = contract.validate_cells(contract.read_table(world_dir / "cells.parquet"), catalog, "cells.parquet")
    contract.validate_survey(contract.read_table(world_dir / "survey.parquet"), cells, catalog, "survey.parquet")


# survey --------------------------------------------------------------------------------

def test_survey_columns_and_respondent_cells(world_dir, data):
    cells, survey, *_ = data
    schema = pq.read_schema(world_dir / "survey.parquet")
    assert schema.names == ["respondent_id", "year", "cell_id", "response", "weight", "age_group", "tenure", "household_type"]
    assert [schema.field(c).type for c in ("year", "response", "weight")] == [pa.int64(), pa.int64(), pa.float64()]
    assert survey["respondent_id"].is_unique and survey["respondent_id"].str.fullmatch(r"R\d{7}").all()
    assert survey["year"].value_counts().to_dict() == {2016: 6700, 2018: 6700, 2020: 6700}
    located = survey.merge(cells[["cell_id", "year", "households"]], on=["cell_id", "year"], how="left")
    assert located["households"].notna().all() and (located["households"] > 0).all()


def test_responses_weights_and_controls(data):
    cells, survey, *_ = data
    shares = survey["response"].value_counts(normalize=True).reindex(range(1, 6), fill_value=0).to_numpy()
    assert survey["response"].between(1, 5).all()
    np.testing.assert_allclose(shares, RESPONSE_TARGET, atol=0.02)
    assert (survey["weight"] > 0).all()
    assert survey.groupby("year")["weight"].mean().between(0.99, 1.01).all()
    assert 0.1 < survey["weight"].std() / survey["weight"].mean() < 0.5
    assert set(survey["age_group"]) == {"18-34", "35-54", "55-74", "75+"}
    assert set(survey["tenure"]) == {"owner", "private_rent", "social_rent"}
    assert set(survey["household_type"]) == {"single", "couple", "family"}
    located = survey.merge(cells[["cell_id", "year", "social_rent_share"]], on=["cell_id", "year"])
    social = located["tenure"] == "social_rent"
    assert located.loc[social, "social_rent_share"].mean() > 1.2 * located.loc[~social, "social_rent_share"].mean()


# calibration ---------------------------------------------------------------------------

def test_recomputed_calibration_matches_truth(data, recomputed):
    truth = data[3]
    np.testing.assert_allclose(recomputed["thresholds"], truth["calibration"]["thresholds"], rtol=1e-9)
    for year, entry in truth["calibration"]["years"].items():
        for group, shares in entry.items():
            np.testing.assert_allclose(recomputed[(int(year), group)]["shares"], shares["shares"], atol=1e-9)


def test_2020_national_shares_match_published(recomputed):
    national = recomputed[(2020, "national")]
    for key, published in PUBLISHED_2020.items():
        assert abs(national[key] - published) <= 0.03, (key, national[key])


def test_big_cities_have_more_onvoldoende_and_are_more_polarised(recomputed):
    onv = {g: recomputed[(2020, g)]["onvoldoende_or_lower"] for g in ("G4", "G40", "rest")}
    assert onv["G4"] > onv["G40"] > onv["rest"]
    assert recomputed[(2020, "G4")]["zeer_goed_or_better"] > recomputed[(2020, "G40")]["zeer_goed_or_better"]


def test_liveability_improves_from_2014_to_2020(data, recomputed):
    cells = data[0]
    assert recomputed[(2014, "national")]["goed_or_better"] < recomputed[(2020, "national")]["goed_or_better"]
    assert recomputed[(2014, "national")]["onvoldoende_or_lower"] > recomputed[(2020, "national")]["onvoldoende_or_lower"]
    score, years, hh = recomputed["score"], cells["year"].to_numpy(), cells["households"].to_numpy()
    mean = {y: np.average(score[years == y], weights=hh[years == y]) for y in (2014, 2020)}
    rise = (mean[2020] - mean[2014]) / weighted_std(score[years == 2020], hh[years == 2020])
    assert 0.15 < rise < 0.35


# planted structure ---------------------------------------------------------------------

def test_truth_contents(data, standardised):
    cells, _, catalog, truth, _ = data
    allowed = [i for i in catalog.model_indicators if not i.candidate]
    assert set(truth["weights"]) == {i.name for i in allowed}
    weights = np.array([truth["weights"][i.name] for i in allowed])
    assert weights.std() >= 0.15 and (weights > 0).any() and (weights < 0).any()
    assert np.abs(weights).min() >= 0.04 and np.abs(weights).max() <= 0.4
    agree = np.mean([i.expected_sign == np.sign(truth["weights"][i.name]) for i in allowed])
    assert 0.75 <= agree < 1.0
    for ind in catalog.indicators:
        fitted = fit_standardisation(transform_values(cells[ind.name].to_numpy(), ind.transform))
        assert truth["standardisation"][ind.name] == pytest.approx({"mean": fitted.mean, "sd": fitted.sd}, rel=1e-12)
    assert set(truth["composition_effects"]) == {i.name for i in catalog.stigmatising_indicators}
    assert all(0.1 <= abs(g) <= 0.3 for g in truth["composition_effects"].values())
    assert np.all(np.diff(truth["cutpoints"]) > 0) and len(truth["cutpoints"]) == 4
    assert truth["control_effects"]["tenure"]["owner"] == 0.0 and truth["buurt_effect_sd"] == 0.3


def test_planted_proxies_carry_composition(data, standardised):
    catalog, truth = data[2], data[3]
    comp = np.column_stack([np.ones(len(data[0]))] + [standardised[i.name] for i in catalog.stigmatising_indicators])
    basis = np.linalg.qr(comp)[0]

    def r2(name: str) -> float:  # OLS on intercept + all composition columns; y has mean 0, variance 1
        y = standardised[name]
        fitted = basis.T @ y
        return float(fitted @ fitted - y.sum() ** 2 / y.size) / float(y @ y)

    proxies = truth["planted_proxies"]
    assert 5 <= len(proxies) <= 8 and "social_rent_share" in proxies
    for name, entry in proxies.items():
        assert r2(name) >= 0.4 and r2(name) == pytest.approx(entry["r2"], abs=1e-9)
        assert set(entry["composition"]) <= {i.name for i in catalog.stigmatising_indicators}
    others = [r2(i.name) for i in catalog.model_indicators if i.name not in proxies and not i.candidate]
    assert max(others) <= 0.2 and np.median(others) < 0.05


def test_collinearity_is_moderate(data, standardised):
    catalog = data[2]
    z = np.column_stack([standardised[i.name] for i in catalog.model_indicators if not i.candidate])
    vif = np.diag(np.linalg.inv(np.corrcoef(z, rowvar=False)))
    assert vif.max() < 10 and np.mean(vif < 4) > 0.9


def test_indicators_are_spatially_autocorrelated(data):
    cells = data[0]
    year = cells[cells["year"] == 2020].set_index("cell_id")
    east = "E" + (year.index.str[1:5].astype(int) + 1).astype(str).str.zfill(4) + "N" + year.index.str[6:]
    pairs = pd.Series(east, index=year.index)
    pairs = pairs[pairs.isin(year.index)]
    for name in ("green_percentage_500m", "noise_road_lden", "social_rent_share", "violent_crime_per_1000"):
        a, b = year.loc[pairs.index, name].to_numpy(), year.loc[pairs.to_numpy(), name].to_numpy()
        assert np.corrcoef(a, b)[0, 1] > 0.5, name


# latent model --------------------------------------------------------------------------

def test_default_world_has_buurt_effects_and_no_residual_field(world):
    latent = world.survey.latent
    assert np.all(latent["residual_field"] == 0.0)
    per_buurt = latent.groupby(world.geography.buurt[latent["cell"]])["buurt_effect"].agg(["std", "first"])
    assert np.all(per_buurt["std"].fillna(0.0) == 0.0)
    assert 0.25 < per_buurt["first"].std() < 0.35


def test_residual_field_option_gives_a_smooth_latent_residual():
    world = build_world("small", seed=0, buurt_effect_sd=0.0, residual_field_sd=0.5)
    latent = world.survey.latent
    residual = (latent["eta"] - latent[["score", "composition", "controls", "noise"]].sum(axis=1)).to_numpy()
    assert 0.35 < residual.std() < 0.65
    geo = world.geography
    x, y = geo.x[latent["cell"]], geo.y[latent["cell"]]
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, len(residual), (2, 400_000))
    d = np.hypot(x[i] - x[j], y[i] - y[j])
    near, far = (d > 0) & (d < 400), d > 20_000
    assert np.corrcoef(residual[i[near]], residual[j[near]])[0, 1] > 0.8
    assert abs(np.corrcoef(residual[i[far]], residual[j[far]])[0, 1]) < 0.3


# next-version candidates ---------------------------------------------------------------

def _column_sha256(frame: pd.DataFrame) -> dict[str, str]:
    import hashlib

    return {c: hashlib.sha256(pd.util.hash_pandas_object(frame[c], index=False).to_numpy().tobytes()).hexdigest()
            for c in frame.columns}


def test_candidates_leave_every_existing_column_bit_identical(world_dir, data):
    """Reference: sha256 of every column of the small world (seed 0) generated before candidates existed
    (tests/reference/world-small-seed0-column-sha256.json, made with the code of commit a548b69)."""
    reference = json.loads((Path(__file__).parent / "reference" / "world-small-seed0-column-sha256.json").read_text())
    cells, survey, catalog, truth, _ = data
    now = {f"cells.{k}": v for k, v in _column_sha256(cells).items()} | {f"survey.{k}": v for k, v in _column_sha256(survey).items()}
    assert {k: now[k] for k in reference} == reference
    added = [k.removeprefix("cells.") for k in now if k not in reference]
    assert set(added) == set(truth["candidates"]) and added == [i.name for i in catalog.indicators if i.candidate]
    assert pq.read_schema(world_dir / "cells.parquet").names[-len(added):] == added   # appended last


def test_signal_candidates_carry_the_buurt_effect_and_noise_candidates_nothing(world, data, standardised):
    cells, _, catalog, truth, _ = data
    roles = {name: entry["role"] for name, entry in truth["candidates"].items()}
    assert sorted(roles.values()) == ["noise"] * 4 + ["signal"] * 2
    assert all(truth["candidates"][n]["weight"] == 0.0 for n, r in roles.items() if r == "noise")
    assert all(0.15 < truth["candidates"][n]["weight"] < 0.3 for n, r in roles.items() if r == "signal")
    assert truth["weights_next"] == {**truth["weights"], **{n: e["weight"] for n, e in truth["candidates"].items()}}
    # the true candidate term at each respondent's cell is the latent buurt effect plus one constant
    latent = world.survey.latent
    year_position = np.searchsorted(np.asarray(world.preset.years), world.survey.frame["year"].to_numpy())
    rows = latent["cell"].to_numpy() + year_position * world.geography.n_cells
    term = sum(w * standardised[n][rows] for n, w in truth["weights_next"].items() if n in roles)
    gap = term - latent["buurt_effect"].to_numpy()
    assert np.ptp(gap) < 2e-3 and np.std(latent["buurt_effect"]) > 0.2   # rounding to stored precision only
    # decoys resemble a real indicator; buurt-level candidates are constant within a buurt
    for name, entry in truth["candidates"].items():
        if entry["resembles"]:
            assert 0.3 < np.corrcoef(standardised[name], standardised[entry["resembles"]])[0, 1] < 0.7, name
        if entry["level"] == "buurt":
            assert cells.groupby("buurt_code")[name].nunique().max() == 1, name
    assert {i.name for i in catalog.indicators if i.candidate} == set(roles)


def test_indicator_sets_lbm3_and_next_select_without_and_with_candidates(world_dir):
    from lbm_model.config import compose_config, typed_config
    from lbm_model.inputs import load_inputs
    from lbm_model.recalibrate import select_indicators

    inputs = load_inputs(world_dir / "cells.parquet", world_dir / "survey.parquet", world_dir / "catalog.yaml")
    chosen = {}
    for option in ("lbm3", "next", "all"):
        cfg = typed_config(compose_config([f"indicators={option}"])).indicators
        chosen[option] = [i.name for i in select_indicators(inputs, cfg.exclude, cfg.candidates)]
    candidates = [i.name for i in inputs.catalog.indicators if i.candidate]
    assert len(chosen["lbm3"]) == 94 and chosen["all"] == chosen["lbm3"] == [i.name for i in select_indicators(inputs)]
    assert chosen["next"] == chosen["lbm3"] + candidates and len(candidates) == 6
    assert typed_config(compose_config([])).indicators.name == "lbm3"      # the default run is the 3.0-shaped set
