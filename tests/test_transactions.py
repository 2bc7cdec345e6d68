"""The optional transactions table (the behaviour model's data): one test per class of error, as for the survey."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from conftest import tiny_transactions, write_inputs
from lbm_model.contract import load_catalog
from lbm_model.errors import ContractError, ContractWarning
from lbm_model.inputs import load_inputs

PRICE_CONTROLS = ["floor_area", "dwelling_type"]


@pytest.fixture
def market(tiny):
    """Valid tiny inputs with a transactions table and the catalog's price controls: (paths, transactions)."""
    cells, survey, catalog, tmp = tiny
    catalog = {**catalog, "price_controls": PRICE_CONTROLS}
    return write_inputs(tmp / "in", cells, survey, catalog), tiny_transactions(cells), tmp


def load_with(market, transactions: pd.DataFrame, name: str = "transactions.csv"):
    paths, _, tmp = market
    path = tmp / "in" / name
    transactions.to_parquet(path, index=False) if name.endswith(".parquet") else transactions.to_csv(path, index=False)
    return load_inputs(paths["cells"], paths["survey"], paths["catalog"], path)


def test_valid_transactions_load_in_csv_and_parquet_and_enter_the_fingerprint(market):
    paths, transactions, _ = market
    without = load_inputs(paths["cells"], paths["survey"], paths["catalog"])
    for name in ("transactions.csv", "transactions.parquet"):
        inputs = load_with(market, transactions, name)
        assert len(inputs.transactions) == len(transactions)
        assert inputs.transactions["price"].dtype == float and inputs.transactions["year"].dtype == "int64"
        assert inputs.catalog.price_controls == tuple(PRICE_CONTROLS)
        assert inputs.fingerprint != without.fingerprint and "transactions" in inputs.sha256
    assert without.transactions is None and "transactions" not in without.paths


def test_missing_contract_column_is_named(market):
    with pytest.raises(ContractError, match=r"transactions\.csv: missing column\(s\) price; expected the transactions "
                                            r"columns transaction_id, year, cell_id, price"):
        load_with(market, market[1].drop(columns=["price"]))


def test_duplicate_transaction_id_names_rows(market):
    frame = market[1]
    frame.loc[5, "transaction_id"] = frame.loc[4, "transaction_id"]
    with pytest.raises(ContractError, match=r"column 'transaction_id': duplicate values in 1 row \(row 6\)"):
        load_with(market, frame)


def test_empty_transaction_id_names_rows(market):
    frame = market[1]
    frame.loc[3, "transaction_id"] = None
    with pytest.raises(ContractError, match=r"column 'transaction_id': missing or empty values in 1 row \(row 4\)"):
        load_with(market, frame)


@pytest.mark.parametrize("bad", [0.0, -250_000.0])
def test_non_positive_price_names_rows_and_values_expected(market, bad):
    frame = market[1]
    frame.loc[[2, 9], "price"] = bad
    with pytest.raises(ContractError, match=r"column 'price': non-positive prices in 2 rows \(rows 3, 10\); "
                                            r"expected prices in euros > 0"):
        load_with(market, frame)


def test_missing_or_text_price_is_refused(market):
    frame = market[1].astype({"price": object})
    frame.loc[7, "price"] = "ton"
    with pytest.raises(ContractError, match=r"column 'price': non-numeric values in 1 row \(row 8\); expected numbers"):
        load_with(market, frame)
    frame = market[1]
    frame.loc[7, "price"] = float("nan")
    with pytest.raises(ContractError, match=r"column 'price': missing, NaN or infinite values in 1 row \(row 8\)"):
        load_with(market, frame)


def test_fractional_year_is_refused(market):
    frame = market[1].astype({"year": float})
    frame.loc[1, "year"] = 2018.5
    with pytest.raises(ContractError, match=r"column 'year': non-whole numbers in 1 row \(row 2\)"):
        load_with(market, frame)


def test_transaction_in_unknown_cell_names_the_id_rows_and_cause(market):
    frame = market[1]
    frame.loc[3, "cell_id"] = frame.loc[3, "cell_id"] + " "
    with pytest.raises(ContractError, match=r"column 'cell_id\+year': transactions whose cell_id \('E\d+N\d+ '\) has no "
                                            r"cell in that year \(they differ from the cells' ids only by surrounding "
                                            r"whitespace: trim the ids\) in 1 row \(row 4\)"):
        load_with(market, frame)


