"""Read and validate the inputs of the data contract: cells, survey, catalog, the optional transactions and reference.

Every violation raises a ContractError naming the file, the column, the offending rows
(1-based data rows, header not counted) and what was expected. Nothing is imputed,
dropped or clipped. See docs/data-contract.md.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from lbm_model.catalog import Catalog, Indicator
from lbm_model.design import check_weights
from lbm_model.dimensions import CELL_COLUMNS, DIMENSIONS, RESPONSE_LEVELS, SURVEY_COLUMNS, TRANSFORMS
from lbm_model.errors import ContractError, ContractWarning, describe_rows, rows_error
from lbm_model.transforms import transform_domain_ok

# EPSG:28992 (Amersfoort / RD New) validity bounds of the Netherlands, metres.
RD_X_BOUNDS = (-7_000.0, 300_000.0)
RD_Y_BOUNDS = (289_000.0, 629_000.0)
STRING_COLUMNS = ("cell_id", "buurt_code", "wijk_code", "gemeente_code", "respondent_id", "transaction_id", "area_code")
# More households than this in one 100 m cell is a data error (the densest cells hold a few thousand).
MAX_HOUSEHOLDS_PER_CELL = 100_000
# Survey columns with a fixed meaning; none of them may be listed as a control.
SURVEY_CONTRACT_COLUMNS = ("respondent_id", "year", "cell_id", "response", "weight")
# Transactions columns with a fixed meaning; none of them may be listed as a price control.
TRANSACTION_COLUMNS = ("transaction_id", "year", "cell_id", "price")
# The reference table for external validation (``sd``, the within-area sd of the answers, is optional).
REFERENCE_COLUMNS = ("area_code", "level", "year", "value", "n")
REFERENCE_LEVELS = ("buurt", "wijk", "gemeente")


def _require_file(path: Path) -> None:
    if path.is_dir():
        raise ContractError(f"{path}: is a directory; expected a file.")
    if not path.is_file():
        raise ContractError(f"{path}: file not found.")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a Parquet or CSV table; id and code columns are always read as strings."""
    path = Path(path)
    _require_file(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            names = pq.read_schema(path).names
            _refuse_duplicate_columns(path, names)
            table = pq.read_table(path)
            # column by column, freeing each Arrow buffer as it is converted: the Arrow table and a
            # consolidated pandas copy never coexist (at nl scale 4.5 GB peak instead of 7.0 GB)
            frame = table.to_pandas(self_destruct=True, split_blocks=True)
            del table
        elif suffix == ".csv":
            header = _csv_header(path)
            _refuse_excel_dutch_csv(path, header)
            _refuse_duplicate_columns(path, header)
            dtypes = {c: str for c in STRING_COLUMNS if c in header}
            frame = pd.read_csv(path, dtype=dtypes, keep_default_na=True)
        else:
            raise ContractError(f"{path}: unsupported file type '{suffix}'; expected .parquet or .csv.")
    except ContractError:
        raise
    except UnicodeDecodeError as exc:
        raise _encoding_error(path, exc) from None
    except Exception as exc:  # any reader failure is a user-facing problem with the file
        kind = "Parquet" if suffix == ".parquet" else "CSV"
        raise ContractError(f"{path}: cannot be read as {kind} ({type(exc).__name__}: {exc}).") from None
    if len(frame) == 0:
        raise ContractError(f"{path}: the table has no rows; expected at least one data row.")
    return frame.reset_index(drop=True)


def _csv_header(path: Path) -> list[str]:
    import csv

    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        return next(csv.reader(handle), [])


def _refuse_excel_dutch_csv(path: Path, header: list[str]) -> None:
    """A semicolon-separated file (Excel's CSV under Dutch regional settings, usually with decimal commas)."""
    if len(header) == 1 and header[0].count(";") >= 2:
        import csv

        with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
            rows = [row for _, row in zip(range(50), csv.reader(handle, delimiter=";"))]
        decimal_comma = any(len(v) < 40 and v.replace(",", "", 1).lstrip("-").isdigit() and "," in v
                            for row in rows[1:] for v in row)
        raise ContractError(f"{path}: looks like an Excel CSV export with Dutch regional settings (columns separated by "
                            f"';'{', decimal commas such as 0,5' if decimal_comma else ''}); expected comma-separated "
                            "values with decimal points. Save it as Parquet, or export it with a comma as list "
                            "separator and a point as decimal symbol (e.g. pandas: read_csv(path, sep=';', "
                            "decimal=',').to_csv(new, index=False)).")


def _encoding_error(path: Path, exc: UnicodeDecodeError) -> ContractError:
    """Name the data row and column of the first byte that is not UTF-8."""
    import csv

    raw = path.read_bytes()
    if raw.startswith(b"PAR1"):
        return ContractError(f"{path}: cannot be read as CSV (it is a Parquet file; rename it to "
                             f"{path.with_suffix('.parquet').name}).")
    if b"\x00" in raw[:65536]:
        return ContractError(f"{path}: cannot be read as CSV (binary content, not text); expected a UTF-8 CSV file.")
    lines = raw.splitlines()
    header = next(csv.reader([lines[0].decode("utf-8-sig", errors="replace")]), []) if lines else []
    for number, line in enumerate(lines):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as bad:
            column_index = line[: bad.start].count(b",")
            column = header[column_index] if column_index < len(header) else f"#{column_index + 1}"
            where = "the header" if number == 0 else f"row {number} (data row, header not counted)"
            return ContractError(f"{path}: {where}, column '{column}': byte 0x{line[bad.start]:02x} is not UTF-8; "
                                 "expected a UTF-8 file. It was probably saved as Windows-1252/Latin-1: save it again "
                                 "as 'CSV UTF-8' (Excel) or convert it (iconv -f cp1252 -t utf-8).")
    return ContractError(f"{path}: not UTF-8 text ({exc.reason}); expected a UTF-8 file.")


def _refuse_duplicate_columns(path: Path, names: list[str]) -> None:
    seen: set[str] = set()
    dupes = sorted({n for n in names if n in seen or seen.add(n)})
    if dupes:
        raise ContractError(f"{path}: duplicated column name(s) {', '.join(dupes)}; expected each column once.")


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...] | list[str], file: str, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ContractError(f"{file}: missing column(s) {', '.join(missing)}; expected the {what} columns "
                            f"{', '.join(columns)} (docs/data-contract.md).")


