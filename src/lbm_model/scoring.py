"""Production scoring with a frozen model: cell scores, dimension scores, classes, area aggregates.

This module and everything it imports stay free of the training stack (no statsmodels,
scikit-learn, pymc, mlflow or hydra); tests/test_scoring.py checks that.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lbm_model.catalog import Catalog, Indicator
from lbm_model.classes import CLASS_LABELS, N_CLASSES
from lbm_model.contract import validate_cells
from lbm_model.dimensions import AREA_LEVELS, DIMENSION_KEYS
from lbm_model.disclosure import DEFAULT_MIN_HOUSEHOLDS, protect
from lbm_model.errors import ContractError, ContractWarning, LbmError
from lbm_model.frozen import DRAWS_FIELD, read_frozen_model
from lbm_model.progress import track
from lbm_model.score_kernel import BLOCK_CELLS, TRANSFORM_CODES, fused_score, indicator_block

BATCH_ROWS = 131_072           # cells per Parquet record batch: ~50 MB of float32 indicators at 94 columns
READ_BUFFER_BYTES = 1 << 20    # buffered column-chunk reads instead of pre-buffering whole row groups
CELL_OUTPUT_COLUMNS: tuple[str, ...] = ("cell_id", "year", "score", *DIMENSION_KEYS, "class", "class_label")
PROBABILITY_COLUMNS: tuple[str, ...] = tuple(f"p_class_{k}" for k in range(1, N_CLASSES + 1))


@dataclass(frozen=True)
class KernelOutput:
    """What the fused kernel returns for a block of cells."""

    dimensions: np.ndarray        # cells x 5, DIMENSION_KEYS order (a view of the kernel's 5 x cells)
    score: np.ndarray             # cells
    classes: np.ndarray           # cells, 1..9
    outside: np.ndarray           # per indicator, cells outside the training range


@dataclass(frozen=True)
class CompiledScorer:
    """A frozen model folded into arrays: contribution = slope * transform(x) + offset.

    Scoring runs the fused, compiled pass of ``lbm_model.score_kernel`` over an
    indicators x cells block (float32 stays float32 in memory; sums are float64).
    """

    names: tuple[str, ...]
    transforms: tuple[str, ...]
    dimension_index: np.ndarray   # per indicator, position in DIMENSION_KEYS
    slope: np.ndarray             # weight / sd
    offset: np.ndarray            # -weight * mean / sd
    train_min: np.ndarray
    train_max: np.ndarray
    thresholds: np.ndarray
    content_sha256: str
    draw_slopes: np.ndarray | None = None    # posterior draws x indicators (weight draw / sd), when model.json has them
    draw_offsets: np.ndarray | None = None
    family: str = ""

    @classmethod
    def from_document(cls, document: dict) -> "CompiledScorer":
        entries = document["content"]["indicators"]
        weight = np.array([e["weight"] for e in entries], float)
        mean = np.array([e["mean"] for e in entries], float)
        sd = np.array([e["sd"] for e in entries], float)
        draws = document["content"].get(DRAWS_FIELD)
        draw_weights = np.array(draws["weights"], float) if draws else None
        return cls(
            names=tuple(e["name"] for e in entries),
            transforms=tuple(e["transform"] for e in entries),
            dimension_index=np.array([DIMENSION_KEYS.index(e["dimension"]) for e in entries], np.int64),
            slope=weight / sd,
            offset=-weight * mean / sd,
            train_min=np.array([e["train_min"] for e in entries], float),
            train_max=np.array([e["train_max"] for e in entries], float),
            thresholds=np.array(document["content"]["classes"]["thresholds"], float),
            content_sha256=document["content_sha256"],
            draw_slopes=None if draw_weights is None else draw_weights / sd,
            draw_offsets=None if draw_weights is None else -draw_weights * mean / sd,
            family=str(document["content"].get("estimator", {}).get("family", "")),
        )

    @classmethod
    def load(cls, path: str | Path) -> "CompiledScorer":
        """Read, verify and compile a frozen model (directory or model.json)."""
        return cls.from_document(read_frozen_model(path))

    def catalog(self) -> Catalog:
        return Catalog(indicators=tuple(Indicator(name=n, dimension=DIMENSION_KEYS[d], transform=t)
                                        for n, d, t in zip(self.names, self.dimension_index, self.transforms)))

    def run(self, cells: pd.DataFrame) -> KernelOutput:
        """The fused pass over the model's indicator columns of ``cells``."""
        block = indicator_block([_numeric_column(cells[name]) for name in self.names])
        codes = np.array([TRANSFORM_CODES[t] for t in self.transforms], np.int64)
        dimensions, score, classes, outside = fused_score(
            block, codes, self.dimension_index, self.slope, self.offset, self.train_min, self.train_max,
            self.thresholds, len(DIMENSION_KEYS), BLOCK_CELLS)
        return KernelOutput(dimensions.T, score, classes, outside)

    def class_probabilities(self, cells: pd.DataFrame) -> np.ndarray:
        """Per cell, the share of posterior draws of the weights that put it in each class (cells x 9).

        Every draw runs the same fused pass as the point score (same transforms, standardisation and
        thresholds), so a draw equal to the posterior mean gives the point class. Refused (LbmError) for a
        model without posterior draws.
        """
        self.require_draws()
        block = indicator_block([_numeric_column(cells[name]) for name in self.names])
        codes = np.array([TRANSFORM_CODES[t] for t in self.transforms], np.int64)
        counts = np.zeros((len(cells), N_CLASSES))
        rows = np.arange(len(cells))
        for slope, offset in zip(self.draw_slopes, self.draw_offsets):
            classes = fused_score(block, codes, self.dimension_index, slope, offset, self.train_min, self.train_max,
                                  self.thresholds, len(DIMENSION_KEYS), BLOCK_CELLS)[2]
            counts[rows, classes - 1] += 1.0
        return counts / len(self.draw_slopes)

    def require_draws(self) -> None:
        """Refuse (LbmError) when the model has no posterior draws to give class probabilities."""
        if self.draw_slopes is None:
            raise LbmError(f"--class-probabilities: the model ({self.family or 'unknown'} family, "
                           f"{self.content_sha256[:12]}) has no posterior draws of its weights; class probabilities "
                           "need a model fitted with model=bayes_ordinal. Nothing was written.")

    def dimension_scores(self, cells: pd.DataFrame) -> np.ndarray:
        """Per cell and dimension, the summed contributions (cells x 5)."""
        return self.run(cells).dimensions

    def out_of_range_counts(self, cells: pd.DataFrame) -> dict[str, int]:
        """Per indicator, how many cells lie outside the training range."""
        return self.named_counts(self.run(cells).outside)

    def named_counts(self, outside: np.ndarray) -> dict[str, int]:
        """Counts per indicator by name, indicators with none left out."""
        return {name: int(n) for name, n in zip(self.names, outside) if n}

    def score(self, cells: pd.DataFrame) -> pd.DataFrame:
        """One row per input cell: cell_id, year, score, the five dimensions, class, class_label."""
        return self.frame(cells, self.run(cells))

    @staticmethod
    def frame(cells: pd.DataFrame, result: KernelOutput) -> pd.DataFrame:
        """The output rows for ``cells`` from the kernel's ``result``."""
        columns = {"cell_id": cells["cell_id"].to_numpy(), "year": cells["year"].to_numpy(np.int64),
                   "score": result.score}
        columns |= {key: result.dimensions[:, j] for j, key in enumerate(DIMENSION_KEYS)}
        columns["class"] = result.classes
        columns["class_label"] = np.asarray(CLASS_LABELS, dtype=object)[result.classes - 1]
        return pd.DataFrame(columns)


