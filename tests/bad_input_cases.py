"""The bad-input catalogue: each case, the real command it goes through and the message it must give.

Used by tests/test_bad_input_catalogue.py (one test per case) and, run as a script, to
regenerate docs/bad-input.md from the messages the real commands print::

    .venv/bin/python tests/bad_input_cases.py --write docs/bad-input.md

Every case runs in its own working directory holding valid tiny inputs (in/cells.csv,
in/survey.csv, in/catalog.yaml) and a valid frozen model (model/), so the messages show
short relative paths. A case breaks one thing and runs one command.

Cases run in this process by default: the command's console-script entry point (``main()``)
is called as the installed script would call it, with the command line in sys.argv, the case
directory as working directory, the subprocess's environment, stdout/stderr captured and the
exit code taken from SystemExit; Hydra, logging, warnings and the environment are put back
after each case (see ``_as_a_fresh_process``). That saves seconds of imports per case. The
real console scripts still run as subprocesses with ``run_case(..., subprocess=True)`` or,
for every case, with ``LBM_BAD_INPUT_SUBPROCESS=1``; a test compares the two on a few cases.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import traceback
import types
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import tiny_reference, tiny_tables, tiny_transactions  # noqa: E402

EXPORT = "out/export"
SCORES = "out/scores.parquet"


class Workspace:
    """One case's working directory with valid inputs; ``prepare`` functions break one thing."""

    def __init__(self, root: Path, model_dir: Path):
        self.root = root
        self.cells, self.survey, self.catalog = tiny_tables()
        self.paths = {"cells": "in/cells.csv", "survey": "in/survey.csv", "catalog": "in/catalog.yaml"}
        (root / "in").mkdir(parents=True)
        self.save("cells", self.cells)
        self.save("survey", self.survey)
        self.save_catalog(self.catalog)
        shutil.copytree(model_dir, root / "model")

    def save(self, key: str, frame: pd.DataFrame, name: str | None = None) -> None:
        """Write a table (CSV or Parquet by the name's extension) and point the input at it."""
        if name:
            self.paths[key] = f"in/{name}"
        target = self.root / self.paths[key]
        frame.to_parquet(target, index=False) if target.suffix == ".parquet" else frame.to_csv(target, index=False)

    def save_catalog(self, catalog: dict) -> None:
        (self.root / self.paths["catalog"]).write_text(yaml.safe_dump(catalog, sort_keys=False))

    def raw(self, key: str, name: str, data: bytes | str) -> None:
        """Put raw content in ``in/<name>`` and point the input at it."""
        self.paths[key] = f"in/{name}"
        target = self.root / self.paths[key]
        target.write_bytes(data if isinstance(data, bytes) else data.encode())

    def cells_text(self) -> str:
        return self.cells.to_csv(index=False)


@dataclass(frozen=True)
class Case:
    id: str
    input: str                       # cells | survey | transactions | reference | catalog | config | model | output | options
    command: str                     # lbm-experiment | lbm score | lbm outputs | lbm validate | lbm world
    wrong: str                       # what is wrong, in words, for the catalogue
    prepare: Callable[[Workspace], list[str]]
    expect: str                      # regex the message must match
    exit_code: int = 2
    warning: bool = False            # the input is accepted; the message is a warning
    tracking: bool = False           # run lbm-experiment with MLflow tracking on


@dataclass
class Outcome:
    case: Case
    returncode: int
    stdout: str
    stderr: str
    message: str
    written: list[str] = field(default_factory=list)     # files under out/ after the run
    root: Path | None = None


def _mutate(key: str, change: Callable[[pd.DataFrame], pd.DataFrame | None], name: str | None = None,
            extra: list[str] | None = None) -> Callable[[Workspace], list[str]]:
    def prepare(ws: Workspace) -> list[str]:
        frame = getattr(ws, key).copy()
        changed = change(frame)
        ws.save(key, frame if changed is None else changed, name)
        return list(extra or [])
    return prepare


def _transactions(change: Callable[[pd.DataFrame], pd.DataFrame | None],
                  price_controls: list[str] | None = None) -> Callable[[Workspace], list[str]]:
    """Valid tiny transactions (in/transactions.csv) and a catalog listing their price controls, with one thing
    broken by ``change``; runs the behaviour model (model=hedonic) on them."""
    def prepare(ws: Workspace) -> list[str]:
        frame = tiny_transactions(ws.cells)
        changed = change(frame)
        ws.paths["transactions"] = "in/transactions.csv"
        (changed if changed is not None else frame).to_csv(ws.root / ws.paths["transactions"], index=False)
        controls = ["floor_area", "dwelling_type"] if price_controls is None else price_controls
        ws.save_catalog({**ws.catalog, **({"price_controls": controls} if controls else {})})
        return ["model=hedonic", f"data.transactions={ws.paths['transactions']}"]
    return prepare


def _reference(change: Callable[[pd.DataFrame], pd.DataFrame | None],
               extra: list[str] | None = None) -> Callable[[Workspace], list[str]]:
    """Valid tiny reference (in/reference.csv) with one thing broken by ``change``, for lbm validate."""
    def prepare(ws: Workspace) -> list[str]:
        frame = tiny_reference(ws.cells)
        changed = change(frame)
        ws.paths["reference"] = "in/reference.csv"
        (changed if changed is not None else frame).to_csv(ws.root / ws.paths["reference"], index=False)
        return list(extra or [])
    return prepare


def _catalog(change: Callable[[dict], None]) -> Callable[[Workspace], list[str]]:
    def prepare(ws: Workspace) -> list[str]:
        catalog = json.loads(json.dumps(ws.catalog))
        change(catalog)
        ws.save_catalog(catalog)
        return []
    return prepare


def _raw(key: str, name: str, data: bytes | str | Callable[[Workspace], bytes | str]) -> Callable[[Workspace], list[str]]:
    def prepare(ws: Workspace) -> list[str]:
        ws.raw(key, name, data(ws) if callable(data) else data)
        return []
    return prepare


def _args(*extra: str) -> Callable[[Workspace], list[str]]:
    return lambda ws: list(extra)


def _groups(text: str) -> Callable[[Workspace], list[str]]:
    """Write ``text`` as in/groups.csv and pass it to ``lbm outputs --groups``."""
    def prepare(ws: Workspace) -> list[str]:
        (ws.root / "in" / "groups.csv").write_text(text)
        return ["--groups", "in/groups.csv"]
    return prepare


def _set(frame: pd.DataFrame, rows, column: str, value) -> None:
    """Set cells, widening the column's type when the value does not fit it (as a CSV would)."""
    try:
        frame.loc[rows, column] = value
    except (TypeError, ValueError):
        frame[column] = frame[column].astype(object)
        frame.loc[rows, column] = value


def _duplicate_header(ws: Workspace, key: str, column: str, value: str) -> bytes:
    lines = getattr(ws, key).to_csv(index=False).splitlines()
    return ("\n".join([lines[0] + f",{column}"] + [line + f",{value}" for line in lines[1:]]) + "\n").encode()


def _parquet_duplicate_column(ws: Workspace) -> None:
    table = pa.Table.from_pandas(ws.cells, preserve_index=False)
    table = table.append_column("households", table.column("households"))
    ws.paths["cells"] = "in/cells.parquet"
    pq.write_table(table, ws.root / ws.paths["cells"])


def _edit_model(change: Callable[[bytes], bytes]) -> Callable[[Workspace], list[str]]:
    def prepare(ws: Workspace) -> list[str]:
        path = ws.root / "model" / "model.json"
        path.write_bytes(change(path.read_bytes()))
        return []
    return prepare


def _tamper_weight(raw: bytes) -> bytes:
    document = json.loads(raw)
    document["content"]["indicators"][0]["weight"] *= 2
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def _one_buurt(ws: Workspace) -> list[str]:
    """Every respondent moved into cells of one buurt (same year)."""
    inside = ws.cells[(ws.cells["buurt_code"] == "BU03630100") & (ws.cells["households"] > 0)]
    survey = ws.survey.copy()
    for year, rows in survey.groupby("year").groups.items():
        options = inside[inside["year"] == year]["cell_id"].to_numpy()
        survey.loc[rows, "cell_id"] = options[np.arange(len(rows)) % len(options)]
    ws.save("survey", survey)
    return []