def _bad_rows(mask: np.ndarray) -> list[int]:
    return (np.flatnonzero(mask) + 1).tolist()


def check_numeric(frame: pd.DataFrame, column: str, file: str) -> np.ndarray:
    """The column as float64; refuse text, missing values, NaN and infinity."""
    series = frame[column]
    if not _is_real_number_dtype(series):
        try:
            as_num = pd.to_numeric(series.astype(object), errors="coerce")
            bad = (as_num.isna() & series.notna()).to_numpy(bool)
        except (TypeError, ValueError):
            bad = np.ones(len(series), bool)
        if pd.api.types.is_bool_dtype(series) or not bad.any():
            # the column's type itself is wrong (true/false, dates, categories, ...): every row is
            raise rows_error(file, column, _bad_rows(np.ones(len(series), bool)),
                             f"non-numeric values (the column holds {series.dtype} values)", "numbers")
        raise rows_error(file, column, _bad_rows(bad), "non-numeric values", "numbers")
    values = series.to_numpy(dtype=float, na_value=np.nan)
    if not np.isfinite(values).all():
        raise rows_error(file, column, _bad_rows(~np.isfinite(values)), "missing, NaN or infinite values", "finite numbers")
    return values


def _is_real_number_dtype(series: pd.Series) -> bool:
    kinds = pd.api.types
    return (kinds.is_numeric_dtype(series) and not kinds.is_bool_dtype(series)
            and not kinds.is_complex_dtype(series))


def check_whole(frame: pd.DataFrame, column: str, file: str, low: float | None = None, high: float | None = None) -> None:
    """Refuse non-whole numbers and values outside [low, high]."""
    values = check_numeric(frame, column, file)
    if not (values == np.round(values)).all():
        raise rows_error(file, column, _bad_rows(values != np.round(values)), "non-whole numbers", "whole numbers")
    outside = np.zeros(values.shape, bool)
    if low is not None:
        outside |= values < low
    if high is not None:
        outside |= values > high
    if outside.any():
        span = f">= {low:g}" if high is None else f"between {low:g} and {high:g}"
        raise rows_error(file, column, _bad_rows(outside), "values out of range", f"whole numbers {span}")


