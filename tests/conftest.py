"""Shared fixtures: a tiny hand-made input set and the small synthetic world with a fitted model."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
os.environ.pop("MLFLOW_TRACKING_URI", None)      # tests use their own stores, never a developer's server


@pytest.fixture(autouse=True)
def no_inherited_tracking_uri(monkeypatch):
    """mlflow.set_tracking_uri also sets MLFLOW_TRACKING_URI in the process, which the configuration's default
    store reads: every test starts without one an earlier test left behind."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def run_lbm_experiment(tmp_path: Path, world: Path, *overrides: str, catalog: Path | str | None = None,
                       tracking_uri: str | None = None):
    """``lbm-experiment`` on a world's files, with tracking (a SQLite store unless ``tracking_uri``), runs and
    quick checks kept in ``tmp_path``."""
    import subprocess

    args = [str(BIN / "lbm-experiment"), "data=files", f"data.cells={world}/cells.parquet",
            f"data.survey={world}/survey.parquet", f"data.catalog={catalog or f'{world}/catalog.yaml'}",
            f"tracking.uri={tracking_uri or f'sqlite:///{tmp_path}/mlruns.db'}",
            f"tracking.artifact_dir={tmp_path}/mlartifacts",
            f"hydra.run.dir={tmp_path}/runs", "checks=fast", *overrides]
    return subprocess.run(args, capture_output=True, text=True, cwd=tmp_path)


def tiny_tables(n_cells: int = 40, n_respondents: int = 120, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """A small valid input set: two years, three indicators (one stigmatising), one control."""
    rng = np.random.default_rng(seed)
    rows = []
    for year in (2018, 2020):
        for i in range(n_cells):
            rows.append({"cell_id": f"E{1200 + i:04d}N{4500 + i % 7:04d}", "year": year,
                         "x": 120_050.0 + 100 * i, "y": 450_050.0 + 100 * (i % 7),
                         "buurt_code": f"BU0363010{i % 4}", "wijk_code": "WK036301", "gemeente_code": "GM0363",
                         "households": int(rng.integers(0, 60)), "green_share_500m": float(rng.uniform(0, 1)),
                         "dist_supermarket_m": float(rng.uniform(50, 2000)), "share_low_income": float(rng.uniform(0, 1))})
    cells = pd.DataFrame(rows)
    located = cells[cells["households"] > 0].sample(n_respondents, replace=True, random_state=seed)
    survey = pd.DataFrame({"respondent_id": [f"R{i:05d}" for i in range(n_respondents)], "year": located["year"].to_numpy(),
                           "cell_id": located["cell_id"].to_numpy(), "response": rng.integers(1, 6, n_respondents),
                           "weight": rng.uniform(0.5, 1.5, n_respondents),
                           "tenure": rng.choice(["owner", "private_rent", "social_rent"], n_respondents)})
    catalog = {"indicators": [
        {"name": "green_share_500m", "dimension": "fys", "description": "share of green within 500 m", "expected_sign": 1,
         "stigmatising": False, "transform": "none"},
        {"name": "dist_supermarket_m", "dimension": "vrz", "description": "road distance to supermarket", "expected_sign": -1,
         "stigmatising": False, "transform": "log1p"},
        {"name": "share_low_income", "dimension": "soc", "description": "share of low-income households", "expected_sign": 0,
         "stigmatising": True, "transform": "none"}],
        "controls": ["tenure"]}
    return cells, survey, catalog


def tiny_transactions(cells: pd.DataFrame, n: int = 150, seed: int = 2) -> pd.DataFrame:
    """A small valid transactions table on ``cells``: ids, year, cell, price and two dwelling controls
    (list them in the catalog under ``price_controls``)."""
    rng = np.random.default_rng(seed)
    located = cells.sample(n, replace=True, random_state=seed)
    area = rng.uniform(50, 200, n).round()
    return pd.DataFrame({"transaction_id": [f"T{i:05d}" for i in range(n)], "year": located["year"].to_numpy(),
                         "cell_id": located["cell_id"].to_numpy(),
                         "price": np.round(np.exp(11.5 + 0.006 * area + rng.normal(0, 0.2, n)), -2),
                         "floor_area": area, "dwelling_type": rng.choice(["apartment", "terraced", "detached"], n)})


def tiny_reference(cells: pd.DataFrame, seed: int = 3) -> pd.DataFrame:
    """A small valid reference table on ``cells``: every buurt, wijk and gemeente of every year, a mean grade
    ``value`` from ``n`` respondents (some below 10) with their within-area ``sd``."""
    rng = np.random.default_rng(seed)
    rows = [{"area_code": code, "level": level, "year": int(year)}
            for level in ("buurt", "wijk", "gemeente")
            for (code, year) in cells[[f"{level}_code", "year"]].drop_duplicates().itertuples(index=False)]
    frame = pd.DataFrame(rows)
    return frame.assign(value=rng.normal(7.2, 0.4, len(frame)).round(2), n=rng.integers(5, 60, len(frame)),
                        sd=rng.uniform(0.8, 1.5, len(frame)).round(3))


def write_inputs(directory: Path, cells: pd.DataFrame, survey: pd.DataFrame, catalog: dict, fmt: str = "csv") -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"cells": directory / f"cells.{fmt}", "survey": directory / f"survey.{fmt}", "catalog": directory / "catalog.yaml"}
    for key in ("cells", "survey"):
        frame = cells if key == "cells" else survey
        frame.to_csv(paths[key], index=False) if fmt == "csv" else frame.to_parquet(paths[key], index=False)
    paths["catalog"].write_text(yaml.safe_dump(catalog, sort_keys=False))
    return paths


