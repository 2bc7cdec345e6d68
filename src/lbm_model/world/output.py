"""Write the world in the input contract's shape, plus truth.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from lbm_model.world.build import World

PARQUET_OPTIONS = {"compression": "zstd", "use_dictionary": True, "write_statistics": True}


def cells_table(world: World, year: int, ids: dict[str, pa.Array]) -> pa.Table:
    """One year of the cells table; indicator columns are float64, in catalog order."""
    geo = world.geography
    columns = {
        "cell_id": ids["cell_id"],
        "year": pa.array(np.full(geo.n_cells, year, np.int64)),
        "x": pa.array(geo.x.astype(np.float64)),
        "y": pa.array(geo.y.astype(np.float64)),
        "buurt_code": ids["buurt_code"],
        "wijk_code": ids["wijk_code"],
        "gemeente_code": ids["gemeente_code"],
        "households": pa.array(geo.households[year].astype(np.int64)),
    }
    for i, spec in enumerate(world.specs):
        columns[spec.name] = pa.array(world.values[year][i].astype(np.float64))
    for i, spec in enumerate(world.candidates.specs):      # last, so every earlier column keeps its place
        columns[spec.name] = pa.array(world.candidates.values[i].astype(np.float64))
    return pa.table(columns)


def write_cells(world: World, path: Path) -> None:
    """Stream the cells table year by year into one Parquet file."""
    geo = world.geography
    ids = {name: pa.array(getattr(geo, name).tolist(), pa.string()) for name in ("cell_id", "buurt_code", "wijk_code", "gemeente_code")}
    writer = None
    try:
        for year in world.preset.years:
            table = cells_table(world, year, ids)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, **PARQUET_OPTIONS)
            writer.write_table(table, row_group_size=1 << 20)
    finally:
        if writer is not None:
            writer.close()


def write_survey(world: World, path: Path) -> None:
    """The survey table: text columns as strings, year and response int64, weight float64."""
    columns = {}
    for name in world.survey.frame.columns:
        values = world.survey.frame[name].to_numpy()
        columns[name] = pa.array(values.tolist(), pa.string()) if values.dtype.kind in "OUS" else pa.array(values)
    pq.write_table(pa.table(columns), path, **PARQUET_OPTIONS)


def write_frame(frame, path: Path) -> None:
    """A table with text columns as strings and numeric columns as they are (transactions, reference)."""
    columns = {name: pa.array(frame[name].to_numpy().tolist(), pa.string()) if frame[name].dtype == object
               else pa.array(frame[name].to_numpy()) for name in frame.columns}
    pq.write_table(pa.table(columns), path, **PARQUET_OPTIONS)


def write_world(world: World, out_dir: Path) -> None:
    """cells.parquet, survey.parquet, transactions.parquet, reference.parquet, catalog.yaml,
    municipality_groups.csv and truth.json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_cells(world, out_dir / "cells.parquet")
    write_survey(world, out_dir / "survey.parquet")
    write_frame(world.transactions.frame, out_dir / "transactions.parquet")  # ids, controls as strings
    write_frame(world.reference.frame, out_dir / "reference.parquet")
    (out_dir / "catalog.yaml").write_text(yaml.safe_dump(world.catalog.to_dict(), sort_keys=False, allow_unicode=True), encoding="utf-8")
    geo = world.geography
    order = np.argsort(geo.gemeente_codes)
    lines = ["gemeente_code,group"] + [f"{geo.gemeente_codes[i]},{geo.gemeente_groups[i]}" for i in order]
    (out_dir / "municipality_groups.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out_dir / "truth.json").write_text(json.dumps(world.truth, indent=2, sort_keys=True) + "\n", encoding="utf-8")