def check_text(frame: pd.DataFrame, column: str, file: str) -> None:
    """Refuse missing or empty identifiers, and values that are not single codes (lists, mappings)."""
    series = frame[column]
    if series.dtype == object:
        nested = np.fromiter((not isinstance(v, (str, int, np.integer)) and v is not None and v == v
                              for v in series.to_numpy(dtype=object)), bool, len(series))
        if nested.any():
            raise rows_error(file, column, _bad_rows(nested), "values that are not single codes",
                             "a non-empty text code")
    bad = series.isna().to_numpy(bool) | (series.astype(str).str.strip() == "").to_numpy(bool)
    if bad.any():
        raise rows_error(file, column, _bad_rows(bad), "missing or empty values", "a non-empty text code")


def check_unique(frame: pd.DataFrame, columns: list[str], file: str) -> None:
    dupes = frame.duplicated(subset=columns, keep="first").to_numpy()
    if dupes.any():
        raise rows_error(file, "+".join(columns), _bad_rows(dupes), "duplicate values", "each value once")


def check_coordinates(frame: pd.DataFrame, file: str) -> None:
    """x, y must be EPSG:28992 metres inside the Netherlands' bounds."""
    x, y = check_numeric(frame, "x", file), check_numeric(frame, "y", file)
    degrees = (np.abs(x) <= 180) & (np.abs(y) <= 90)
    if degrees.any():
        raise rows_error(file, "x+y", _bad_rows(degrees), "coordinates that look like longitude/latitude degrees",
                         "EPSG:28992 (RD New) metres, e.g. x=121000, y=487000 for Amsterdam")
    for column, (low, high) in (("x", RD_X_BOUNDS), ("y", RD_Y_BOUNDS)):
        values = check_numeric(frame, column, file)
        outside = (values < low) | (values > high)
        if outside.any():
            raise rows_error(file, column, _bad_rows(outside), "coordinates outside the Netherlands",
                             f"EPSG:28992 metres between {low:,.0f} and {high:,.0f}")


def validate_cells(cells: pd.DataFrame, catalog: Catalog, file: str, *, indicators: list[str] | None = None) -> pd.DataFrame:
    """Check a cells table against the contract and the catalog; returns it with clean dtypes.

    ``indicators`` limits the indicator checks to the named ones (for scoring with a
    frozen model); by default every non-stigmatising catalog indicator is required.
    """
    require_columns(cells, CELL_COLUMNS, file, "cells")
    for column in ("cell_id", "buurt_code", "wijk_code", "gemeente_code"):
        check_text(cells, column, file)
    check_whole(cells, "year", file, 1900, 2200)
    check_whole(cells, "households", file, 0)
    too_many = check_numeric(cells, "households", file) > MAX_HOUSEHOLDS_PER_CELL
    if too_many.any():
        raise rows_error(file, "households", _bad_rows(too_many), "implausibly many households for one 100 m cell",
                         f"at most {MAX_HOUSEHOLDS_PER_CELL:,} households per cell")
    check_coordinates(cells, file)
    check_unique(cells, ["cell_id", "year"], file)
    check_nesting(cells, file)
    wanted = indicators if indicators is not None else [i.name for i in catalog.model_indicators]
    require_columns(cells, wanted, file, "indicator")
    present = [i for i in catalog.indicators if i.name in cells.columns and (indicators is None or i.name in wanted)]
    for ind in present:
        values = check_numeric(cells, ind.name, file)
        outside = ~transform_domain_ok(values, ind.transform)
        if outside.any():
            raise rows_error(file, ind.name, _bad_rows(outside), f"values outside the domain of transform '{ind.transform}'",
                             "values > -1 for log1p" if ind.transform == "log1p" else "values >= 0 for sqrt")
    if indicators is None:
        _warn_unknown_columns(cells, catalog, file)
    cells = cells.astype({"year": "int64", "households": "int64"})
    return cells.astype({c: str for c in ("cell_id", "buurt_code", "wijk_code", "gemeente_code")})


