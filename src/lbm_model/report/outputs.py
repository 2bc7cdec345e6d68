"""What ``lbm outputs`` writes: groups.csv, onvoldoende_buurten.csv, under_pressure.csv, aandachtsbuurten.csv,
veerkracht.csv (when the cells carry the composition columns; summary.json says why not otherwise),
risers_fallers.csv (when two years are given) and summary.json, all or nothing into one directory."""

from __future__ import annotations

import json
from pathlib import Path

from lbm_model.outputs import PublishedOutputs
from lbm_model.report.compare import _write_all


def output_files(outputs: PublishedOutputs) -> dict[str, str]:
    """File name -> text of every published output."""
    files = {"groups.csv": outputs.groups.to_csv(index=False, lineterminator="\n"),
             "onvoldoende_buurten.csv": outputs.onvoldoende.to_csv(index=False, lineterminator="\n")}
    files["under_pressure.csv"] = outputs.pressure.to_csv(index=False, lineterminator="\n")
    files["aandachtsbuurten.csv"] = outputs.aandacht.to_csv(index=False, lineterminator="\n")
    if outputs.veerkracht.buurten is not None:
        files["veerkracht.csv"] = outputs.veerkracht.buurten.to_csv(index=False, lineterminator="\n")
    if outputs.movers is not None:
        files["risers_fallers.csv"] = outputs.movers.to_csv(index=False, lineterminator="\n")
    files["summary.json"] = json.dumps(outputs.summary(), indent=2, sort_keys=True) + "\n"
    return files


def write_outputs(outputs: PublishedOutputs, out: str | Path) -> list[Path]:
    """Write every published output into ``out`` (all files or none)."""
    return _write_all(output_files(outputs), out)
