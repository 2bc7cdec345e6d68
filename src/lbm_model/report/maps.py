"""Maps of a comparison, drawn as 100 m squares from the cells' coordinates (cell centres, EPSG:28992 metres).

Disclosure control as the primer sets it (section 3): figures are shown only for areas with enough
observations. A map square is a cell-level figure, so a cell is drawn only when it has at least the minimum
households itself *and* lies in a buurt that ``lbm score`` publishes (not hidden by primary or complementary
suppression); every other cell stays blank, in every map. The squares are painted into a raster with one pixel
per 100 m cell (so a national map stays one image), never as a scatter of points.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CELL_SIZE = 100.0        # metres
CHANGE_LEVELS = (-3, -2, -1, 0, 1, 2, 3)   # class change shown; larger moves join the outermost colour


def drawable(cells: pd.DataFrame, published_buurten: frozenset[str] | set[str], min_households: int) -> np.ndarray:
    """Which cells a map may show: at least ``min_households`` households, in a published buurt."""
    return ((cells["households"].to_numpy() >= min_households)
            & cells["buurt_code"].astype(str).isin(published_buurten).to_numpy())


def raster(x: np.ndarray, y: np.ndarray, values: np.ndarray, shown: np.ndarray) -> tuple[np.ndarray, tuple]:
    """A grid with one pixel per 100 m cell over the extent of all cells, ``values`` where ``shown`` and NaN
    elsewhere; returns the grid (row 0 at the north) and its extent (left, right, bottom, top) in metres."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    column = np.rint((x - x.min()) / CELL_SIZE).astype(np.int64)
    row = np.rint((y.max() - y) / CELL_SIZE).astype(np.int64)
    grid = np.full((row.max() + 1, column.max() + 1), np.nan, dtype=np.float32)
    grid[row[shown], column[shown]] = np.asarray(values, float)[shown]
    half = CELL_SIZE / 2
    return grid, (x.min() - half, x.max() + half, y.min() - half, y.max() + half)


def class_change_raster(cells: pd.DataFrame, published_buurten, min_households: int) -> tuple[np.ndarray, tuple]:
    """New minus old class per drawable cell (clipped to the colour scale), NaN where a cell may not be shown."""
    change = np.clip(cells["class_new"].to_numpy() - cells["class_old"].to_numpy(), CHANGE_LEVELS[0], CHANGE_LEVELS[-1])
    return raster(cells["x"], cells["y"], change, drawable(cells, published_buurten, min_households))


def _axes_off(axis, extent) -> None:
    axis.set_xlim(extent[0], extent[1])
    axis.set_ylim(extent[2], extent[3])
    axis.set_aspect("equal")
    axis.set_xticks([])
    axis.set_yticks([])


def class_change_map(cells: pd.DataFrame, published_buurten, min_households: int, title: str) -> bytes:
    """Old against new class per 100 m cell: blue squares rose, red fell, grey kept their class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    from lbm_model.report.figures import png_bytes

    grid, extent = class_change_raster(cells, published_buurten, min_households)
    colours = ["#b2182b", "#ef8a62", "#fddbc7", "#d9d9d9", "#d1e5f0", "#67a9cf", "#2166ac"]
    cmap = ListedColormap(colours)
    norm = BoundaryNorm(np.arange(CHANGE_LEVELS[0] - 0.5, CHANGE_LEVELS[-1] + 1), cmap.N)
    figure, axis = plt.subplots(figsize=(6.4, 6.0))
    axis.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, extent=extent, interpolation="nearest")
    _axes_off(axis, extent)
    labels = ["-3 or more", "-2", "-1", "same class", "+1", "+2", "+3 or more"]
    axis.legend(handles=[Patch(color=c, label=label) for c, label in zip(colours, labels)], fontsize=6, ncol=4,
                loc="upper center", bbox_to_anchor=(0.5, -0.01), frameon=False, title="class change (new - old)",
                title_fontsize=7)
    axis.set_title(title, fontsize=8)
    return png_bytes(figure)


SELECTION_COLOURS = {"stays": "#2166ac", "enters": "#1a9850", "leaves": "#d73027", "not selected": "#e0e0e0"}
MEMBER_COLOURS = {"selected": "#b2182b", "not selected": "#e0e0e0"}
VEERKRACHT_COLOURS = {"afname kwetsbare bewoners": "#525252", "kwetsbare bewoners gelijk": "#bdbdbd",
                      "toename, overlast en onveiligheid gelijk": "#fd8d3c", "veerkracht": "#6a51a3",
                      "weinig veerkracht": "#cb181d", "not shown": "#f0f0f0"}


def buurt_panels_map(cells: pd.DataFrame, panels: dict[str, pd.Series], colours: dict[str, str], published_buurten,
                     min_households: int, title: str, fallback: str) -> bytes:
    """One panel per entry of ``panels`` (title -> buurt code -> category): the drawable cells of each published
    buurt painted in its category's colour (``fallback`` for buurten the series leaves out)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from lbm_model.report.figures import png_bytes

    categories = list(colours)
    cmap = ListedColormap(list(colours.values()))
    shown = drawable(cells, published_buurten, min_households)
    columns = 2 if len(panels) > 1 else 1
    rows = int(np.ceil(len(panels) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(3.75 * columns, 3.6 * rows + 0.4), squeeze=False)
    for axis, (name, category) in zip(axes.flat, panels.items()):
        code = cells["buurt_code"].astype(str).map(category).fillna(fallback).map(categories.index).to_numpy()
        grid, extent = raster(cells["x"], cells["y"], code, shown)
        axis.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=-0.5, vmax=len(categories) - 0.5, extent=extent,
                    interpolation="nearest")
        _axes_off(axis, extent)
        axis.set_title(name, fontsize=7)
    for axis in list(axes.flat)[len(panels):]:
        axis.axis("off")
    figure.legend(handles=[Patch(color=c, label=k) for k, c in colours.items()], fontsize=7, ncol=3,
                  loc="lower center", frameon=False)
    figure.suptitle(title, fontsize=8)
    figure.subplots_adjust(bottom=0.12)
    return png_bytes(figure)


def selections_map(cells: pd.DataFrame, selections: pd.DataFrame, published_buurten, min_households: int,
                   names: tuple[str, ...], title: str) -> bytes:
    """One panel per selection: the drawable cells of each published buurt coloured by whether the buurt stays in,
    enters or leaves the selection (or is in it under neither model)."""
    panels = {}
    for name in names:
        status = selections[selections["selection"] == name].set_index("buurt_code")["status"]
        counts = status.value_counts()
        panels[f"{name}: {counts.get('enters', 0)} enter, {counts.get('leaves', 0)} leave, "
               f"{counts.get('stays', 0)} stay"] = status
    return buurt_panels_map(cells, panels, SELECTION_COLOURS, published_buurten, min_households, title, "not selected")