def _numeric_column(series: pd.Series) -> np.ndarray:
    """A validated indicator column as a float array (float32 kept as is)."""
    values = series.to_numpy()
    return values if values.dtype in (np.float32, np.float64) else values.astype(np.float64)


def missing_years_error(file: str, missing: list[int], available: list[int]) -> ContractError:
    return ContractError(f"{file}: column 'year': no cells for year(s) {', '.join(map(str, missing))}; "
                         f"expected one of {', '.join(map(str, available))}.")


def select_years(cells: pd.DataFrame, years: list[int] | None, file: str) -> pd.DataFrame:
    """Keep the requested years; refuse a year the cells table does not have."""
    if not years:
        return cells
    missing = sorted(set(years) - set(cells["year"].unique().tolist()))
    if missing:
        raise missing_years_error(file, missing, sorted(cells["year"].unique()))
    return cells[cells["year"].isin(years)].reset_index(drop=True)


def warn_outside(outside: dict[str, int], file: str) -> None:
    if outside:
        listing = ", ".join(f"{name}: {n}" for name, n in sorted(outside.items()))
        warnings.warn(f"{file}: values outside the model's training range (cells per indicator): {listing}.",
                      ContractWarning, stacklevel=3)


def score_cells(scorer: CompiledScorer, cells: pd.DataFrame, file: str, years: list[int] | None = None,
                *, with_areas: bool = True, class_probabilities: bool = False) -> pd.DataFrame:
    """Validate the cells for this model, warn about out-of-range values, and score them.

    ``with_areas`` attaches households and the area codes that aggregation needs;
    ``class_probabilities`` the columns ``p_class_1..9`` (posterior models only).
    """
    cells = validate_cells(cells, scorer.catalog(), file, indicators=list(scorer.names))
    cells = select_years(cells, years, file)
    result = scorer.run(cells)
    warn_outside(scorer.named_counts(result.outside), file)
    scores = _with_probabilities(scorer, cells, scorer.frame(cells, result), class_probabilities)
    return _with_areas(scores, cells) if with_areas else scores