def _duplicated_indicator(ws: Workspace) -> list[str]:
    """dist_supermarket_m copied as dist_shop_m, in cells and catalog (VIF infinite)."""
    ws.save("cells", ws.cells.assign(dist_shop_m=ws.cells["dist_supermarket_m"]))
    catalog = json.loads(json.dumps(ws.catalog))
    catalog["indicators"].append({**catalog["indicators"][1], "name": "dist_shop_m"})
    ws.save_catalog(catalog)
    return ["checks.run=[collinearity]", "checks.fail_on=[collinearity]"]


def _leading_zero_ids(ws: Workspace) -> list[str]:
    """Cell ids with leading zeros (0001, ...) in cells; the survey has them as numbers (1, ...)."""
    codes = {c: f"{i + 1:04d}" for i, c in enumerate(sorted(ws.cells["cell_id"].unique()))}
    ws.save("cells", ws.cells.assign(cell_id=ws.cells["cell_id"].map(codes)))
    ws.save("survey", ws.survey.assign(cell_id=ws.survey["cell_id"].map(codes).astype(int)))
    return []


def _set_and_encode(ws: Workspace) -> bytes:
    cells = ws.cells.copy()
    cells.loc[3, "buurt_code"] = "BU0363é"
    return cells.to_csv(index=False).encode("cp1252")


def _alias_bomb() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(lines + ["indicators: *a8", ""])


CELLS = "in/cells\\.csv"
SURVEY = "in/survey\\.csv"
TRANSACTIONS = "in/transactions\\.csv"
REFERENCE = "in/reference\\.csv"
CATALOG = "in/catalog\\.yaml"

