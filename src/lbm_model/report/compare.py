"""What ``lbm compare`` writes (transition tables, shares, movers, dimension shifts, summary.json and a
self-contained report.html) and what ``lbm develop`` writes (changes per cell and area with the driving
dimension, summary.json), each all or nothing into one directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from lbm_model.compare import Development, VersionComparison
from lbm_model.outputs import PublishedOutputs


def transition_heatmap(table: np.ndarray, title: str) -> bytes:
    """Households by old (rows) and new (columns) class, as a heatmap with the counts written in."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lbm_model.report.figures import png_bytes

    figure, axis = plt.subplots(figsize=(5.2, 4.4))
    shown = np.log10(1 + table)
    axis.imshow(shown, cmap="Blues")
    for (i, j), value in np.ndenumerate(table):
        if value > 0:
            axis.text(j, i, f"{value:,.0f}", ha="center", va="center", fontsize=5,
                      color="white" if shown[i, j] > 0.6 * shown.max() else "black")
    axis.set_xticks(range(9), range(1, 10))
    axis.set_yticks(range(9), range(1, 10))
    axis.set_xlabel("class under the new model")
    axis.set_ylabel("class under the old model")
    axis.set_title(title, fontsize=8)
    return png_bytes(figure)


def published_headline(old: PublishedOutputs, new: PublishedOutputs) -> pd.DataFrame:
    """The headline figure of every published output under both models, one row per figure."""
    def figures(outputs: PublishedOutputs) -> dict[str, float | None]:
        summary = outputs.summary()
        out = {}
        for group, shares in summary["groups"].items():
            for key in ("onvoldoende_or_lower", "zwak_or_lower", "goed_or_better", "zeer_goed_or_better"):
                out[f"{group}: share of households {key.replace('_', ' ')}"] = None if shares is None else shares[key]
        out["onvoldoende buurten"] = summary["onvoldoende_buurten"]["count"]
        for name in ("under_pressure", "aandachtsbuurten"):
            out[f"{name.replace('_', ' ')}: buurten"] = summary[name]["buurten"]
            out[f"{name.replace('_', ' ')}: households"] = summary[name]["households"]
        resilience = summary["veerkracht"]
        for group, counts in (resilience.get("map_groups") or {}).items():
            out[f"veerkracht {resilience['year_from']}-{resilience['year_to']}: {group} (buurten)"] = counts["buurten"]
        return out

    before, after = figures(old), figures(new)
    return pd.DataFrame({"figure": list(before), "old": list(before.values()), "new": [after.get(k) for k in before]})


def comparison_files(comparison: VersionComparison,
                     published: tuple[PublishedOutputs, PublishedOutputs] | None = None) -> dict[str, str]:
    """File name -> text of every output of a comparison (CSV tables, summary.json, report.html); with
    ``published`` (the published outputs under the old and the new model) also the selections' stability."""
    from lbm_model.outputs import SELECTIONS, group_changes, selection_changes, stability
    from lbm_model.report.maps import class_change_map, selections_map

    from jinja2 import Environment, PackageLoader, select_autoescape

    from lbm_model.report.figures import data_uri

    files = {}
    for level, transitions in comparison.levels.items():
        name = "transitions.csv" if level == "cell" else f"transitions_{level}.csv"
        files[name] = transitions.table().round().astype("int64").to_csv(lineterminator="\n")   # whole households
    files["shares.csv"] = comparison.shares.to_csv(index=False, lineterminator="\n")
    files["dimension_shifts.csv"] = comparison.dimension_shifts.to_csv(index=False, lineterminator="\n")
    for level, movers in comparison.movers.items():
        files[f"movers_{level}.csv"] = movers.to_csv(index=False, lineterminator="\n")
    summary = comparison.summary()
    tables = {}
    rule = (f"cells with fewer than {comparison.min_households} households or in a suppressed buurt are not drawn")
    maps = {"class change per 100 m cell": data_uri(class_change_map(
        comparison.cell_classes, comparison.published_buurten, comparison.min_households,
        f"class under {comparison.new_version} minus class under {comparison.old_version}, {comparison.year}; {rule}"))}
    if published is not None:
        groups, selections = group_changes(*published), selection_changes(*published)
        files["published_groups.csv"] = groups.to_csv(index=False, lineterminator="\n")
        files["selections.csv"] = selections.to_csv(index=False, lineterminator="\n")
        summary["published_outputs"] = stability(*published)
        headline = published_headline(*published)
        files["published_headline.csv"] = headline.to_csv(index=False, lineterminator="\n")
        tables = {"headline": headline.to_html(index=False, border=0, float_format=lambda v: f"{v:.4g}", na_rep="suppressed"),
                  "groups": groups.to_html(index=False, border=0, float_format=lambda v: f"{v:.4g}"),
                  "selections": selections[selections["status"] != "stays"].to_html(index=False, border=0)}
        maps["buurten entering and leaving each selection"] = data_uri(selections_map(
            comparison.cell_classes, selections, comparison.published_buurten, comparison.min_households, SELECTIONS,
            f"published buurten by selection, {comparison.year} (drawn on their cells; {rule})"))
    files["summary.json"] = json.dumps(summary, indent=2, sort_keys=True) + "\n"
    environment = Environment(loader=PackageLoader("lbm_model.report", "templates"),
                              autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    heatmaps = {level: data_uri(transition_heatmap(t.households, f"{level}: households by class, {comparison.year}"))
                for level, t in comparison.levels.items()}
    files["report.html"] = environment.get_template("compare.html.j2").render(
        summary=summary, heatmaps=heatmaps, maps=maps,
        shares=comparison.shares.to_html(index=False, border=0, float_format=lambda v: f"{v:.4g}"),
        shifts=comparison.dimension_shifts.to_html(index=False, border=0, float_format=lambda v: f"{v:.4f}"),
        movers={level: m.to_html(index=False, border=0, float_format=lambda v: f"{v:.4f}")
                for level, m in comparison.movers.items()}, published=tables)
    return files


def _write_all(files: dict[str, str], out: str | Path) -> list[Path]:
    """Write ``{name: text}`` into ``out`` in one go (all files or none)."""
    from lbm_model.atomic import write_many_atomic

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return write_many_atomic([(out / name, (lambda text: lambda p: p.write_text(text, encoding="utf-8"))(text))
                              for name, text in files.items()])


def write_comparison(comparison: VersionComparison, out: str | Path,
                     published: tuple[PublishedOutputs, PublishedOutputs] | None = None) -> list[Path]:
    """Write every output of ``lbm compare`` into ``out`` (all files or none)."""
    return _write_all(comparison_files(comparison, published), out)


def write_development(development: Development, out: str | Path) -> list[Path]:
    """``cells.csv`` and ``<level>.csv`` (largest fall first) and ``summary.json`` into ``out`` (all or none)."""
    files = {"cells.csv": development.cells.to_csv(index=False, lineterminator="\n")}
    files |= {f"{level}.csv": frame.to_csv(index=False, lineterminator="\n") for level, frame in development.areas.items()}
    files["summary.json"] = json.dumps(development.summary(), indent=2, sort_keys=True) + "\n"
    return _write_all(files, out)
