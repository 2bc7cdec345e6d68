"""The robustness table: would another estimator family (or indicator set) have given other weights or ranks?

``lbm robustness MODEL_DIR_OR_RUN_ID...`` reads two or more frozen models (verified on load) and writes

- ``weights.csv``: per indicator the weight of every model side by side on the judgement scale
  (judgement points per sd, as frozen), the spread (max - min over the models that have it), and
  whether the sign is stable (all non-zero weights share one sign; a weight of exactly 0, an
  indicator an elastic net dropped, counts as no sign);
- ``rank_correlation.csv``: Spearman rank correlation of household-weighted buurt scores in the
  base year between every pair of models (buurten below the disclosure minimum left out);
- ``robustness.json``: the models compared and a summary (logged to MLflow with ``--log``).

Buurt scores come from scoring one cells table with every model (``--cells``, default: the
training cells each model records, which must then be one file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from lbm_model.atomic import write_bytes_atomic
from lbm_model.errors import LbmError
from lbm_model.frozen import MODEL_FILE, read_frozen_model

OUTPUT_FILES = ("weights.csv", "rank_correlation.csv", "robustness.json")


@dataclass(frozen=True)
class ComparedModel:
    """One frozen model in the comparison."""

    label: str
    path: Path
    document: dict

    @property
    def content(self) -> dict:
        return self.document["content"]

    @property
    def weights(self) -> pd.Series:
        return pd.Series({e["name"]: float(e["weight"]) for e in self.content["indicators"]})


def load_models(model_dirs: list[Path]) -> list[ComparedModel]:
    """Read and verify every model; label each by its family (plus its directory when a family repeats)."""
    if len(model_dirs) < 2:
        raise LbmError("robustness needs at least two frozen models to compare; got "
                       f"{len(model_dirs)}.")
    documents = [(Path(d), read_frozen_model(Path(d) / MODEL_FILE)) for d in model_dirs]
    families = [doc["content"]["estimator"]["family"] for _, doc in documents]
    labels = [family if families.count(family) == 1 else f"{family}@{path.name}"
              for family, (path, _) in zip(families, documents)]
    if len(set(labels)) < len(labels):
        raise LbmError(f"robustness: two models share the label(s) {sorted({x for x in labels if labels.count(x) > 1})}; "
                       "give them distinct directory names.")
    return [ComparedModel(label, path, doc) for label, (path, doc) in zip(labels, documents)]


def weight_table(models: list[ComparedModel]) -> pd.DataFrame:
    """Weights side by side (judgement points per sd), spread and sign stability per indicator."""
    frame = pd.concat({m.label: m.weights for m in models}, axis=1)
    dimensions = {e["name"]: e["dimension"] for m in models for e in m.content["indicators"]}
    values = frame.to_numpy(float)
    signs = np.sign(values)
    present = ~np.isnan(values)
    nonzero_signs = [set(row[p & (row != 0)]) for row, p in zip(signs, present)]
    table = frame.copy()
    table.insert(0, "dimension", [dimensions[n] for n in frame.index])
    table["n_models"] = present.sum(axis=1)
    table["spread"] = np.nanmax(values, axis=1) - np.nanmin(values, axis=1)
    table["sign_stable"] = [len(s) <= 1 for s in nonzero_signs]
    table["n_zero"] = (values == 0).sum(axis=1)
    return table.rename_axis("name").reset_index()


def buurt_scores(models: list[ComparedModel], cells: pd.DataFrame, cells_file: str, min_households: int) -> pd.DataFrame:
    """Household-weighted base-year buurt score of every model (buurten with enough households)."""
    from lbm_model.scoring import CompiledScorer, aggregate_areas, score_cells

    columns = {}
    for model in models:
        base_year = int(model.content["classes"]["rule"]["base_year"])
        scores = score_cells(CompiledScorer.from_document(model.document), cells, cells_file, [base_year])
        areas = aggregate_areas(scores, "buurt", min_households)
        areas = areas[~areas["suppressed"]]
        columns[model.label] = areas.set_index("buurt_code")["score"]
    return pd.concat(columns, axis=1, join="inner")


def rank_correlation(scores: pd.DataFrame) -> pd.DataFrame:
    """Spearman rank correlation between the models' buurt scores (matrix, labels both ways)."""
    rho = stats.spearmanr(scores.to_numpy(float)).statistic
    rho = np.atleast_2d(rho) if scores.shape[1] > 2 else np.array([[1.0, rho], [rho, 1.0]])
    return pd.DataFrame(rho, index=scores.columns, columns=scores.columns)


def training_cells_path(models: list[ComparedModel]) -> Path:
    """The one training cells file the models record (provenance), or a clear error."""
    paths = {m.document.get("provenance", {}).get("input_paths", {}).get("cells") for m in models}
    if len(paths) != 1 or None in paths:
        raise LbmError("robustness: the models record different or no training cells files "
                       f"({', '.join(sorted(map(str, paths)))}); pass --cells PATH to score them on one table.")
    return Path(paths.pop())


def robustness(model_dirs: list[Path], out: Path, cells_path: Path | None = None, min_households: int = 10) -> dict:
    """Compare the models, write the three output files into ``out`` and return the summary document."""
    from lbm_model.contract import read_table

    models = load_models(model_dirs)
    cells_path = Path(cells_path) if cells_path is not None else training_cells_path(models)
    weights = weight_table(models)
    scores = buurt_scores(models, read_table(cells_path), str(cells_path), min_households)
    rho = rank_correlation(scores)
    labels = [m.label for m in models]
    pairs = {f"{a}~{b}": float(rho.loc[a, b]) for i, a in enumerate(labels) for b in labels[i + 1:]}
    document = {
        "models": [{"label": m.label, "family": m.content["estimator"]["family"], "path": str(m.path),
                    "model_version": m.content["model_version"], "n_indicators": len(m.content["indicators"])}
                   for m in models],
        "cells": str(cells_path), "n_buurten": int(len(scores)),
        "summary": {"n_indicators": int(len(weights)), "n_sign_unstable": int((~weights["sign_stable"]).sum()),
                    "median_spread": float(weights["spread"].median()), "max_spread": float(weights["spread"].max()),
                    "min_rank_correlation": float(min(pairs.values()))},
        "sign_unstable": weights.loc[~weights["sign_stable"], "name"].tolist(),
        "rank_correlation": pairs,
    }
    out = Path(out)
    write_bytes_atomic(out / "weights.csv", weights.to_csv(index=False, lineterminator="\n", float_format="%.10g").encode())
    write_bytes_atomic(out / "rank_correlation.csv",
                       rho.rename_axis("model").reset_index().to_csv(index=False, lineterminator="\n",
                                                                    float_format="%.10g").encode())
    write_bytes_atomic(out / "robustness.json", (json.dumps(document, indent=2, sort_keys=True) + "\n").encode())
    return document


def log_robustness(document: dict, out: Path, tracking_uri: str, experiment: str) -> str:
    """Log the summary as metrics and the three files as artifacts of a new MLflow run; returns its id."""
    from lbm_model.analysis_log import log_analysis

    return log_analysis("robustness", document["summary"], {"models": ",".join(m["label"] for m in document["models"])},
                        out, OUTPUT_FILES, tracking_uri, experiment)