@pytest.fixture
def tiny(tmp_path: Path):
    cells, survey, catalog = tiny_tables()
    return cells, survey, catalog, tmp_path


@pytest.fixture(scope="session")
def small_world(tmp_path_factory) -> Path:
    """The default small synthetic world, generated once per test session."""
    from lbm_model.world import generate_world

    out = tmp_path_factory.mktemp("world-small")
    generate_world(out, scale="small", seed=0)
    return out


@pytest.fixture(scope="session")
def small_inputs(small_world):
    from lbm_model.inputs import load_inputs

    return load_inputs(small_world / "cells.parquet", small_world / "survey.parquet", small_world / "catalog.yaml")


@pytest.fixture(scope="session")
def market_inputs(small_world):
    """The small world's inputs with its transactions table."""
    from lbm_model.inputs import load_inputs

    w = small_world
    return load_inputs(w / "cells.parquet", w / "survey.parquet", w / "catalog.yaml", w / "transactions.parquet")


@pytest.fixture(scope="session")
def fitted_ordinal(small_inputs):
    """The production specification on the small world: ordinal logit, clustered by buurt."""
    from lbm_model.estimators import OrdinalLogit
    from lbm_model.recalibrate import fit_model, select_indicators

    return fit_model(small_inputs, OrdinalLogit(), select_indicators(small_inputs))


@pytest.fixture
def tiny_frozen(tiny):
    """An ordinal model fitted on the tiny inputs and frozen: (inputs, fitted, model path)."""
    from lbm_model.classes import ThresholdRule
    from lbm_model.estimators import OrdinalLogit
    from lbm_model.inputs import load_inputs
    from lbm_model.recalibrate import fit_model, freeze, select_indicators

    cells, survey, catalog, tmp = tiny
    paths = write_inputs(tmp / "in", cells, survey, catalog)
    inputs = load_inputs(paths["cells"], paths["survey"], paths["catalog"])
    fitted = fit_model(inputs, OrdinalLogit(), select_indicators(inputs))
    path, content = freeze(fitted, inputs, ThresholdRule(base_year=2020), tmp / "export", model_version="test", seed=0, provenance={"run": "a"})
    return inputs, fitted, path


@pytest.fixture(scope="session")
def fast_checks_config():
    """conf/checks/default.yaml with few permutations and replicates (same thresholds)."""
    import dataclasses

    from lbm_model.checks.config import load_checks_config

    cfg = load_checks_config()
    return dataclasses.replace(
        cfg, spatial=dataclasses.replace(cfg.spatial, permutations=99, lisa_permutations=99),
        cluster_bootstrap=dataclasses.replace(cfg.cluster_bootstrap, replicates=5))


@pytest.fixture(scope="session")
def small_check_context(small_inputs, fitted_ordinal, fast_checks_config, tmp_path_factory):
    """Checks context of the ordinal model on the small world (classes fixed on 2020)."""
    from lbm_model.checks.context import CheckContext
    from lbm_model.classes import ThresholdRule
    from lbm_model.recalibrate import class_thresholds

    thresholds = class_thresholds(fitted_ordinal, small_inputs.cells, ThresholdRule(base_year=2020))
    return CheckContext(small_inputs, fitted_ordinal, thresholds, 2020, fast_checks_config,
                        tmp_path_factory.mktemp("checks-export"))