def _with_probabilities(scorer: CompiledScorer, cells: pd.DataFrame, scores: pd.DataFrame, wanted: bool) -> pd.DataFrame:
    """``scores`` with the per-class probability columns when ``wanted``."""
    if not wanted:
        return scores
    probabilities = scorer.class_probabilities(cells)
    return scores.assign(**{name: probabilities[:, k] for k, name in enumerate(PROBABILITY_COLUMNS)})


def _with_areas(scores: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with the households and area codes that aggregation needs."""
    return scores.assign(households=cells["households"].to_numpy(),     # the codes' own arrays: no round trip
                         **{f"{level}_code": cells[f"{level}_code"].array for level in AREA_LEVELS})  # via Python str


def score_parquet(scorer: CompiledScorer, path: str | Path, years: list[int] | None = None, *,
                  with_areas: bool = True, batch_rows: int = BATCH_ROWS, class_probabilities: bool = False
                  ) -> pd.DataFrame:
    """``score_cells`` for a Parquet file, read in record batches so memory stays bounded.

    Only one batch of indicator values is in memory at a time (plus the output rows). Any
    problem with the file is reported exactly as ``score_cells`` on the whole table reports
    it (the first offending rows in file order), so the batched and whole-table paths refuse
    the same inputs with the same messages.
    """
    from lbm_model.contract import read_table

    file = str(path)
    if class_probabilities:
        scorer.require_draws()         # refused before any reading
    try:
        return _score_parquet_batches(scorer, Path(path), file, years, with_areas, batch_rows, class_probabilities)
    except Exception:        # re-derive the whole-table message; re-raise ours if that path accepts the file
        score_cells(scorer, read_table(path), file, years, with_areas=with_areas)
        raise


def _score_parquet_batches(scorer: CompiledScorer, path: Path, file: str, years: list[int] | None,
                           with_areas: bool, batch_rows: int, class_probabilities: bool = False) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lbm_model.dimensions import CELL_COLUMNS

    reader = pq.ParquetFile(path, pre_buffer=False, buffer_size=READ_BUFFER_BYTES)   # stream column chunks
    names = reader.schema_arrow.names
    if len(set(names)) != len(names):
        raise ContractError(f"{path}: duplicated column names")      # worded by the whole-table path
    columns = [c for c in (*CELL_COLUMNS, *scorer.names) if c in names]
    catalog, parts, keys, seen_years = scorer.catalog(), [], [], set()
    outside = np.zeros(len(scorer.names), np.int64)
    n_batches = -(-reader.metadata.num_rows // batch_rows)
    for batch in track(reader.iter_batches(batch_size=batch_rows, columns=columns), n_batches,
                       f"scoring {reader.metadata.num_rows:,} cell-years"):
        table = pa.Table.from_batches([batch]).replace_schema_metadata(reader.schema_arrow.metadata)
        cells = validate_cells(table.to_pandas(), catalog, file, indicators=list(scorer.names))   # pandas dtypes as read_table
        keys.append(pa.record_batch([batch.column("cell_id"), batch.column("year")], names=["cell_id", "year"]))
        seen_years.update(cells["year"].unique().tolist())
        if years:
            cells = cells[cells["year"].isin(years)].reset_index(drop=True)
        result = scorer.run(cells)
        outside += result.outside
        part = _with_probabilities(scorer, cells, scorer.frame(cells, result), class_probabilities)
        parts.append(_with_areas(part, cells) if with_areas else part)
    if not parts:
        raise ContractError(f"{path}: the table has no rows")
    distinct = pa.Table.from_batches(keys).group_by(["cell_id", "year"]).aggregate([])
    if distinct.num_rows != sum(k.num_rows for k in keys):
        raise ContractError(f"{path}: duplicate cell_id+year")
    missing = sorted(set(years or ()) - seen_years)
    if missing:
        raise missing_years_error(file, missing, sorted(seen_years))
    warn_outside(scorer.named_counts(outside), file)
    kept = [part for part in parts if len(part)] or parts[:1]    # an empty part would turn text columns to object
    return pd.concat(kept, ignore_index=True)


def area_figures(scores: pd.DataFrame, level: str) -> pd.DataFrame:
    """Household-weighted area scores and households per class, nothing suppressed (not for publication)."""
    if level not in AREA_LEVELS:
        raise ValueError(f"unknown area level {level!r}; expected one of {', '.join(AREA_LEVELS)}")
    key = f"{level}_code"
    weighted = scores[["score", *DIMENSION_KEYS]].mul(scores["households"], axis=0)
    weighted[[key, "year"]] = scores[[key, "year"]]
    weighted["households"] = scores["households"]
    grouped = weighted.groupby([key, "year"], sort=True)
    sums = grouped.sum()
    out = sums[["households"]].copy()
    out["cells"] = grouped.size()
    with np.errstate(invalid="ignore", divide="ignore"):
        for column in ["score", *DIMENSION_KEYS]:
            out[column] = sums[column] / sums["households"]
    per_class = (scores.assign(_c=scores["class"]).pivot_table(index=[key, "year"], columns="_c", values="households",
                                                              aggfunc="sum", fill_value=0)
                 .reindex(columns=range(1, N_CLASSES + 1), fill_value=0))
    for c in range(1, N_CLASSES + 1):
        out[f"households_class_{c}"] = per_class[c].reindex(out.index).to_numpy(np.int64)
    return out.reset_index()


AREA_FIGURES: tuple[str, ...] = ("score", *DIMENSION_KEYS, *(f"households_class_{c}" for c in range(1, N_CLASSES + 1)))


def aggregate_all(scores: pd.DataFrame, levels: list[str] | tuple[str, ...] = AREA_LEVELS,
                  min_households: int = DEFAULT_MIN_HOUSEHOLDS, complementary: bool = True) -> dict[str, pd.DataFrame]:
    """Area tables for ``levels``, protected together: primary suppression below ``min_households``
    and complementary suppression over buurt, wijk and gemeente (lbm_model/disclosure.py).

    The suppression pattern is always computed on all three levels, so the tables of one level
    cannot be combined with another level's (from a later call) to undo it. Suppressed areas keep
    their households and cells but get no score, dimension scores or per-class households
    (``suppressed`` = True, ``suppression`` = 'primary' or 'complementary').
    """
    unknown = [lvl for lvl in levels if lvl not in AREA_LEVELS]
    if unknown:
        raise ValueError(f"unknown area level(s) {', '.join(unknown)}; expected from {', '.join(AREA_LEVELS)}")
    frames = {lvl: area_figures(scores, lvl) for lvl in AREA_LEVELS}
    codes = scores[["year", *(f"{lvl}_code" for lvl in AREA_LEVELS)]]
    protected = protect(frames, codes, list(AREA_FIGURES), min_households, complementary)
    return {lvl: protected[lvl] for lvl in levels}


def aggregate_areas(scores: pd.DataFrame, level: str, min_households: int = DEFAULT_MIN_HOUSEHOLDS) -> pd.DataFrame:
    """One level's protected area table (see :func:`aggregate_all`)."""
    if level not in AREA_LEVELS:
        raise ValueError(f"unknown area level {level!r}; expected one of {', '.join(AREA_LEVELS)}")
    return aggregate_all(scores, (level,), min_households)[level]