def _warn_unknown_columns(cells: pd.DataFrame, catalog: Catalog, file: str) -> None:
    known = set(CELL_COLUMNS) | set(catalog.names)
    extra = [c for c in cells.columns if c not in known]
    if extra:
        warnings.warn(f"{file}: column(s) {', '.join(map(str, extra))} are neither contract columns nor catalog "
                      "indicators; they are ignored.", ContractWarning, stacklevel=2)


def check_nesting(cells: pd.DataFrame, file: str) -> None:
    """Within a year, every buurt lies in one wijk and every buurt and wijk in one gemeente."""
    year = cells["year"].to_numpy()
    codes = {level: pd.factorize(cells[f"{level}_code"]) for level in ("buurt", "wijk", "gemeente")}
    for child, parent in (("buurt", "wijk"), ("buurt", "gemeente"), ("wijk", "gemeente")):
        pairs = pd.DataFrame({"year": year, "child": codes[child][0], "parent": codes[parent][0]}).drop_duplicates()
        split = pairs[pairs.duplicated(["year", "child"], keep=False)]
        if len(split):
            first_year, first = split.iloc[0][["year", "child"]]
            code = codes[child][1][first]
            conflict = sorted(str(codes[parent][1][i]) for i in split.loc[(split["year"] == first_year)
                                                                          & (split["child"] == first), "parent"])
            rows = _bad_rows((year == first_year) & (codes[child][0] == first))
            n = len(split[["year", "child"]].drop_duplicates())
            key, up = f"{child}_code", f"{parent}_code"
            raise ContractError(f"{file}: columns '{key}'+'{up}': {child} {code} lies in {len(conflict)} {parent} codes "
                                f"({', '.join(conflict)}) in {first_year}, {describe_rows(rows)}"
                                + (f"; {n - 1} more {child} code(s) conflict" if n > 1 else "")
                                + f"; expected each {child} inside exactly one {parent} per year (the codes must nest).")


# Column names that mean the survey weight; the contract's name is 'weight' (docs/data-contract.md).
WEIGHT_LIKE = ("gewicht", "weight", "weights", "weging", "weegfactor", "ophoogfactor", "wgt", "survey_weight",
               "sample_weight", "design_weight", "gewichten", "weegfactoren")


def _refuse_weight_under_another_name(survey: pd.DataFrame, file: str) -> None:
    """A column that looks like the survey weight but is not named 'weight' would be silently ignored."""
    lookalike = [str(c) for c in survey.columns if str(c) != "weight"
                 and str(c).strip().lower().replace("-", "_").replace(" ", "_") in WEIGHT_LIKE]
    if lookalike:
        fix = (f"rename it to 'weight'" if "weight" not in survey.columns and len(lookalike) == 1
               else "keep one weight column, named 'weight', and drop the others")
        raise ContractError(f"{file}: column(s) {', '.join(repr(c) for c in lookalike)} look like the survey weight, "
                            f"but the contract's weight column is 'weight' (other names would be ignored and the model "
                            f"fitted unweighted); {fix}.")


def _warn_unknown_survey_columns(survey: pd.DataFrame, catalog: Catalog, file: str) -> None:
    known = set(SURVEY_CONTRACT_COLUMNS) | set(catalog.controls)
    extra = [str(c) for c in survey.columns if c not in known]
    if extra:
        warnings.warn(f"{file}: column(s) {', '.join(extra)} are neither survey contract columns nor controls listed in "
                      "the catalog; they are ignored (list a respondent characteristic under 'controls' to use it).",
                      ContractWarning, stacklevel=3)


def check_unique_ids(frame: pd.DataFrame, column: str, file: str) -> None:
    """Ids are unique even after trimming whitespace and ignoring case ('R01 ' and 'r01' are one respondent)."""
    check_unique(frame, [column], file)
    folded = frame[column].astype(str).str.strip().str.casefold()
    dupes = folded.duplicated(keep=False).to_numpy() & ~frame[column].duplicated(keep=False).to_numpy()
    if dupes.any():
        raise rows_error(file, column, _bad_rows(dupes), "ids that differ only in letter case or surrounding whitespace",
                         "each id once (clean the ids: these rows would otherwise count as different respondents)")


