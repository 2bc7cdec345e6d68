"""Bad input: each class of error names the file, the column and the rows, and what was expected."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import write_inputs
from lbm_model.contract import load_catalog, read_table, validate_cells, validate_survey
from lbm_model.errors import ContractError, ContractWarning
from lbm_model.inputs import load_inputs


def load(paths):
    return load_inputs(paths["cells"], paths["survey"], paths["catalog"])


def test_valid_tiny_inputs_load_in_csv_and_parquet(tiny):
    cells, survey, catalog, tmp = tiny
    for fmt in ("csv", "parquet"):
        inputs = load(write_inputs(tmp / fmt, cells, survey, catalog, fmt))
        assert len(inputs.cells) == len(cells) and len(inputs.survey) == len(survey)
        assert inputs.cells["cell_id"].dtype != np.int64 and set(inputs.catalog.controls) == {"tenure"}


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ContractError, match=r"nope\.parquet: file not found"):
        read_table(tmp_path / "nope.parquet")


def test_unreadable_file_is_named(tmp_path):
    bad = tmp_path / "cells.parquet"
    bad.write_text("this is not parquet")
    with pytest.raises(ContractError, match=r"cells\.parquet: cannot be read as Parquet"):
        read_table(bad)


def test_missing_column_is_named(tiny):
    cells, survey, catalog, tmp = tiny
    paths = write_inputs(tmp, cells.drop(columns=["households"]), survey, catalog)
    with pytest.raises(ContractError, match=r"cells\.csv: missing column\(s\) households"):
        load(paths)


def test_duplicated_column_is_named(tiny):
    cells, survey, catalog, tmp = tiny
    paths = write_inputs(tmp, cells, survey, catalog)
    text = paths["cells"].read_text().splitlines()
    paths["cells"].write_text("\n".join([text[0] + ",year"] + [line + ",2020" for line in text[1:]]) + "\n")
    with pytest.raises(ContractError, match=r"cells\.csv: duplicated column name\(s\) year"):
        load(paths)


def test_nan_in_indicator_names_column_and_rows(tiny):
    cells, survey, catalog, tmp = tiny
    cells.loc[[3, 7], "green_share_500m"] = np.nan
    with pytest.raises(ContractError, match=r"cells\.csv: column 'green_share_500m': missing, NaN or infinite values "
                                            r"in 2 rows \(rows 4, 8\); expected finite numbers"):
        load(write_inputs(tmp, cells, survey, catalog))


def test_infinity_is_refused(tiny):
    cells, survey, catalog, tmp = tiny
    cells.loc[5, "dist_supermarket_m"] = np.inf
    with pytest.raises(ContractError, match=r"column 'dist_supermarket_m'.*1 row \(row 6\)"):
        validate_cells(cells, load_catalog(write_inputs(tmp, cells, survey, catalog)["catalog"]), "cells.csv")


def test_negative_households_names_rows(tiny):
    cells, survey, catalog, tmp = tiny
    cells.loc[10, "households"] = -2
    with pytest.raises(ContractError, match=r"column 'households': values out of range in 1 row \(row 11\); expected whole numbers >= 0"):
        load(write_inputs(tmp, cells, survey, catalog))


def test_duplicate_cell_year_is_refused(tiny):
    cells, survey, catalog, tmp = tiny
    cells.loc[1, "cell_id"] = cells.loc[0, "cell_id"]
    with pytest.raises(ContractError, match=r"column 'cell_id\+year': duplicate values in 1 row \(row 2\)"):
        load(write_inputs(tmp, cells, survey, catalog))


def test_longitude_latitude_coordinates_are_refused(tiny):
    cells, survey, catalog, tmp = tiny
    cells["x"], cells["y"] = 4.9, 52.37
    with pytest.raises(ContractError, match=r"column 'x\+y': coordinates that look like longitude/latitude degrees in 80 rows"):
        load(write_inputs(tmp, cells, survey, catalog))


def test_coordinates_outside_the_netherlands(tiny):
    cells, survey, catalog, tmp = tiny
    cells.loc[3, "y"] = 700_000.0
    with pytest.raises(ContractError, match=r"column 'y': coordinates outside the Netherlands in 1 row \(row 4\); "
                                            r"expected EPSG:28992 metres between 289,000 and 629,000"):
        load(write_inputs(tmp, cells, survey, catalog))


def test_transform_domain_is_checked(tiny):
    cells, survey, catalog, tmp = tiny
    cells.loc[2, "dist_supermarket_m"] = -5.0
    with pytest.raises(ContractError, match=r"column 'dist_supermarket_m': values outside the domain of transform 'log1p' in 1 row \(row 3\)"):
        load(write_inputs(tmp, cells, survey, catalog))


def test_response_outside_scale_names_rows(tiny):
    cells, survey, catalog, tmp = tiny
    survey.loc[[0, 4], "response"] = [6, 0]
    with pytest.raises(ContractError, match=r"survey\.csv: column 'response': values out of range in 2 rows \(rows 1, 5\); "
                                            r"expected whole numbers between 1 and 5"):
        load(write_inputs(tmp, cells, survey, catalog))


def test_fractional_response_is_refused(tiny):
    cells, survey, catalog, tmp = tiny
    survey["response"] = survey["response"].astype(float)
    survey.loc[9, "response"] = 3.5
    with pytest.raises(ContractError, match=r"column 'response': non-whole numbers in 1 row \(row 10\)"):
        load(write_inputs(tmp, cells, survey, catalog))


def test_non_positive_weight_is_refused(tiny):
    cells, survey, catalog, tmp = tiny
    survey.loc[2, "weight"] = 0.0
    with pytest.raises(ContractError, match=r"column 'weight': non-positive survey weights in 1 row \(row 3\); expected weights > 0"):
        load(write_inputs(tmp, cells, survey, catalog))


def test_duplicate_respondent_is_refused(tiny):
    cells, survey, catalog, tmp = tiny
    survey.loc[5, "respondent_id"] = survey.loc[4, "respondent_id"]
    with pytest.raises(ContractError, match=r"column 'respondent_id': duplicate values in 1 row \(row 6\)"):
        load(write_inputs(tmp, cells, survey, catalog))


def test_respondent_in_unknown_cell_year_is_refused(tiny):
    cells, survey, catalog, tmp = tiny
    survey.loc[7, "year"] = 2016
    with pytest.raises(ContractError, match=r"column 'year': survey year 2016 has no cells; cells have 2018, 2020 "
                                            r"\(1 row \(row 8\)\); expected survey years the cells table covers"):
        load(write_inputs(tmp, cells, survey, catalog))


def test_missing_control_values_are_refused(tiny):
    cells, survey, catalog, tmp = tiny
    survey.loc[11, "tenure"] = None
    with pytest.raises(ContractError, match=r"column 'tenure': missing control values in 1 row \(row 12\)"):
        load(write_inputs(tmp, cells, survey, catalog))


def test_unknown_dimension_in_catalog(tiny):
    cells, survey, catalog, tmp = tiny
    catalog["indicators"][1]["dimension"] = "amenities"
    with pytest.raises(ContractError, match=r"catalog\.yaml: indicator entry 2 \('dist_supermarket_m'\): field 'dimension' is 'amenities'; "
                                            r"expected one of fys, won, vrz, soc, onv"):
        load(write_inputs(tmp, cells, survey, catalog))


def test_duplicate_indicator_names_in_catalog(tiny):
    cells, survey, catalog, tmp = tiny
    catalog["indicators"].append(dict(catalog["indicators"][0]))
    with pytest.raises(ContractError, match=r"catalog\.yaml: duplicate indicator name\(s\) green_share_500m"):
        load(write_inputs(tmp, cells, survey, catalog))


def test_catalog_indicator_absent_from_cells(tiny):
    cells, survey, catalog, tmp = tiny
    with pytest.raises(ContractError, match=r"cells\.csv: missing column\(s\) green_share_500m; expected the indicator columns"):
        load(write_inputs(tmp, cells.drop(columns=["green_share_500m"]), survey, catalog))


def test_unknown_cells_column_is_a_warning(tiny):
    cells, survey, catalog, tmp = tiny
    cells["mystery"] = 1.0
    with pytest.warns(ContractWarning, match=r"cells\.csv: column\(s\) mystery are neither contract columns nor catalog indicators"):
        load(write_inputs(tmp, cells, survey, catalog))


def test_text_in_numeric_column_names_rows(tiny):
    cells, survey, catalog, tmp = tiny
    cells["green_share_500m"] = cells["green_share_500m"].astype(object)
    cells.loc[6, "green_share_500m"] = "abc"
    with pytest.raises(ContractError, match=r"column 'green_share_500m': non-numeric values in 1 row \(row 7\)"):
        load(write_inputs(tmp, cells, survey, catalog))


def test_empty_table_is_refused(tiny):
    cells, survey, catalog, tmp = tiny
    with pytest.raises(ContractError, match=r"survey\.csv: the table has no rows"):
        load(write_inputs(tmp, cells, survey.iloc[:0], catalog))


def test_validators_accept_what_they_return(tiny):
    cells, survey, catalog, tmp = tiny
    paths = write_inputs(tmp, cells, survey, catalog)
    cat = load_catalog(paths["catalog"])
    checked = validate_cells(read_table(paths["cells"]), cat, "cells.csv")
    assert validate_survey(read_table(paths["survey"]), checked, cat, "survey.csv").shape == survey.shape
