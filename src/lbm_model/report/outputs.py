"""What ``lbm outputs`` writes: report.html (one self-contained page), groups.csv, onvoldoende_buurten.csv, under_pressure.csv, aandachtsbuurten.csv,
veerkracht.csv (when the cells carry the composition columns; summary.json says why not otherwise),
risers_fallers.csv (when two years are given) and summary.json, all or nothing into one directory."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

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
    files["report.html"] = render_outputs_report(outputs)
    return files


def group_shares_figure(groups: pd.DataFrame, year: int) -> bytes:
    """Share of households per class for each group with figures (bars side by side)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lbm_model.report.figures import png_bytes

    shown = [g for g, part in groups.groupby("group", sort=False) if not part["suppressed"].any()]
    figure, axis = plt.subplots(figsize=(7.5, 3.2))
    width = 0.8 / max(len(shown), 1)
    for i, name in enumerate(shown):
        part = groups[groups["group"] == name].sort_values("class")
        axis.bar(part["class"] + (i - (len(shown) - 1) / 2) * width, part["share"], width=width, label=name)
    labels = groups.drop_duplicates("class").sort_values("class")["label"]
    axis.set_xticks(range(1, len(labels) + 1), labels, rotation=30, ha="right", fontsize=7)
    axis.set_ylabel(f"share of households, {year}")
    axis.legend(fontsize=7, frameon=False)
    return png_bytes(figure)


def _html(frame: pd.DataFrame, rows: int | None = None) -> str:
    shown = frame if rows is None else frame.head(rows)
    return shown.to_html(index=False, border=0, float_format=lambda v: f"{v:.4g}", na_rep="suppressed")


def render_outputs_report(outputs: PublishedOutputs) -> str:
    """report.html of ``lbm outputs``: the summary, a figure of the group shares and every selection's table."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    from lbm_model.report.figures import data_uri

    summary = outputs.summary()
    headline = pd.DataFrame([{"group": name, **(figures or {"households": None})} for name, figures in summary["groups"].items()])
    headline["households"] = headline["households"].round().astype("Int64")
    tables = {"onvoldoende": _html(outputs.onvoldoende), "pressure": _html(outputs.pressure), "aandacht": _html(outputs.aandacht),
              "movers": _html(outputs.movers) if outputs.movers is not None else ""}
    if outputs.veerkracht.buurten is not None:
        tables["veerkracht"] = _html(pd.DataFrame([{"map group": k, **v} for k, v in summary["veerkracht"]["map_groups"].items()]))
        tables["combinations"] = _html(pd.DataFrame(list(summary["veerkracht"]["combinations"].items()),
                                                    columns=["combination", "buurten"]))
    environment = Environment(loader=PackageLoader("lbm_model.report", "templates"),
                              autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    return environment.get_template("outputs.html.j2").render(
        summary=summary, headline=_html(headline), tables=tables, maps=outputs_maps(outputs),
        figure=data_uri(group_shares_figure(outputs.groups, outputs.year)))


def outputs_maps(outputs: PublishedOutputs) -> dict[str, str]:
    """The selections and the veerkracht map groups as maps of 100 m squares (data URIs), drawn under the
    disclosure rule of report/maps.py; none without the cells' positions."""
    from lbm_model.report.figures import data_uri
    from lbm_model.report.maps import MEMBER_COLOURS, VEERKRACHT_COLOURS, buurt_panels_map

    if outputs.positions is None:
        return {}
    rule = f"cells with fewer than {outputs.min_households} households or in a suppressed buurt are not drawn"
    member = {f"{name} ({len(frame)} buurten)": pd.Series("selected", index=frame["buurt_code"].astype(str).to_numpy())
              for name, frame in (("onvoldoende buurten", outputs.onvoldoende), ("under pressure", outputs.pressure),
                                  ("aandachtsbuurten", outputs.aandacht))}
    args = (outputs.published_buurten, outputs.min_households)
    maps = {"selections": data_uri(buurt_panels_map(outputs.positions, member, MEMBER_COLOURS, *args,
                                                    f"published buurten in each selection, {outputs.year}; {rule}",
                                                    "not selected"))}
    resilience = outputs.veerkracht
    if resilience.buurten is not None:
        groups = resilience.buurten.set_index(resilience.buurten["buurt_code"].astype(str))["map_group"]
        maps["veerkracht"] = data_uri(buurt_panels_map(
            outputs.positions, {f"veerkracht {resilience.year_from}-{resilience.year_to}": groups}, VEERKRACHT_COLOURS,
            *args, f"map groups of published buurten (published in both years); {rule}", "not shown"))
    return maps


def write_outputs(outputs: PublishedOutputs, out: str | Path) -> list[Path]:
    """Write every published output into ``out`` (all files or none)."""
    return _write_all(output_files(outputs), out)