def validate_survey(survey: pd.DataFrame, cells: pd.DataFrame, catalog: Catalog, file: str) -> pd.DataFrame:
    """Check the survey against the contract, the cells and the catalog's controls."""
    _refuse_weight_under_another_name(survey, file)
    require_columns(survey, SURVEY_COLUMNS, file, "survey")
    check_text(survey, "respondent_id", file)
    check_unique_ids(survey, "respondent_id", file)
    check_whole(survey, "year", file, 1900, 2200)
    check_text(survey, "cell_id", file)
    check_whole(survey, "response", file, RESPONSE_LEVELS[0], RESPONSE_LEVELS[-1])
    if "weight" in survey.columns:
        weights = check_numeric(survey, "weight", file)
        if (weights <= 0).any():
            raise rows_error(file, "weight", _bad_rows(weights <= 0), "non-positive survey weights", "weights > 0")
        check_weights(weights, file)
    survey = survey.astype({"year": "int64", "response": "int64", "cell_id": str, "respondent_id": str})
    known = pd.MultiIndex.from_frame(cells[["cell_id", "year"]])
    located = pd.MultiIndex.from_frame(survey[["cell_id", "year"]]).isin(known)
    if not located.all():
        _refuse_unlocated(survey, cells, ~located, file)
    require_columns(survey, list(catalog.controls), file, "control")
    for control in catalog.controls:
        missing = survey[control].isna().to_numpy()
        if missing.any():
            raise rows_error(file, control, _bad_rows(missing), "missing control values", "a value for every respondent")
        if pd.api.types.is_numeric_dtype(survey[control]) and not pd.api.types.is_bool_dtype(survey[control]):
            check_numeric(survey, control, file)
    _warn_unknown_survey_columns(survey, catalog, file)
    return survey


def _refuse_unlocated(survey: pd.DataFrame, cells: pd.DataFrame, unlocated: np.ndarray, file: str,
                      rows_are: str = "respondents", table: str = "survey") -> None:
    """Respondents (or transactions) without a cell: say whether the year, whitespace, letter case, leading zeros or a number
    format is the likely cause."""
    cell_years = sorted(int(y) for y in cells["year"].unique())
    missing_years = sorted(set(survey.loc[unlocated, "year"].tolist()) - set(cell_years))
    if missing_years:
        rows = _bad_rows(unlocated & survey["year"].isin(missing_years).to_numpy())
        noun = "year" if len(missing_years) == 1 else "years"
        raise ContractError(f"{file}: column 'year': {table} {noun} {', '.join(map(str, missing_years))} "
                            f"{'has' if len(missing_years) == 1 else 'have'} no cells; cells have "
                            f"{', '.join(map(str, cell_years))} ({describe_rows(rows)}); expected {table} years the cells "
                            f"table covers (add that year's cells, or drop those {rows_are}).")
    ids = set(cells["cell_id"].astype(str))
    wrong = survey.loc[unlocated, "cell_id"].astype(str)
    causes = [(why, fix) for why, fix, norm in (
        ("surrounding whitespace", "trim the ids", str.strip),
        ("letter case", "write the ids as in the cells table", str.casefold),
        ("leading zeros", "keep the ids as text; a spreadsheet or integer column drops leading zeros",
         lambda v: v.strip().lstrip("0")),
        ("a number format (e.g. 123.0 for 123)", "store the ids as text", lambda v: v.strip().removesuffix(".0")))
        if (lambda mapped: wrong.map(norm).isin(mapped).any())({norm(i) for i in ids})]
    shown = sorted(set(wrong))[:3]
    values = f" ({', '.join(repr(v) for v in shown)}{' and more' if wrong.nunique() > 3 else ''})"
    cause = f" (they differ from the cells' ids only by {causes[0][0]}: {causes[0][1]})" if causes else ""
    raise rows_error(file, "cell_id+year", _bad_rows(unlocated),
                     f"{rows_are} whose cell_id{values} has no cell in that year{cause}",
                     "a cell_id present in the cells table for the same year")