CASES: list[Case] = [
    # ---- cells, through lbm-experiment ------------------------------------------------------
    Case("cells-missing-file", "cells", "lbm-experiment", "the cells file does not exist",
         lambda ws: [f"data.cells=in/nowhere.csv"], r"^in/nowhere\.csv: file not found\.$"),
    Case("cells-is-directory", "cells", "lbm-experiment", "the cells path is a directory",
         lambda ws: ["data.cells=in"], r"^in: is a directory; expected a file\.$"),
    Case("cells-not-parquet", "cells", "lbm-experiment", "a .parquet file that is not Parquet (text inside)",
         _raw("cells", "cells.parquet", "cell_id,year\nE1,2020\n"), r"^in/cells\.parquet: cannot be read as Parquet \("),
    Case("cells-parquet-named-csv", "cells", "lbm-experiment", "a Parquet file saved under a .csv name",
         _raw("cells", "cells_binary.csv", lambda ws: ws.cells.to_parquet(index=False)),
         r"^in/cells_binary\.csv: cannot be read as CSV \("),
    Case("cells-unsupported-type", "cells", "lbm-experiment", "an Excel file instead of Parquet or CSV",
         _raw("cells", "cells.xlsx", b"PK\x03\x04"),
         r"^in/cells\.xlsx: unsupported file type '\.xlsx'; expected \.parquet or \.csv\.$"),
    Case("cells-missing-column", "cells", "lbm-experiment", "the contract column households is missing",
         _mutate("cells", lambda f: f.drop(columns=["households"])),
         rf"^{CELLS}: missing column\(s\) households; expected the cells columns cell_id, year, x, y,"),
    Case("cells-duplicated-column-csv", "cells", "lbm-experiment", "the CSV header names year twice",
         _raw("cells", "cells_dup.csv", lambda ws: _duplicate_header(ws, "cells", "year", "2020")),
         r"^in/cells_dup\.csv: duplicated column name\(s\) year; expected each column once\.$"),
    Case("cells-duplicated-column-parquet", "cells", "lbm-experiment", "the Parquet schema names households twice",
         lambda ws: (_parquet_duplicate_column(ws), [])[1],
         r"^in/cells\.parquet: duplicated column name\(s\) households; expected each column once\.$"),
    Case("cells-duplicate-cell-year", "cells", "lbm-experiment", "one cell_id appears twice in the same year",
         _mutate("cells", lambda f: _set(f, 1, "cell_id", f.loc[0, "cell_id"])),
         rf"^{CELLS}: column 'cell_id\+year': duplicate values in 1 row \(row 2\); expected each value once\.$"),
    Case("cells-empty-id", "cells", "lbm-experiment", "a cell without a cell_id",
         _mutate("cells", lambda f: _set(f, 4, "cell_id", None)),
         rf"^{CELLS}: column 'cell_id': missing or empty values in 1 row \(row 5\); expected a non-empty text code\.$"),
    Case("cells-nan-indicator", "cells", "lbm-experiment", "missing (NaN) indicator values",
         _mutate("cells", lambda f: _set(f, [3, 7], "green_share_500m", np.nan)),
         rf"^{CELLS}: column 'green_share_500m': missing, NaN or infinite values in 2 rows \(rows 4, 8\); "
         r"expected finite numbers\.$"),
    Case("cells-infinite-indicator", "cells", "lbm-experiment", "an infinite indicator value (inf)",
         _mutate("cells", lambda f: _set(f, 5, "dist_supermarket_m", np.inf)),
         rf"^{CELLS}: column 'dist_supermarket_m': missing, NaN or infinite values in 1 row \(row 6\)"),
    Case("cells-text-in-indicator", "cells", "lbm-experiment", "text in a numeric indicator column",
         _mutate("cells", lambda f: _set(f, 6, "green_share_500m", "abc")),
         rf"^{CELLS}: column 'green_share_500m': non-numeric values in 1 row \(row 7\); expected numbers\.$"),
    Case("cells-boolean-indicator", "cells", "lbm-experiment", "an indicator stored as true/false (Parquet)",
         _mutate("cells", lambda f: f.assign(green_share_500m=f["green_share_500m"] > 0.5), "cells.parquet"),
         r"^in/cells\.parquet: column 'green_share_500m': non-numeric values \(the column holds bool values\) "
         r"in 80 rows"),
    Case("cells-text-year", "cells", "lbm-experiment", "a year written as text",
         _mutate("cells", lambda f: _set(f, 2, "year", "twenty")),
         rf"^{CELLS}: column 'year': non-numeric values in 1 row \(row 3\); expected numbers\.$"),
    Case("cells-fractional-households", "cells", "lbm-experiment", "households that are not whole numbers",
         _mutate("cells", lambda f: _set(f, 8, "households", 2.5)),
         rf"^{CELLS}: column 'households': non-whole numbers in 1 row \(row 9\); expected whole numbers\.$"),
    Case("cells-negative-households", "cells", "lbm-experiment", "negative households",
         _mutate("cells", lambda f: _set(f, 10, "households", -2)),
         rf"^{CELLS}: column 'households': values out of range in 1 row \(row 11\); expected whole numbers >= 0\.$"),
    Case("cells-absurd-households", "cells", "lbm-experiment", "10^20 households in one cell (overflows int64)",
         _mutate("cells", lambda f: _set(f, 12, "households", 1e20)),
         rf"^{CELLS}: column 'households': implausibly many households for one 100 m cell in 1 row \(row 13\)"),
    Case("cells-longitude-latitude", "cells", "lbm-experiment", "x, y in longitude/latitude degrees by mistake",
         _mutate("cells", lambda f: f.assign(x=4.9, y=52.37)),
         rf"^{CELLS}: column 'x\+y': coordinates that look like longitude/latitude degrees in 80 rows "
         r"\(rows 1, 2, 3, 4, 5 and 75 more\); expected EPSG:28992 \(RD New\) metres"),
    Case("cells-outside-netherlands", "cells", "lbm-experiment", "a y coordinate north of the Netherlands",
         _mutate("cells", lambda f: _set(f, 3, "y", 700_000.0)),
         rf"^{CELLS}: column 'y': coordinates outside the Netherlands in 1 row \(row 4\); "
         r"expected EPSG:28992 metres between 289,000 and 629,000\.$"),
    Case("cells-transform-domain", "cells", "lbm-experiment", "a negative distance under a log1p transform",
         _mutate("cells", lambda f: _set(f, 2, "dist_supermarket_m", -5.0)),
         rf"^{CELLS}: column 'dist_supermarket_m': values outside the domain of transform 'log1p' in 1 row \(row 3\)"),
    Case("cells-indicator-without-variation", "cells", "lbm-experiment", "an indicator with one value everywhere",
         _mutate("cells", lambda f: f.assign(green_share_500m=0.3)),
         r"^cells: column 'green_share_500m': indicator has no variation; it cannot be standardised; "
         r"expected an indicator that varies across cells\.$"),
    Case("cells-catalog-indicator-absent", "cells", "lbm-experiment", "a catalog indicator has no column in cells",
         _mutate("cells", lambda f: f.drop(columns=["green_share_500m"])),
         rf"^{CELLS}: missing column\(s\) green_share_500m; expected the indicator columns green_share_500m, "
         r"dist_supermarket_m"),
    Case("cells-unknown-column", "cells", "lbm-experiment",
         "a column that is neither a contract column nor a catalog indicator (accepted with a warning)",
         _mutate("cells", lambda f: f.assign(**{"mystery[/b]": 1.0}), extra=["checks.run=[]"]),
         rf"^{CELLS}: column\(s\) mystery\[/b\] are neither contract columns nor catalog indicators; they are ignored\.$",
         exit_code=0, warning=True),
    Case("cells-header-only", "cells", "lbm-experiment", "a cells table with a header and no rows",
         _mutate("cells", lambda f: f.iloc[:0]),
         rf"^{CELLS}: the table has no rows; expected at least one data row\.$"),
    Case("cells-zero-bytes", "cells", "lbm-experiment", "an empty (zero-byte) cells file",
         _raw("cells", "cells_empty.csv", b""),
         r"^in/cells_empty\.csv: cannot be read as CSV \(EmptyDataError: No columns to parse from file\)\.$"),
    # ---- survey -----------------------------------------------------------------------------
    Case("survey-missing-file", "survey", "lbm-experiment", "the survey file does not exist (MLflow tracking on)",
         lambda ws: ["data.survey=in/nowhere.parquet"], r"^in/nowhere\.parquet: file not found\.$", tracking=True),
    Case("survey-unreadable", "survey", "lbm-experiment", "a truncated Parquet survey file",
         _raw("survey", "survey.parquet", lambda ws: ws.survey.to_parquet(index=False)[:300]),
         r"^in/survey\.parquet: cannot be read as Parquet \("),
    Case("survey-missing-column", "survey", "lbm-experiment", "the response column is missing",
         _mutate("survey", lambda f: f.drop(columns=["response"])),
         rf"^{SURVEY}: missing column\(s\) response; expected the survey columns respondent_id, year, cell_id, "
         r"response"),
    Case("survey-duplicated-column", "survey", "lbm-experiment", "the CSV header names weight twice",
         _raw("survey", "survey_dup.csv", lambda ws: _duplicate_header(ws, "survey", "weight", "1.0")),
         r"^in/survey_dup\.csv: duplicated column name\(s\) weight; expected each column once\.$"),
    Case("survey-duplicate-respondent", "survey", "lbm-experiment", "one respondent_id twice (MLflow tracking on)",
         _mutate("survey", lambda f: _set(f, 5, "respondent_id", f.loc[4, "respondent_id"])),
         rf"^{SURVEY}: column 'respondent_id': duplicate values in 1 row \(row 6\); expected each value once\.$",
         tracking=True),
    Case("survey-response-out-of-range", "survey", "lbm-experiment", "responses 6 and 0 on the 1..5 scale",
         _mutate("survey", lambda f: _set(f, [0, 4], "response", [6, 0])),
         rf"^{SURVEY}: column 'response': values out of range in 2 rows \(rows 1, 5\); "
         r"expected whole numbers between 1 and 5\.$"),
    Case("survey-response-fractional", "survey", "lbm-experiment", "a response of 3.5",
         _mutate("survey", lambda f: _set(f, 9, "response", 3.5)),
         rf"^{SURVEY}: column 'response': non-whole numbers in 1 row \(row 10\); expected whole numbers\.$"),
    Case("survey-response-text", "survey", "lbm-experiment", "a response written as text",
         _mutate("survey", lambda f: _set(f, 2, "response", "good")),
         rf"^{SURVEY}: column 'response': non-numeric values in 1 row \(row 3\); expected numbers\.$"),
    Case("survey-response-missing", "survey", "lbm-experiment", "a missing response",
         _mutate("survey", lambda f: _set(f, 11, "response", np.nan)),
         rf"^{SURVEY}: column 'response': missing, NaN or infinite values in 1 row \(row 12\); "
         r"expected finite numbers\.$"),
    Case("survey-weight-zero", "survey", "lbm-experiment", "survey weights of zero and below",
         _mutate("survey", lambda f: _set(f, [2, 3], "weight", [0.0, -1.0])),
         rf"^{SURVEY}: column 'weight': non-positive survey weights in 2 rows \(rows 3, 4\); "
         r"expected weights > 0\.$"),
    Case("survey-weight-infinite", "survey", "lbm-experiment", "an infinite survey weight",
         _mutate("survey", lambda f: _set(f, 7, "weight", np.inf)),
         rf"^{SURVEY}: column 'weight': missing, NaN or infinite values in 1 row \(row 8\)"),
    Case("survey-unknown-cell", "survey", "lbm-experiment", "a respondent in a cell_id the cells table lacks",
         _mutate("survey", lambda f: _set(f, 3, "cell_id", "E9999N9999")),
         rf"^{SURVEY}: column 'cell_id\+year': respondents whose cell_id \('E9999N9999'\) has no cell in that year in 1 row "
         r"\(row 4\); expected a cell_id present in the cells table for the same year\.$"),
    Case("survey-year-without-cells", "survey", "lbm-experiment", "a respondent in a year without cells",
         _mutate("survey", lambda f: _set(f, 7, "year", 2016)),
         rf"^{SURVEY}: column 'year': survey year 2016 has no cells; cells have 2018, 2020 \(1 row \(row 8\)\); "
         r"expected survey years the cells table covers"),
    Case("survey-cell-id-leading-zeros", "survey", "lbm-experiment", "cell ids that lost their leading zeros",
         lambda ws: _leading_zero_ids(ws),
         rf"^{SURVEY}: column 'cell_id\+year': respondents whose cell_id \('1', '10', '11' and more\) has no cell in "
         r"that year \(they differ from the cells' ids only by leading zeros: keep the ids as text; a spreadsheet"),
    Case("survey-cell-id-whitespace", "survey", "lbm-experiment", "a cell id with a trailing space",
         _mutate("survey", lambda f: f.assign(cell_id=f["cell_id"].where(f.index != 2, f["cell_id"] + " "))),
         rf"^{SURVEY}: column 'cell_id\+year': respondents whose cell_id \('E\d+N\d+ '\) has no cell in that year "
         r"\(they differ from the cells' ids only by surrounding whitespace: trim the ids\) in 1 row \(row 3\)"),
    Case("survey-dutch-excel-csv", "survey", "lbm-experiment", "a survey saved by Excel with Dutch settings (; and 0,5)",
         _raw("survey", "survey.csv", lambda ws: ws.survey.to_csv(index=False, sep=";", decimal=",")),
         rf"^{SURVEY}: looks like an Excel CSV export with Dutch regional settings \(columns separated by ';', decimal "
         r"commas such as 0,5\); expected comma-separated values with decimal points\."),
    Case("cells-not-utf8", "cells", "lbm-experiment", "a cells CSV saved as Windows-1252 (an accented code)",
         _raw("cells", "cells.csv", lambda ws: _set_and_encode(ws)),
         rf"^{CELLS}: row 4 \(data row, header not counted\), column 'buurt_code': byte 0xe9 is not UTF-8; expected "
         r"a UTF-8 file\."),
    Case("survey-missing-control", "survey", "lbm-experiment", "the catalog's control tenure is not in the survey",
         _mutate("survey", lambda f: f.drop(columns=["tenure"])),
         rf"^{SURVEY}: missing column\(s\) tenure; expected the control columns tenure"),
    Case("survey-missing-control-value", "survey", "lbm-experiment", "a respondent without a tenure value",
         _mutate("survey", lambda f: _set(f, 11, "tenure", None)),
         rf"^{SURVEY}: column 'tenure': missing control values in 1 row \(row 12\); "
         r"expected a value for every respondent\.$"),
    Case("survey-weight-named-gewicht", "survey", "lbm-experiment", "the survey weight in a column named gewicht",
         _mutate("survey", lambda f: f.rename(columns={"weight": "gewicht"})),
         rf"^{SURVEY}: column\(s\) 'gewicht' look like the survey weight, but the contract's weight column is 'weight' \(other names would be ignored and the model fitted"),
    Case("survey-weight-named-Weight", "survey", "lbm-experiment", "a second weight column named Weight beside weight",
         _mutate("survey", lambda f: f.assign(Weight=f["weight"] * 2)),
         rf"^{SURVEY}: column\(s\) 'Weight' look like the survey weight, but the contract's weight column is 'weight' \(other names would be ignored and the model fitted"),
    Case("survey-unknown-column", "survey", "lbm-experiment",
         "a survey column that is neither a contract column nor a control (accepted with a warning)",
         _mutate("survey", lambda f: f.assign(income_band="mid"), extra=["checks.run=[]"]),
         rf"^{SURVEY}: column\(s\) income_band are neither survey contract columns nor controls listed in the catalog; they are ignored \(list a respondent characteristic under", exit_code=0, warning=True),
    Case("survey-id-case-whitespace", "survey", "lbm-experiment", "respondent ids 'R00003' and ' r00003' (case, space)",
         _mutate("survey", lambda f: _set(f, 5, "respondent_id", " r00003")),
         rf"^{SURVEY}: column 'respondent_id': ids that differ only in letter case or surrounding whitespace in 2 rows \(rows 4, 6\); expected each id once \(clean the ids: these"),
    Case("survey-single-response-level", "survey", "lbm-experiment", "every respondent answered 3",
         _mutate("survey", lambda f: f.assign(response=3)), rf"^{SURVEY}: column 'response': every respondent answered 3; expected at least two different responses \(the weights explain differences in judgement; there are none\)\.$"),
    Case("survey-handful-of-respondents", "survey", "lbm-experiment", "a survey of 4 respondents",
         _mutate("survey", lambda f: f.head(4)), rf"^{SURVEY}: 4 respondents for 6 coefficients \(2 indicators, 2 control columns, 2 thresholds\); expected at least 5 respondents per coefficient \(30\)\. Pool more survey"),
    Case("survey-one-buurt", "survey", "lbm-experiment", "every respondent lives in one buurt",
         lambda ws: _one_buurt(ws), rf"^{SURVEY}: all 120 respondents live in one buurt \(BU03630100\); standard errors clustered by buurt need respondents in several buurten, and one buurt cannot separate"),
    Case("survey-weights-overflow", "survey", "lbm-experiment", "survey weights of 1e308 (the sums overflow)",
         _mutate("survey", lambda f: f.assign(weight=1e308)), rf"^{SURVEY}: column 'weight': survey weights between 1e\+308 and 1e\+308; their sums overflow or underflow the arithmetic\. Expected weights between 1e\-100 and 1e\+100:"),
    Case("survey-weights-underflow", "survey", "lbm-experiment", "survey weights of 1e-320 (subnormal)",
         _mutate("survey", lambda f: f.assign(weight=1e-320)), rf"^{SURVEY}: column 'weight': survey weights between 1e\-320 and 1e\-320; their sums overflow or underflow the arithmetic\. Expected weights between 1e\-100 and 1e\+100:"),
    Case("cells-base-year-no-households", "cells", "lbm-experiment", "no households in the base year 2020",
         _mutate("cells", lambda f: f.assign(households=f["households"].where(f["year"] != 2020, 0))), r"^the cells table: column 'households': the base year 2020 has no households, so the classes cannot be anchored on it; years with households: 2018 \(override"),
    Case("cells-duplicated-indicator", "cells", "lbm-experiment",
         "an indicator copied under another name (exactly collinear: refused before the fit)",
         lambda ws: _duplicated_indicator(ws), r"^indicators dist_supermarket_m, dist_shop_m are exactly collinear at the respondents' cells \(variance inflation factor infinite; smallest eigenvalue of their correlation"),
    Case("cells-codes-do-not-nest", "cells", "lbm-experiment", "one buurt code in two wijken in the same year",
         _mutate("cells", lambda f: _set(f, 0, "wijk_code", "WK036399")), rf"^{CELLS}: columns 'buurt_code'\+'wijk_code': buurt BU03630100 lies in 2 wijk codes \(WK036301, WK036399\) in 2018, 10 rows \(rows 1, 5, 9, 13, 17 and 5 more\); expected"),
    Case("catalog-alias-bomb", "catalog", "lbm-experiment", "YAML aliases nested to a billion nodes (a few hundred bytes)",
         _raw("catalog", "catalog.yaml", lambda ws: _alias_bomb()), rf"^{CATALOG}: its YAML aliases \(\*name\) expand to 926,177,115 nodes, more than the 200,000 allowed; write the entries out instead of nesting aliases \(a document that"),
    Case("survey-header-only", "survey", "lbm-experiment", "a survey with a header and no rows",
         _mutate("survey", lambda f: f.iloc[:0]), rf"^{SURVEY}: the table has no rows; expected at least one data row\.$"),
    # ---- transactions (model=hedonic) ---------------------------------------------------------
    Case("transactions-missing-column", "transactions", "lbm-experiment", "the price column is missing",
         _transactions(lambda f: f.drop(columns=["price"])),
         rf"^{TRANSACTIONS}: missing column\(s\) price; expected the transactions columns transaction_id, year, "
         r"cell_id, price \(docs/data-contract\.md\)\.$"),
    Case("transactions-duplicate-id", "transactions", "lbm-experiment", "one transaction_id twice",
         _transactions(lambda f: _set(f, 5, "transaction_id", f.loc[4, "transaction_id"])),
         rf"^{TRANSACTIONS}: column 'transaction_id': duplicate values in 1 row \(row 6\); expected each value once\.$"),
    Case("transactions-price-not-positive", "transactions", "lbm-experiment", "prices of zero and below",
         _transactions(lambda f: _set(f, [2, 3], "price", [0.0, -1.0])),
         rf"^{TRANSACTIONS}: column 'price': non-positive prices in 2 rows \(rows 3, 4\); expected prices in euros > 0\.$"),
    Case("transactions-price-text", "transactions", "lbm-experiment", "a price written as text",
         _transactions(lambda f: _set(f, 6, "price", "n.o.t.k.")),
         rf"^{TRANSACTIONS}: column 'price': non-numeric values in 1 row \(row 7\); expected numbers\.$"),
    Case("transactions-unknown-cell", "transactions", "lbm-experiment", "a sale in a cell_id the cells table lacks",
         _transactions(lambda f: _set(f, 3, "cell_id", "E9999N9999")),
         rf"^{TRANSACTIONS}: column 'cell_id\+year': transactions whose cell_id \('E9999N9999'\) has no cell in that year "
         r"in 1 row \(row 4\); expected a cell_id present in the cells table for the same year\.$"),
    Case("transactions-year-without-cells", "transactions", "lbm-experiment", "a sale in a year without cells",
         _transactions(lambda f: _set(f, 7, "year", 2016)),
         rf"^{TRANSACTIONS}: column 'year': transactions year 2016 has no cells; cells have 2018, 2020 \(1 row "
         r"\(row 8\)\); expected transactions years the cells table covers"),
    Case("transactions-missing-control-value", "transactions", "lbm-experiment", "a sale without a dwelling type",
         _transactions(lambda f: _set(f, 11, "dwelling_type", None)),
         rf"^{TRANSACTIONS}: column 'dwelling_type': missing price control values in 1 row \(row 12\); expected a "
         r"value for every transaction\.$"),
    Case("transactions-no-price-controls", "transactions", "lbm-experiment", "a catalog without price_controls",
         _transactions(lambda f: None, price_controls=[]),
         rf"^{TRANSACTIONS}: the catalog lists no 'price_controls'; expected the dwelling control columns"),
    # ---- catalog ----------------------------------------------------------------------------
    Case("catalog-missing-file", "catalog", "lbm-experiment", "the catalog file does not exist",
         lambda ws: ["data.catalog=in/nowhere.yaml"], r"^in/nowhere\.yaml: file not found\.$"),
    Case("catalog-not-yaml", "catalog", "lbm-experiment", "a catalog that is not valid YAML",
         _raw("catalog", "broken.yaml", "indicators: [name: green\n  - {unclosed\n"),
         r"^in/broken\.yaml: cannot be read as YAML \("),
    Case("catalog-not-a-mapping", "catalog", "lbm-experiment", "a YAML list instead of a mapping",
         _raw("catalog", "list.yaml", "- green_share_500m\n- dist_supermarket_m\n"),
         r"^in/list\.yaml: expected a mapping with a non-empty list 'indicators' \(docs/data-contract\.md\)\.$"),
    Case("catalog-empty", "catalog", "lbm-experiment", "an empty catalog file",
         _raw("catalog", "empty.yaml", ""),
         r"^in/empty\.yaml: expected a mapping with a non-empty list 'indicators'"),
    Case("catalog-no-indicators", "catalog", "lbm-experiment", "a catalog with an empty indicator list",
         _catalog(lambda c: c.update(indicators=[])),
         rf"^{CATALOG}: expected a mapping with a non-empty list 'indicators'"),
    Case("catalog-unknown-dimension", "catalog", "lbm-experiment", "an indicator in an unknown dimension",
         _catalog(lambda c: c["indicators"][1].update(dimension="amenities")),
         rf"^{CATALOG}: indicator entry 2 \('dist_supermarket_m'\): field 'dimension' is 'amenities'; "
         r"expected one of fys, won, vrz, soc, onv\.$"),
    Case("catalog-duplicate-indicator", "catalog", "lbm-experiment", "the same indicator name twice",
         _catalog(lambda c: c["indicators"].append(dict(c["indicators"][0]))),
         rf"^{CATALOG}: duplicate indicator name\(s\) green_share_500m; expected each indicator once\.$"),
    Case("catalog-duplicate-key", "catalog", "lbm-experiment", "one indicator entry with two dimension keys",
         _raw("catalog", "dupkey.yaml", "indicators:\n  - name: green_share_500m\n    dimension: fys\n"
                                        "    dimension: vrz\n"),
         r"^in/dupkey\.yaml: cannot be read as YAML \(ConstructorError: key 'dimension' appears twice"),
    Case("catalog-unknown-field", "catalog", "lbm-experiment", "a misspelt field (dimenson)",
         _catalog(lambda c: c["indicators"][0].update(dimenson="fys")),
         rf"^{CATALOG}: indicator entry 1 \('green_share_500m'\): unknown field\(s\) dimenson\.$"),
    Case("catalog-bad-sign", "catalog", "lbm-experiment", "expected_sign outside -1, 0, 1",
         _catalog(lambda c: c["indicators"][0].update(expected_sign=2)),
         rf"^{CATALOG}: indicator entry 1 \('green_share_500m'\): field 'expected_sign' is 2; expected -1, 0 or 1\.$"),
    Case("catalog-unknown-transform", "catalog", "lbm-experiment", "an unknown transform",
         _catalog(lambda c: c["indicators"][0].update(transform="logit")),
         rf"^{CATALOG}: indicator entry 1 \('green_share_500m'\): field 'transform' is 'logit'; "
         r"expected one of none, log1p, sqrt\.$"),
    Case("catalog-indicator-absent-from-cells", "catalog", "lbm-experiment",
         "the catalog names an indicator the cells table does not have",
         _catalog(lambda c: c["indicators"].append({"name": "noise_lden", "dimension": "fys"})),
         rf"^{CELLS}: missing column\(s\) noise_lden; expected the indicator columns"),
    Case("catalog-name-is-contract-column", "catalog", "lbm-experiment", "an indicator named like a contract column",
         _catalog(lambda c: c["indicators"].append({"name": "households", "dimension": "won"})),
         rf"^{CATALOG}: indicator name\(s\) households are contract columns of cells"),
    Case("catalog-control-is-respondent-id", "catalog", "lbm-experiment",
         "respondent_id listed as a control (would put one dummy per respondent in the model)",
         _catalog(lambda c: c.update(controls=["tenure", "respondent_id"])),
         rf"^{CATALOG}: field 'controls': respondent_id are survey contract columns"),
    # ---- configuration (Hydra overrides) ----------------------------------------------------
    Case("override-typo-key", "config", "lbm-experiment", "a misspelt override key (export.dri)",
         _args("export.dri=elsewhere"),
         r"^Could not override 'export\.dri'\. / To append to your config use \+export\.dri=elsewhere / "
         r"Key 'dri' not in 'ExportConfig'", exit_code=1),
    Case("override-typo-group", "config", "lbm-experiment", "a misspelt config group option (model=ordinal_logt)",
         _args("model=ordinal_logt"),
         r"^In 'config': Could not find 'model/ordinal_logt' / Available options in 'model':", exit_code=1),
    Case("override-missing-value", "config", "lbm-experiment", "data=files without data.cells",
         lambda ws: ["data.cells=???"],
         r"^config: no value for data\.cells; set it on the command line, for example data\.cells=PATH"),
    Case("override-bad-seed", "config", "lbm-experiment", "seed=abc",
         _args("seed=abc"), r"^Error merging override seed=abc / Value 'abc' of type 'str' could not be converted to "
         r"Integer / full_key: seed", exit_code=1),
    Case("override-bad-boolean", "config", "lbm-experiment", "tracking.enabled=flase (would have meant true)",
         _args("tracking.enabled=flase"),
         r"^Error merging override tracking\.enabled=flase / Value 'flase' is not a valid bool", exit_code=1),
    Case("override-bad-choice", "config", "lbm-experiment", "model.estimator.cov_type=clustr",
         _args("model.estimator.cov_type=clustr"),
         r"^Error merging override model\.estimator\.cov_type=clustr / Invalid value 'clustr', expected one of "
         r"\[cluster, robust, nonrobust\]", exit_code=1),
    Case("override-unknown-argument", "config", "lbm-experiment", "+model.estimator.maxiter=5 (no such argument)",
         _args("+model.estimator.maxiter=5"),
         r"^config: model\.estimator\.maxiter: no such setting in OrdinalLogitConfig; expected one of _target_, "
         r"cov_type, max_iter, progress, tol\.$"),
    Case("override-base-year-without-cells", "config", "lbm-experiment", "classes.base_year=1999 (no cells that year)",
         _args("classes.base_year=1999"),
         r"^classes\.base_year=1999 has no cells; choose one of 2018, 2020 \(override classes\.base_year=YEAR\)\.$"),
    Case("override-exclude-unknown", "config", "lbm-experiment", "indicators.exclude names an unknown indicator",
         _args("indicators.exclude=[green_share_5000m]"),
         r"^indicators\.exclude names unknown indicator\(s\) green_share_5000m; expected names from "
         r"in/catalog\.yaml\.$"),
    Case("override-path-unquoted", "config", "lbm-experiment", "a path with a comma, brackets and an accent, unquoted",
         _args("data.cells=in/Zoë, 2024 [v2].csv"),
         r"^override data\.cells=in/Zoë, 2024 \[v2\]\.csv: the path holds ' ', ',', '\[', '\]', 'ë', which Hydra's "
         r"override grammar does not take unquoted; quote the value inside the override, e\.g\. "
         r"'data\.cells=\"in/Zoë, 2024 \[v2\]\.csv\"' in a shell"),
    Case("override-export-dir-is-file", "config", "lbm-experiment", "export.dir points at an existing file",
         _args("export.dir=in/cells.csv"),
         r"^config: export\.dir='in/cells\.csv' is not valid; expected a directory path, not an existing file"),
    Case("tracking-store-unusable", "config", "lbm-experiment", "a tracking URI MLflow cannot open",
         _args("tracking.uri=nosuchscheme://store"),
         r"^tracking\.uri=nosuchscheme://store: the MLflow store cannot be used \(", tracking=True),
    # ---- lbm score --------------------------------------------------------------------------
    Case("score-model-missing", "model", "lbm score", "the frozen model directory does not exist",
         _args("--model", "nowhere"), r"^nowhere: frozen model not found\.$"),
    Case("score-model-tampered", "model", "lbm score", "a weight edited in model.json (hashes not updated)",
         _edit_model(_tamper_weight),
         r"^model/model\.json: verification failed: content_sha256 is '[0-9a-f]{64}' but the file's content "
         r"hashes to '[0-9a-f]{64}'; the model was modified after freezing\.$"),
    Case("score-model-truncated", "model", "lbm score", "a truncated model.json",
         _edit_model(lambda raw: raw[: len(raw) // 2]),
         r"^model/model\.json: not a valid frozen model: the JSON does not parse \(.*\); "
         r"the file is truncated or corrupted\.$"),
    Case("score-model-not-json", "model", "lbm score", "a pickle where model.json should be",
         _edit_model(lambda raw: b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94."),
         r"^model/model\.json: not a valid frozen model: the JSON does not parse"),
    Case("score-cells-missing-file", "cells", "lbm score", "the cells file does not exist",
         _args("--cells", "in/nowhere.parquet"), r"^in/nowhere\.parquet: file not found\.$"),
    Case("score-cells-path-with-markup", "cells", "lbm score", "a path that looks like console markup ([/bold])",
         _args("--cells", "in/[/bold]nowhere.csv"), r"^in/\[/bold\]nowhere\.csv: file not found\.$"),
    Case("score-cells-longitude-latitude", "cells", "lbm score", "x, y in longitude/latitude degrees",
         _mutate("cells", lambda f: f.assign(x=5.1, y=52.1)),
         rf"^{CELLS}: column 'x\+y': coordinates that look like longitude/latitude degrees in 80 rows"),
    Case("score-cells-model-indicator-absent", "cells", "lbm score", "a model indicator has no column in cells",
         _mutate("cells", lambda f: f.drop(columns=["dist_supermarket_m"])),
         rf"^{CELLS}: missing column\(s\) dist_supermarket_m; expected the indicator columns"),
    Case("score-cells-nan", "cells", "lbm score", "a missing indicator value",
         _mutate("cells", lambda f: _set(f, 0, "dist_supermarket_m", np.nan)),
         rf"^{CELLS}: column 'dist_supermarket_m': missing, NaN or infinite values in 1 row \(row 1\)"),
    Case("score-unknown-year", "options", "lbm score", "--year 1990, a year the cells do not have",
         _args("--year", "1990"),
         rf"^{CELLS}: column 'year': no cells for year\(s\) 1990; expected one of 2018, 2020\.$"),
    Case("score-unknown-area-level", "options", "lbm score", "--aggregate buurt,street",
         _args("--aggregate", "buurt,street"),
         r"^--aggregate: unknown level\(s\) street; expected from buurt, wijk, gemeente\.$"),
    Case("score-output-type", "output", "lbm score", "--out scores.xlsx",
         _args("--out", "out/scores.xlsx"),
         r"^out/scores\.xlsx: unsupported output type '\.xlsx'; expected \.parquet or \.csv\.$"),
    Case("score-output-is-directory", "output", "lbm score", "--out names an existing directory",
         lambda ws: ((ws.root / "in" / "scores.parquet").mkdir(), ["--out", "in/scores.parquet"])[1],
         r"^in/scores\.parquet: is a directory; expected a file path to write to\. Nothing was written\.$"),
    Case("score-min-households-negative", "options", "lbm score", "--min-households -1",
         _args("--min-households", "-1"), r"^\-\-min\-households \-1: expected a whole number >= 1 \(the primer's disclosure minimum is 10\); a minimum below 1 would publish every area\.$"),
    Case("score-min-households-below-primer", "options", "lbm score", "--min-households 3 without a stated reason",
         _args("--min-households", "3"), r"^\-\-min\-households 3 is below the primer's disclosure minimum of 10; it would publish figures of smaller areas\. If that is intended, state why with \-\-unsafe\-disclosure"),
    Case("score-out-is-the-cells-input", "output", "lbm score", "--out names the cells input file",
         lambda ws: ["--cells", "in/cells.parquet", "--out", "in/cells.parquet"] if ws.save("cells", ws.cells, "cells.parquet") is None else [],
         r"^\-\-out in/cells\.parquet: would overwrite the input in/cells\.parquet \(\-\-cells\); choose another output path\. Nothing was written\.$"),
    Case("score-cells-codes-do-not-nest", "cells", "lbm score", "one buurt code in two gemeenten in the same year",
         _mutate("cells", lambda f: _set(f, 1, "gemeente_code", "GM0999")), rf"^{CELLS}: columns 'buurt_code'\+'gemeente_code': buurt BU03630101 lies in 2 gemeente codes \(GM0363, GM0999\) in 2018, 10 rows \(rows 2, 6, 10, 14, 18 and 5 more\);"),
    Case("score-option-typo", "options", "lbm score", "a misspelt option (--modle)",
         _args("--modle", "model"), r"No such option: --modle", exit_code=2),
    # ---- lbm outputs ------------------------------------------------------------------------
    Case("export-onnx-model-tampered", "model", "lbm export-onnx", "a weight edited in model.json (hashes not updated)",
         _edit_model(_tamper_weight),
         r"^model/model\.json: verification failed: content_sha256 is '[0-9a-f]{64}' but the file's content "
         r"hashes to '[0-9a-f]{64}'; the model was modified after freezing\.$"),
    Case("export-onnx-input-type", "options", "lbm export-onnx", "--input-type int8", _args("--input-type", "int8"),
         r"^--input-type 'int8': expected one of float32, float64\.$"),
    Case("export-onnx-output-type", "output", "lbm export-onnx", "--out out/model.txt", _args("--out", "out/model.txt"),
         r"^--out out/model\.txt: expected a file name ending in \.onnx\. Nothing was written\.$"),
    Case("outputs-groups-unknown-group", "options", "lbm outputs", "a gemeente group that is not G4, G40 or rest",
         _groups("gemeente_code,group\nGM0363,G4\nGM0599,G5\n"),
         r"^in/groups\.csv: column 'group': values 'G5' in 1 row \(row 2\); expected one of G4, G40, rest\.$"),
    Case("outputs-groups-duplicate-gemeente", "options", "lbm outputs", "a gemeente listed in two groups",
         _groups("gemeente_code,group\nGM0363,G4\nGM0363,G40\n"),
         r"^in/groups\.csv: column 'gemeente_code': duplicated codes in 2 rows \(rows 1, 2\); expected each "
         r"gemeente once\.$"),
    Case("outputs-groups-missing-column", "options", "lbm outputs", "a groups file without a group column",
         _groups("gemeente_code,kind\nGM0363,G4\n"),
         r"^in/groups\.csv: missing column\(s\) group; expected gemeente_code and group\.$"),
    # ---- lbm validate (the reference table) -------------------------------------------------------
    Case("reference-missing-column", "reference", "lbm validate", "the n column is missing",
         _reference(lambda f: f.drop(columns=["n"])),
         rf"^{REFERENCE}: missing column\(s\) n; expected the reference columns area_code, level, year, value, n "
         r"\(docs/data-contract\.md\)\.$"),
    Case("reference-empty-area-code", "reference", "lbm validate", "a row without an area code",
         _reference(lambda f: _set(f, 2, "area_code", None)),
         rf"^{REFERENCE}: column 'area_code': missing or empty values in 1 row \(row 3\); expected a non-empty text code\.$"),
    Case("reference-unknown-level", "reference", "lbm validate", "level 'street' (not buurt, wijk or gemeente)",
         _reference(lambda f: _set(f, 4, "level", "street")),
         rf"^{REFERENCE}: column 'level': unknown levels \('street'\) in 1 row \(row 5\); expected buurt, wijk or gemeente\.$"),
    Case("reference-value-text", "reference", "lbm validate", "a value written as text",
         _reference(lambda f: _set(f, 1, "value", "goed")),
         rf"^{REFERENCE}: column 'value': non-numeric values in 1 row \(row 2\); expected numbers\.$"),
    Case("reference-value-missing", "reference", "lbm validate", "a missing value",
         _reference(lambda f: _set(f, 6, "value", float("nan"))),
         rf"^{REFERENCE}: column 'value': missing, NaN or infinite values in 1 row \(row 7\); expected finite numbers\.$"),
    Case("reference-n-zero", "reference", "lbm validate", "an area with n = 0 respondents",
         _reference(lambda f: _set(f, 3, "n", 0)),
         rf"^{REFERENCE}: column 'n': values out of range in 1 row \(row 4\); expected whole numbers >= 1\.$"),
    Case("reference-n-not-whole", "reference", "lbm validate", "n = 12.5 respondents",
         _reference(lambda f: _set(f, 3, "n", 12.5)),
         rf"^{REFERENCE}: column 'n': non-whole numbers in 1 row \(row 4\); expected whole numbers\.$"),
    Case("reference-negative-sd", "reference", "lbm validate", "a negative within-area sd",
         _reference(lambda f: _set(f, 5, "sd", -0.4)),
         rf"^{REFERENCE}: column 'sd': negative standard deviations in 1 row \(row 6\); expected the within-area standard "
         r"deviation of the answers, >= 0\.$"),
    Case("reference-duplicate-area", "reference", "lbm validate", "one area, level and year twice",
         _reference(lambda f: pd.concat([f, f.iloc[[0]]], ignore_index=True)),
         rf"^{REFERENCE}: column 'area_code\+level\+year': duplicate values in 1 row \(row 13\); expected each value once\.$"),
    Case("reference-year-without-cells", "reference", "lbm validate", "a reference year the cells do not have",
         _reference(lambda f: _set(f, 0, "year", 2016)),
         rf"^{REFERENCE}: column 'year': reference year\(s\) 2016 have no cells; cells have 2018, 2020 \(1 row \(row 1\)\); "
         r"expected reference years the cells table covers\.$"),
    Case("reference-unknown-area", "reference", "lbm validate", "a buurt code the cells table lacks",
         _reference(lambda f: _set(f, 2, "area_code", "BU99999999")),
         rf"^{REFERENCE}: column 'area_code\+level\+year': areas \('BU99999999'\) that the cells table does not have at "
         r"that level in that year in 1 row \(row 3\); expected a buurt_code, wijk_code or gemeente_code"),
    Case("validate-min-respondents-below-primer", "options", "lbm validate", "--min-respondents 5 without a stated reason",
         _reference(lambda f: None, ["--min-respondents", "5"]),
         r"^--min-respondents 5 is below the primer's disclosure minimum of 10; it would publish figures of smaller "
         r"areas\. If that is intended, state why with --unsafe-disclosure \"reason\" \(recorded with the output\)\.$"),
    Case("validate-log-run-without-run", "options", "lbm validate", "--log-run model for a model that records no run",
         _reference(lambda f: None, ["--log-run", "model"]),
         r"^--log-run model: model records no MLflow run; pass a run id\. Nothing was written\.$"),
    Case("outputs-from-after-year", "options", "lbm outputs", "--from 2020 --year 2018 (risers and fallers backwards)",
         _args("--year", "2018", "--from", "2020"),
         r"^--from 2020 --year 2018: expected an earlier year for the risers and fallers\.$"),
    # ---- lbm world --------------------------------------------------------------------------
    Case("world-unknown-scale", "options", "lbm world", "--scale huge",
         _args("--scale", "huge"), r"^--scale 'huge' is not known; expected small or nl\.$"),
    Case("world-out-is-a-file", "output", "lbm world", "--out names an existing file",
         _args("--out", "in/cells.csv"),
         r"^--out in/cells\.csv: is a file; expected a directory for the world's files\. Nothing was written\.$"),
    Case("world-negative-seed", "options", "lbm world", "--seed -1",
         _args("--seed", "-1"), r"^\-\-seed \-1: expected a whole number >= 0 \(numpy's seed sequences take no negative seeds\)\.$"),
    Case("world-negative-sd", "options", "lbm world", "--buurt-effect-sd -0.5",
         _args("--buurt-effect-sd", "-0.5"), r"^\-\-buurt\-effect\-sd \-0\.5: expected a finite standard deviation >= 0\.$"),
    Case("world-seed-not-a-number", "options", "lbm world", "--seed abc",
         _args("--seed", "abc"), r"Invalid value for '--seed': .*integer", exit_code=2),
]


def command_line(case: Case, ws: Workspace, extra: list[str]) -> list[str]:
    if case.command == "lbm-experiment":
        base = [str(BIN / "lbm-experiment"), "data=files", f"data.cells={ws.paths['cells']}",
                f"data.survey={ws.paths['survey']}", f"data.catalog={ws.paths['catalog']}", f"export.dir={EXPORT}",
                f"tracking.enabled={'true' if case.tracking else 'false'}", "tracking.uri=sqlite:///out/mlflow.db",
                "tracking.artifact_dir=out/mlartifacts", "hydra.run.dir=runs"]
        return base + extra
    if case.command == "lbm score":
        options = {"--model": "model", "--cells": ws.paths["cells"], "--out": SCORES, "--aggregate": "buurt,wijk"}
        rest = []
        for flag, value in zip(extra[::2], extra[1::2]):
            if flag in options:
                options[flag] = value
            else:
                rest += [flag, value]
        return [str(BIN / "lbm"), "score", *[x for kv in options.items() for x in kv], *rest]
    if case.command == "lbm outputs":
        return [str(BIN / "lbm"), "outputs", "model", "--cells", ws.paths["cells"], "--out", "out/outputs", *extra]
    if case.command == "lbm validate":
        return [str(BIN / "lbm"), "validate", "model", "--cells", ws.paths["cells"], "--reference",
                ws.paths.get("reference", "in/reference.csv"), "--out", "out/validation", *extra]
    if case.command == "lbm export-onnx":
        return [str(BIN / "lbm"), "export-onnx", "model", *extra]
    if case.command == "lbm world":
        out = [] if "--out" in extra else ["--out", "out/world"]
        return [str(BIN / "lbm"), "world", *out, *extra]
    raise ValueError(case.command)


def extract_message(case: Case, stderr: str) -> str:
    """The user-facing message: the 'error'/'warning' paragraph, or Hydra's/Click's own lines joined with ' / '."""
    prefix = "warning " if case.warning else "error "
    for line in stderr.splitlines():
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    stderr = stderr.split("Config search path:")[0]
    lines = [line.strip("│╭╮╰╯─ ").strip() for line in stderr.splitlines()
             if "HYDRA_FULL_ERROR" not in line and not line.startswith(("Usage:", "Try '"))]
    return " / ".join(line for line in lines if line and line != "Error")[:600]


def normalise(message: str) -> str:
    """The message with run-specific parts replaced: hashes, JSON error positions, the repository path."""
    message = message.replace(str(ROOT), "<repo>")
    message = re.sub(r"\b[0-9a-f]{64}\b", "<sha256>", message)
    return re.sub(r"line \d+ column \d+ \(char \d+\)", "line L column C (char N)", message)


SUBPROCESS_ENV = "LBM_BAD_INPUT_SUBPROCESS"   # set to 1 to run every case through the real console scripts


def subprocess_by_default() -> bool:
    return os.environ.get(SUBPROCESS_ENV, "") not in ("", "0")


def command_env() -> dict[str, str]:
    """The environment a case's command runs with: plain, wide, uncoloured output and Hydra's short errors."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    env.pop("HYDRA_FULL_ERROR", None)
    return env


def run_case(case: Case, root: Path, model_dir: Path, subprocess: bool | None = None) -> Outcome:
    """Prepare the case's workspace in ``root`` and run its command (in this process unless ``subprocess``)."""
    ws = Workspace(root, model_dir)
    extra = case.prepare(ws)
    argv = command_line(case, ws, extra)
    if subprocess is None:
        subprocess = subprocess_by_default()
    returncode, stdout, stderr = (run_subprocess if subprocess else run_in_process)(argv, root)
    out = root / "out"
    written = sorted(str(p.relative_to(root)) for p in out.rglob("*")) if out.exists() else []
    return Outcome(case, returncode, stdout, stderr, extract_message(case, stderr), written, root)


def run_subprocess(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """The real console script ``argv[0]`` as a subprocess."""
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=command_env(), timeout=300)
    return done.returncode, done.stdout, done.stderr


def run_in_process(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """``argv`` run in this process as the console script ``argv[0]`` would run it as a subprocess.

    The script does ``sys.exit(main())``; here ``main()`` is called with sys.argv = argv in ``cwd``,
    under ``command_env()``, with stdout and stderr captured (the rich consoles of lbm_model look
    sys.stderr up at print time). The exit code comes from SystemExit as the interpreter computes
    it; an uncaught exception prints its traceback and gives 1, as in the subprocess. Not thread
    safe (sys.argv, cwd, environment): run cases one at a time.
    """
    stdout, stderr = io.StringIO(), io.StringIO()
    with _as_a_fresh_process(argv, cwd), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            main = _entry_point(Path(argv[0]).name).load()   # first use imports the command under this context
            with _consoles_as_piped(), _fresh_hydra(), _mlflow_tracking_uri_kept():
                code = _exit_status(main())
        except SystemExit as exc:
            code = _exit_status(exc.code)
        except KeyboardInterrupt:
            raise
        except BaseException:
            traceback.print_exc()
            code = 1
    return code, stdout.getvalue(), stderr.getvalue()


@contextlib.contextmanager
def _consoles_as_piped() -> Iterator[None]:
    """lbm_model's module-level rich consoles without colour, as the subprocess (stderr a pipe) makes them.

    A rich Console picks its colour system once, when it is made: at import. Imported in this
    process while stderr was a terminal (pytest -s), it would put escape codes in the captured
    messages; for the case it gets the colour system a console made now (under the case's
    environment and captured stderr) gets.
    """
    if "rich.console" not in sys.modules:
        yield
        return
    from rich.console import Console

    consoles = {id(value): value for name, module in list(sys.modules.items()) if name.partition(".")[0] == "lbm_model"
                for value in list(vars(module).values()) if isinstance(value, Console)}
    wanted = Console(stderr=True)._color_system
    changed = [(console, console._color_system) for console in consoles.values()
               if console._file is None and console._color_system != wanted]
    for console, _ in changed:
        console._color_system = wanted
    try:
        yield
    finally:
        for console, color_system in changed:
            console._color_system = color_system


@contextlib.contextmanager
def _mlflow_tracking_uri_kept() -> Iterator[None]:
    """Put MLflow's process-wide tracking URI back (a case with tracking on sets it to the case's store)."""
    utils = sys.modules.get("mlflow.tracking._tracking_service.utils")
    saved = getattr(utils, "_tracking_uri", None)
    try:
        yield
    finally:
        utils = sys.modules.get("mlflow.tracking._tracking_service.utils")
        if utils is not None and utils._tracking_uri != saved:
            utils.set_tracking_uri(saved)   # also sets MLFLOW_TRACKING_URI; the environment is restored after


def _entry_point(script: str) -> importlib.metadata.EntryPoint:
    """The installed console script's entry point (pyproject.toml [project.scripts])."""
    found = importlib.metadata.entry_points(group="console_scripts", name=script)
    if not found:
        raise LookupError(f"no console script {script!r} is installed")
    return next(iter(found))


def _exit_status(code: object) -> int:
    """The process exit status for ``sys.exit(code)``, as the interpreter computes it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


@contextlib.contextmanager
def _as_a_fresh_process(argv: list[str], cwd: Path) -> Iterator[None]:
    """sys.argv, cwd, environment, ``__main__``, warning filters and the root logger as a console script
    started as a subprocess would have them; everything is put back afterwards.

    Hydra configures logging in every run (a console handler on the captured stdout and a file
    handler in the case's hydra.run.dir); the root logger's handlers and level are restored and the
    handlers the case added are closed, so nothing accumulates and no later log line lands in an
    earlier case's directory.
    """
    env = command_env()
    saved_argv, saved_cwd, saved_env = sys.argv, os.getcwd(), dict(os.environ)
    saved_main = sys.modules["__main__"]
    root_logger = logging.getLogger()
    saved_handlers, saved_level = root_logger.handlers[:], root_logger.level
    script = types.ModuleType("__main__")   # a console script's __main__: no __package__, so click names the
    script.__file__ = argv[0]               # program after argv[0] ("lbm"), not "python -m pytest"
    try:
        os.environ.clear()
        os.environ.update(env)
        sys.argv = list(argv)
        sys.modules["__main__"] = script
        os.chdir(cwd)
        with warnings.catch_warnings():
            warnings.resetwarnings()         # the interpreter's default filters, not pytest's
            for category in (ResourceWarning, ImportWarning, PendingDeprecationWarning, DeprecationWarning):
                warnings.simplefilter("ignore", category)
            warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
            warnings.showwarning = _show_warning   # shown on (captured) stderr, not recorded by pytest
            yield
    finally:
        os.chdir(saved_cwd)
        sys.modules["__main__"] = saved_main
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
        for handler in root_logger.handlers:
            if handler not in saved_handlers:
                handler.close()
        root_logger.handlers[:] = saved_handlers
        root_logger.setLevel(saved_level)


@contextlib.contextmanager
def _fresh_hydra() -> Iterator[None]:
    """Hydra's process-wide state as in a fresh process, for a command that uses Hydra.

    ``@hydra.main`` initialises GlobalHydra (cleared again in its own ``finally``) and sets and
    resets HydraConfig in run_job; both are cleared before and restored after the case anyway, so
    a case neither fails on state left by another Hydra user nor leaves any. Hydra re-raises
    instead of printing its short error when it thinks it runs under a debugger (any
    ``sys.gettrace()``, e.g. coverage); a subprocess never is.
    """
    if "hydra._internal.utils" not in sys.modules:   # the command does not use Hydra
        yield
        return
    from hydra._internal import utils as hydra_utils
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    saved = GlobalHydra.instance().hydra, HydraConfig.instance().cfg
    under_debugger = hydra_utils.is_under_debugger
    GlobalHydra.instance().clear()
    HydraConfig.instance().cfg = None
    hydra_utils.is_under_debugger = lambda: False
    try:
        yield
    finally:
        hydra_utils.is_under_debugger = under_debugger
        GlobalHydra.instance().hydra, HydraConfig.instance().cfg = saved


def make_model(directory: Path) -> Path:
    """A valid frozen model fitted on the tiny inputs (the model that lbm score cases use)."""
    from conftest import write_inputs
    from lbm_model.classes import ThresholdRule
    from lbm_model.estimators import LeastSquares
    from lbm_model.inputs import load_inputs
    from lbm_model.recalibrate import fit_model, freeze, select_indicators

    cells, survey, catalog = tiny_tables()
    paths = write_inputs(directory / "inputs", cells, survey, catalog)
    inputs = load_inputs(paths["cells"], paths["survey"], paths["catalog"])
    fitted = fit_model(inputs, LeastSquares(), select_indicators(inputs))
    freeze(fitted, inputs, ThresholdRule(base_year=2020), directory / "model", model_version="bad-input-catalogue",
           seed=0, provenance={})
    return directory / "model"


def run_all(cases: list[Case], work: Path, workers: int = 3, subprocess: bool | None = None,
            model_dir: Path | None = None) -> dict[str, Outcome]:
    """Every case in ``work/<id>``: in this process one after another, or as subprocesses ``workers`` at a time."""
    model_dir = model_dir or make_model(work / "_model")
    if subprocess is None:
        subprocess = subprocess_by_default()
    if not subprocess:
        return {c.id: run_case(c, work / c.id, model_dir, subprocess=False) for c in cases}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = pool.map(lambda c: run_case(c, work / c.id, model_dir, subprocess=True), cases)
        return {o.case.id: o for o in outcomes}


def markdown(outcomes: dict[str, Outcome]) -> str:
    """docs/bad-input.md: one row per case with the message the real command printed."""
    lines = [
        "# Bad input: what each command says",
        "",
        "Generated by `.venv/bin/python tests/bad_input_cases.py --write docs/bad-input.md` from the messages",
        "the real commands print; `tests/test_bad_input_catalogue.py` runs every case and fails when a",
        "message here is out of date. Do not edit the table by hand.",
        "",
        "Every case runs in a directory holding valid tiny inputs (`in/cells.csv`, `in/survey.csv`,",
        "`in/catalog.yaml`) and a valid frozen model (`model/`), breaks one thing and runs one command:",
        "",
        "- `lbm-experiment data=files data.cells=in/cells.csv data.survey=in/survey.csv "
        "data.catalog=in/catalog.yaml export.dir=out/export ...`",
        "- `lbm score --model model --cells in/cells.csv --out out/scores.parquet --aggregate buurt,wijk`",
        "- `lbm validate model --cells in/cells.csv --reference in/reference.csv --out out/validation ...`",
        "- `lbm world --out out/world ...`",
        "",
        "For every error: the exit code is not 0 (2 for our own errors and usage errors, 1 for Hydra's",
        "override errors), no Python traceback is printed, and nothing is written at the output path",
        "(`out/` is not created; an existing model or score file is left byte-for-byte as it was).",
        "Rows are 1-based data rows, the header not counted. The two warning cases (an unknown cells",
        "column, an unknown survey column) are accepted and the model is written. Degenerate designs (one",
        "response level, a handful of respondents, one buurt, overflowing weights, copied indicators, a base",
        "year without households) are refused before the fit, so nothing is written either.",
        "",
        "| case | input | command | what is wrong | exit | message |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for case in CASES:
        outcome = outcomes[case.id]
        message = normalise(outcome.message).replace("|", "\\|")
        kind = "warning: " if case.warning else ""
        lines.append(f"| `{case.id}` | {case.input} | `{case.command}` | {case.wrong} | {outcome.returncode} | "
                     f"{kind}`{message}` |")
    return "\n".join(lines) + "\n"


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="write the catalogue (markdown) to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        outcomes = run_all(CASES, Path(tmp))
        failed = [o for o in outcomes.values() if o.returncode != o.case.exit_code
                  or not re.search(o.case.expect, o.message)]
        for o in failed:
            print(f"case {o.case.id}: exit {o.returncode}, message {o.message!r}", file=sys.stderr)
        text = markdown(outcomes)
    if args.write:
        args.write.write_text(text)
    else:
        print(text)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