def test_transaction_in_a_year_without_cells(market):
    frame = market[1]
    frame.loc[7, "year"] = 2016
    with pytest.raises(ContractError, match=r"column 'year': transactions year 2016 has no cells; cells have 2018, "
                                            r"2020 \(1 row \(row 8\)\); expected transactions years the cells table covers "
                                            r"\(add that year's cells, or drop those transactions\)"):
        load_with(market, frame)


def test_missing_price_control_column_and_values(market):
    with pytest.raises(ContractError, match=r"missing column\(s\) dwelling_type; expected the price control columns "
                                            r"floor_area, dwelling_type"):
        load_with(market, market[1].drop(columns=["dwelling_type"]))
    frame = market[1]
    frame.loc[11, "dwelling_type"] = None
    with pytest.raises(ContractError, match=r"column 'dwelling_type': missing price control values in 1 row \(row 12\); "
                                            r"expected a value for every transaction"):
        load_with(market, frame)


def test_infinite_numeric_price_control_is_refused(market):
    frame = market[1]
    frame.loc[0, "floor_area"] = float("inf")
    with pytest.raises(ContractError, match=r"column 'floor_area': missing, NaN or infinite values in 1 row \(row 1\)"):
        load_with(market, frame)


def test_catalog_without_price_controls_is_refused_for_transactions(market, tiny):
    paths, transactions, tmp = market
    catalog = yaml.safe_load(paths["catalog"].read_text())
    del catalog["price_controls"]
    paths["catalog"].write_text(yaml.safe_dump(catalog))
    with pytest.raises(ContractError, match=r"the catalog lists no 'price_controls'; expected the dwelling control "
                                            r"columns"):
        load_with(market, transactions)


@pytest.mark.parametrize("price_controls, message", [
    ("floor_area", r"field 'price_controls': expected a list of transactions column names"),
    (["floor_area", "floor_area"], r"field 'price_controls': floor_area listed more than once"),
    (["price"], r"field 'price_controls': price are transactions contract columns; expected dwelling characteristics"),
    (["green_share_500m"], r"green_share_500m listed both as indicator and as control"),
])
def test_catalog_price_controls_are_checked(tiny, price_controls, message):
    _, _, catalog, tmp = tiny
    path = tmp / "catalog.yaml"
    path.write_text(yaml.safe_dump({**catalog, "price_controls": price_controls}))
    with pytest.raises(ContractError, match=message):
        load_catalog(path)


def test_unknown_transactions_column_is_a_warning(market):
    with pytest.warns(ContractWarning, match=r"column\(s\) seller_name are neither transactions contract columns nor "
                                             r"price controls"):
        load_with(market, market[1].assign(seller_name="x"))


def test_price_controls_round_trip_through_the_catalog(tiny):
    _, _, catalog, tmp = tiny
    path = tmp / "catalog.yaml"
    path.write_text(yaml.safe_dump({**catalog, "price_controls": PRICE_CONTROLS}))
    loaded = load_catalog(path)
    path.write_text(yaml.safe_dump(loaded.to_dict()))
    assert load_catalog(path) == loaded and "price_controls" not in load_catalog_without(tmp, catalog).to_dict()


def load_catalog_without(tmp, catalog):
    path = tmp / "plain.yaml"
    path.write_text(yaml.safe_dump(catalog))
    return load_catalog(path)


def test_the_experiment_reads_transactions_only_where_the_model_needs_them(tmp_path):
    from lbm_model.config import DataConfig, DataKind
    from lbm_model.errors import LbmError
    from lbm_model.estimators import Hedonic, OrdinalLogit
    from lbm_model.experiment import transactions_path

    synthetic = DataConfig(kind=DataKind.synthetic, cells="c", survey="s", catalog="k", dir=str(tmp_path), seed=0)
    assert transactions_path(synthetic, OrdinalLogit()) is None
    with pytest.raises(LbmError, match=r"transactions\.parquet: file not found; the synthetic world in .* was made "
                                       r"before it had transactions: regenerate it"):
        transactions_path(synthetic, Hedonic())
    (tmp_path / "transactions.parquet").write_bytes(b"")
    assert transactions_path(synthetic, Hedonic()) == str(tmp_path / "transactions.parquet")
    files = DataConfig(kind=DataKind.files, cells="c", survey="s", catalog="k", transactions="in/t.csv", seed=0)
    assert transactions_path(files, OrdinalLogit()) == transactions_path(files, Hedonic()) == "in/t.csv"