def validate_transactions(transactions: pd.DataFrame, cells: pd.DataFrame, catalog: Catalog, file: str) -> pd.DataFrame:
    """Check the transactions table (one row per sold dwelling) against the contract, the cells and the
    catalog's price controls; ids stay in memory only (they never reach an artifact)."""
    require_columns(transactions, TRANSACTION_COLUMNS, file, "transactions")
    check_text(transactions, "transaction_id", file)
    check_unique_ids(transactions, "transaction_id", file)
    check_whole(transactions, "year", file, 1900, 2200)
    check_text(transactions, "cell_id", file)
    price = check_numeric(transactions, "price", file)
    if (price <= 0).any():
        raise rows_error(file, "price", _bad_rows(price <= 0), "non-positive prices", "prices in euros > 0")
    transactions = transactions.astype({"year": "int64", "price": "float64", "cell_id": str, "transaction_id": str})
    known = pd.MultiIndex.from_frame(cells[["cell_id", "year"]])
    located = pd.MultiIndex.from_frame(transactions[["cell_id", "year"]]).isin(known)
    if not located.all():
        _refuse_unlocated(transactions, cells, ~located, file, rows_are="transactions", table="transactions")
    if not catalog.price_controls:
        raise ContractError(f"{file}: the catalog lists no 'price_controls'; expected the dwelling control columns "
                            "(e.g. floor_area, dwelling_type) under 'price_controls' so that prices are corrected for "
                            "the dwelling itself (docs/data-contract.md).")
    require_columns(transactions, list(catalog.price_controls), file, "price control")
    for control in catalog.price_controls:
        missing = transactions[control].isna().to_numpy()
        if missing.any():
            raise rows_error(file, control, _bad_rows(missing), "missing price control values",
                             "a value for every transaction")
        if pd.api.types.is_numeric_dtype(transactions[control]) and not pd.api.types.is_bool_dtype(transactions[control]):
            check_numeric(transactions, control, file)
    extra = [str(c) for c in transactions.columns if c not in set(TRANSACTION_COLUMNS) | set(catalog.price_controls)]
    if extra:
        warnings.warn(f"{file}: column(s) {', '.join(extra)} are neither transactions contract columns nor price "
                      "controls listed in the catalog; they are ignored.", ContractWarning, stacklevel=2)
    return transactions


def validate_reference(reference: pd.DataFrame, cells: pd.DataFrame, file: str) -> pd.DataFrame:
    """Check the reference table (one row per area, level and year: an independent liveability measure
    ``value`` from ``n`` respondents, optional within-area ``sd``) against the contract and the cells' areas."""
    require_columns(reference, REFERENCE_COLUMNS, file, "reference")
    check_text(reference, "area_code", file)
    check_text(reference, "level", file)
    level = reference["level"].astype(str)
    unknown = ~level.isin(REFERENCE_LEVELS).to_numpy()
    if unknown.any():
        shown = ", ".join(repr(v) for v in sorted(set(level[unknown]))[:3])
        raise rows_error(file, "level", _bad_rows(unknown), f"unknown levels ({shown})", "buurt, wijk or gemeente")
    check_whole(reference, "year", file, 1900, 2200)
    check_numeric(reference, "value", file)
    check_whole(reference, "n", file, 1, None)
    if "sd" in reference.columns:
        sd = check_numeric(reference, "sd", file)
        if (sd < 0).any():
            raise rows_error(file, "sd", _bad_rows(sd < 0), "negative standard deviations",
                             "the within-area standard deviation of the answers, >= 0")
    reference = reference.astype({"area_code": str, "level": str, "year": "int64", "value": "float64", "n": "int64",
                                  **({"sd": "float64"} if "sd" in reference.columns else {})})
    check_unique(reference, ["area_code", "level", "year"], file)
    _refuse_reference_without_cells(reference, cells, file)
    extra = [str(c) for c in reference.columns if c not in (*REFERENCE_COLUMNS, "sd")]
    if extra:
        warnings.warn(f"{file}: column(s) {', '.join(extra)} are not reference columns ({', '.join(REFERENCE_COLUMNS)}, "
                      "optional sd); they are ignored.", ContractWarning, stacklevel=2)
    return reference


