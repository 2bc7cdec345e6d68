"""Load and validate one set of inputs (cells, survey, catalog, optional transactions), with a fingerprint of each file."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lbm_model.catalog import Catalog
from lbm_model.contract import load_catalog, read_table, validate_cells, validate_survey, validate_transactions


@dataclass(frozen=True)
class Inputs:
    """Validated inputs and where they came from."""

    cells: pd.DataFrame
    survey: pd.DataFrame
    catalog: Catalog
    paths: dict[str, str]
    sha256: dict[str, str]
    transactions: pd.DataFrame | None = None   # sold dwellings (the behaviour model's data), when given

    def without_cell_columns(self, names: list[str]) -> "Inputs":
        """The same inputs without the cells' columns ``names`` (the other columns are shared, not copied):
        once the model indicators are standardised, the raw columns are dead weight through the checks
        (2.4 GB at nl scale)."""
        return dataclasses.replace(self, cells=self.cells.drop(columns=list(names)))

    @property
    def fingerprint(self) -> str:
        """One sha256 over the input files' hashes (order fixed; transactions only when given)."""
        keys = ("catalog", "cells", "survey", *(("transactions",) if "transactions" in self.sha256 else ()))
        joined = "".join(f"{k}:{self.sha256[k]};" for k in keys)
        return hashlib.sha256(joined.encode()).hexdigest()


def file_sha256(path: str | Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def load_inputs(cells_path: str | Path, survey_path: str | Path, catalog_path: str | Path,
                transactions_path: str | Path | None = None) -> Inputs:
    """Read and validate the inputs (transactions only when a path is given); raises ContractError on the
    first violation."""
    paths = {"cells": str(cells_path), "survey": str(survey_path), "catalog": str(catalog_path)}
    catalog = load_catalog(catalog_path)
    cells = validate_cells(read_table(cells_path), catalog, str(cells_path))
    survey = validate_survey(read_table(survey_path), cells, catalog, str(survey_path))
    transactions = None
    if transactions_path:
        paths["transactions"] = str(transactions_path)
        transactions = validate_transactions(read_table(transactions_path), cells, catalog, str(transactions_path))
    return Inputs(cells=cells, survey=survey, catalog=catalog, paths=paths,
                  sha256={k: file_sha256(v) for k, v in paths.items()}, transactions=transactions)


def capture_warnings(func, *args, **kwargs):
    """Run ``func`` and return (result, list of warning messages)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = func(*args, **kwargs)
    return result, [str(w.message) for w in caught]


# Overrides whose values are file or directory paths, and the characters Hydra's override grammar
# takes unquoted (https://hydra.cc/docs/advanced/override_grammar/basic/).
PATH_OVERRIDES = ("data.cells", "data.survey", "data.catalog", "data.transactions", "data.dir", "export.dir", "tracking.artifact_dir",
                  "hydra.run.dir")
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_/.\-+:~%@$?]*")
_INTERPOLATION = re.compile(r"\$\{[^${}]*\}")


def _without_interpolations(value: str) -> str:
    """The value with its ${...} interpolations (Hydra resolves those, e.g. ${now:%H-%M-%S}) taken out,
    innermost first."""
    while (stripped := _INTERPOLATION.sub("", value)) != value:
        value = stripped
    return value


def unquoted_path_override(args: list[str]) -> str | None:
    """A message for the first path override Hydra would misread (commas, brackets, spaces, non-ASCII
    letters unquoted), with the quoting that makes it work; None when there is none. In a sweep (``-m``) a
    comma separates the paths to sweep over (survey waves, say), so commas are taken as that there."""
    sweep = "-m" in args or "--multirun" in args
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or key.lstrip("+~") not in PATH_OVERRIDES or value[:1] in ("'", '"'):
            continue
        plain = _without_interpolations(value)
        if not all(_PLAIN_VALUE.fullmatch(part) for part in (plain.split(",") if sweep else [plain])):
            odd = sorted({c for c in plain if not _PLAIN_VALUE.fullmatch(c)})
            return (f"override {arg}: the path holds {', '.join(repr(c) for c in odd)}, which Hydra's override "
                    f"grammar does not take unquoted; quote the value inside the override, e.g. "
                    f"'{key}=\"{value}\"' in a shell (README, 'Paths with spaces, commas or accents').")
    return None
