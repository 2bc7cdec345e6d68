"""Read and validate the three inputs of the data contract: cells, survey and catalog.

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
from lbm_model.dimensions import CELL_COLUMNS, DIMENSIONS, RESPONSE_LEVELS, SURVEY_COLUMNS, TRANSFORMS
from lbm_model.errors import ContractError, ContractWarning, rows_error
from lbm_model.transforms import transform_domain_ok

# EPSG:28992 (Amersfoort / RD New) validity bounds of the Netherlands, metres.
RD_X_BOUNDS = (-7_000.0, 300_000.0)
RD_Y_BOUNDS = (289_000.0, 629_000.0)
STRING_COLUMNS = ("cell_id", "buurt_code", "wijk_code", "gemeente_code", "respondent_id")
# More households than this in one 100 m cell is a data error (the densest cells hold a few thousand).
MAX_HOUSEHOLDS_PER_CELL = 100_000
# Survey columns with a fixed meaning; none of them may be listed as a control.
SURVEY_CONTRACT_COLUMNS = ("respondent_id", "year", "cell_id", "response", "weight")


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
            frame = pq.read_table(path).to_pandas()
        elif suffix == ".csv":
            header = _csv_header(path)
            _refuse_duplicate_columns(path, header)
            dtypes = {c: str for c in STRING_COLUMNS if c in header}
            frame = pd.read_csv(path, dtype=dtypes, keep_default_na=True)
        else:
            raise ContractError(f"{path}: unsupported file type '{suffix}'; expected .parquet or .csv.")
    except ContractError:
        raise
    except Exception as exc:  # any reader failure is a user-facing problem with the file
        kind = "Parquet" if suffix == ".parquet" else "CSV"
        raise ContractError(f"{path}: cannot be read as {kind} ({type(exc).__name__}: {exc}).") from None
    if len(frame) == 0:
        raise ContractError(f"{path}: the table has no rows; expected at least one data row.")
    return frame.reset_index(drop=True)


def _csv_header(path: Path) -> list[str]:
    import csv

    with open(path, newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle), [])


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


def validate_survey(survey: pd.DataFrame, cells: pd.DataFrame, catalog: Catalog, file: str) -> pd.DataFrame:
    """Check the survey against the contract, the cells and the catalog's controls."""
    require_columns(survey, SURVEY_COLUMNS, file, "survey")
    check_text(survey, "respondent_id", file)
    check_unique(survey, ["respondent_id"], file)
    check_whole(survey, "year", file, 1900, 2200)
    check_text(survey, "cell_id", file)
    check_whole(survey, "response", file, RESPONSE_LEVELS[0], RESPONSE_LEVELS[-1])
    if "weight" in survey.columns:
        weights = check_numeric(survey, "weight", file)
        if (weights <= 0).any():
            raise rows_error(file, "weight", _bad_rows(weights <= 0), "non-positive survey weights", "weights > 0")
    survey = survey.astype({"year": "int64", "response": "int64", "cell_id": str, "respondent_id": str})
    known = pd.MultiIndex.from_frame(cells[["cell_id", "year"]])
    located = pd.MultiIndex.from_frame(survey[["cell_id", "year"]]).isin(known)
    if not located.all():
        raise rows_error(file, "cell_id+year", _bad_rows(~located), "respondents whose cell_id has no cell in that year",
                         "a cell_id present in the cells table for the same year")
    require_columns(survey, list(catalog.controls), file, "control")
    for control in catalog.controls:
        missing = survey[control].isna().to_numpy()
        if missing.any():
            raise rows_error(file, control, _bad_rows(missing), "missing control values", "a value for every respondent")
        if pd.api.types.is_numeric_dtype(survey[control]) and not pd.api.types.is_bool_dtype(survey[control]):
            check_numeric(survey, control, file)
    return survey


def load_catalog(path: str | Path) -> Catalog:
    """Read and check the indicator catalog (YAML)."""
    path = Path(path)
    _require_file(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8-sig"), Loader=_UniqueKeyLoader)
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
    controls = raw.get("controls") or []
    if not isinstance(controls, list) or not all(isinstance(c, str) and c.strip() for c in controls):
        raise ContractError(f"{path}: field 'controls': expected a list of survey column names.")
    dupes = sorted({c for c in controls if controls.count(c) > 1})
    if dupes:
        raise ContractError(f"{path}: field 'controls': {', '.join(dupes)} listed more than once; expected each control once.")
    fixed = sorted(set(controls) & set(SURVEY_CONTRACT_COLUMNS))
    if fixed:
        raise ContractError(f"{path}: field 'controls': {', '.join(fixed)} are survey contract columns; "
                            "expected respondent characteristics such as age_group or tenure.")
    clash = sorted(set(controls) & set(names))
    if clash:
        raise ContractError(f"{path}: {', '.join(clash)} listed both as indicator and as control; expected one role each.")
    return Catalog(indicators=tuple(indicators), controls=tuple(controls))


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