def _refuse_reference_without_cells(reference: pd.DataFrame, cells: pd.DataFrame, file: str) -> None:
    """Every reference area is an area of the cells table in the same year."""
    cell_years = sorted(int(y) for y in cells["year"].unique())
    missing_years = ~reference["year"].isin(cell_years).to_numpy()
    if missing_years.any():
        years = sorted(set(reference.loc[missing_years, "year"].tolist()))
        raise ContractError(f"{file}: column 'year': reference year(s) {', '.join(map(str, years))} have no cells; cells "
                            f"have {', '.join(map(str, cell_years))} ({describe_rows(_bad_rows(missing_years))}); "
                            "expected reference years the cells table covers.")
    unknown = np.zeros(len(reference), bool)
    for level in REFERENCE_LEVELS:
        rows = (reference["level"] == level).to_numpy()
        if rows.any():
            known = pd.MultiIndex.from_frame(cells[[f"{level}_code", "year"]].drop_duplicates())
            unknown[rows] = ~pd.MultiIndex.from_frame(reference.loc[rows, ["area_code", "year"]]).isin(known)
    if unknown.any():
        shown = sorted(set(reference.loc[unknown, "area_code"]))
        values = ", ".join(repr(v) for v in shown[:3]) + (" and more" if len(shown) > 3 else "")
        raise rows_error(file, "area_code+level+year", _bad_rows(unknown),
                         f"areas ({values}) that the cells table does not have at that level in that year",
                         "a buurt_code, wijk_code or gemeente_code (as the row's level) of the cells in the same year")


def _parse_controls(path: Path, raw: dict, field_name: str, contract_columns: tuple[str, ...], table: str,
                    indicator_names: list[str]) -> tuple[str, ...]:
    """A catalog list of control column names: text, each once, not a contract column nor an indicator."""
    controls = raw.get(field_name) or []
    if not isinstance(controls, list) or not all(isinstance(c, str) and c.strip() for c in controls):
        raise ContractError(f"{path}: field '{field_name}': expected a list of {table} column names.")
    dupes = sorted({c for c in controls if controls.count(c) > 1})
    if dupes:
        raise ContractError(f"{path}: field '{field_name}': {', '.join(dupes)} listed more than once; expected each "
                            "control once.")
    fixed = sorted(set(controls) & set(contract_columns))
    if fixed:
        example = "age_group or tenure" if table == "survey" else "floor_area or dwelling_type"
        raise ContractError(f"{path}: field '{field_name}': {', '.join(fixed)} are {table} contract columns; "
                            f"expected {'respondent' if table == 'survey' else 'dwelling'} characteristics such as "
                            f"{example}.")
    clash = sorted(set(controls) & set(indicator_names))
    if clash:
        raise ContractError(f"{path}: {', '.join(clash)} listed both as indicator and as control; expected one role each.")
    return tuple(controls)


def load_catalog(path: str | Path) -> Catalog:
    """Read and check the indicator catalog (YAML)."""
    path = Path(path)
    _require_file(path)
    try:
        raw = load_yaml_bounded(path)
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError, OSError) as exc:
        raise ContractError(f"{path}: cannot be read as YAML ({type(exc).__name__}: {exc}).") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("indicators"), list) or not raw["indicators"]:
        raise ContractError(f"{path}: expected a mapping with a non-empty list 'indicators' (docs/data-contract.md).")
    indicators = [_parse_indicator(path, n, entry) for n, entry in enumerate(raw["indicators"], start=1)]
    names = [i.name for i in indicators]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ContractError(f"{path}: duplicate indicator name(s) {', '.join(dupes)}; expected each indicator once.")
    clash = sorted(set(names) & set(CELL_COLUMNS))
    if clash:
        raise ContractError(f"{path}: indicator name(s) {', '.join(clash)} are contract columns of cells; "
                            "expected indicator names distinct from the contract columns.")
    controls = _parse_controls(path, raw, "controls", SURVEY_CONTRACT_COLUMNS, "survey", names)
    price_controls = _parse_controls(path, raw, "price_controls", TRANSACTION_COLUMNS, "transactions", names)
    return Catalog(indicators=tuple(indicators), controls=controls, price_controls=price_controls)


def _parse_indicator(path: Path, number: int, entry: object) -> Indicator:
    where = f"{path}: indicator entry {number}"
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
        raise ContractError(f"{where}: expected a mapping with a non-empty text field 'name'.")
    where += f" ('{entry['name']}')"
    unknown = sorted(map(str, set(entry) - {"name", "dimension", "description", "expected_sign", "stigmatising",
                                             "transform", "candidate"}))
    if unknown:
        raise ContractError(f"{where}: unknown field(s) {', '.join(unknown)}.")
    if not isinstance(entry.get("dimension"), str) or entry["dimension"] not in DIMENSIONS:
        raise ContractError(f"{where}: field 'dimension' is {entry.get('dimension')!r}; expected one of {', '.join(DIMENSIONS)}.")
    sign = entry.get("expected_sign", 0)
    if isinstance(sign, bool) or sign not in (-1, 0, 1):
        raise ContractError(f"{where}: field 'expected_sign' is {sign!r}; expected -1, 0 or 1.")
    flag = entry.get("stigmatising", False)
    if not isinstance(flag, bool):
        raise ContractError(f"{where}: field 'stigmatising' is {flag!r}; expected true or false.")
    candidate = entry.get("candidate", False)
    if not isinstance(candidate, bool):
        raise ContractError(f"{where}: field 'candidate' is {candidate!r}; expected true or false.")
    if candidate and flag:
        raise ContractError(f"{where}: flagged both stigmatising and candidate; a stigmatising indicator is never a "
                            "model term, expected at most one of the two.")
    transform = entry.get("transform", "none") or "none"
    if not isinstance(transform, str) or transform not in TRANSFORMS:
        raise ContractError(f"{where}: field 'transform' is {transform!r}; expected one of {', '.join(TRANSFORMS)}.")
    return Indicator(name=entry["name"], dimension=entry["dimension"], description=str(entry.get("description") or ""),
                     expected_sign=int(sign), stigmatising=flag, transform=transform,
                     candidate=candidate)


# A catalog of ~100 indicators has a few thousand YAML nodes; aliases may not expand it past this.
MAX_YAML_NODES = 200_000
MAX_YAML_BYTES = 20_000_000


def expanded_yaml_nodes(node: yaml.Node) -> int:
    """How many nodes the document has once every alias is expanded (counted, not built)."""
    sizes: dict[int, int] = {}

    def size(n: yaml.Node) -> int:
        if id(n) in sizes:
            return sizes[id(n)]
        sizes[id(n)] = 1      # a node met again while being counted (a recursive alias) counts once
        if isinstance(n, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in n.value)
        elif isinstance(n, yaml.SequenceNode):
            total = 1 + sum(size(v) for v in n.value)
        else:
            total = 1
        sizes[id(n)] = total
        return total

    return size(node)


def load_yaml_bounded(path: Path) -> object:
    """Safe-load one YAML file, refusing duplicate keys and alias expansions ("billion laughs") that would
    grow past MAX_YAML_NODES nodes, before anything is built."""
    if path.stat().st_size > MAX_YAML_BYTES:
        raise ContractError(f"{path}: {path.stat().st_size:,} bytes; expected a YAML file under {MAX_YAML_BYTES:,} bytes.")
    loader = _UniqueKeyLoader(path.read_text(encoding="utf-8-sig"))
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        nodes = expanded_yaml_nodes(node)
        if nodes > MAX_YAML_NODES:
            raise ContractError(f"{path}: its YAML aliases (*name) expand to {nodes:,} nodes, more than the "
                                f"{MAX_YAML_NODES:,} allowed; write the entries out instead of nesting aliases "
                                "(a document that grows exponentially is refused before it is built).")
        return loader.construct_document(node)
    finally:
        loader.dispose()


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key that appears twice in one mapping (PyYAML keeps the last)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, Hashable):
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} appears twice in one mapping",
                                                        key_node.start_mark)
            seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)
