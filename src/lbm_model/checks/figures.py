"""Evidence figures: LISA cluster maps and Moran scatter plots (matplotlib, no pyplot state).

Figures are built on ``matplotlib.figure.Figure`` directly, so no interactive backend is
touched and nothing global changes. Maps show areas, never respondents: a LISA map colours
the cells of each buurt by the buurt's cluster category; buurten below the disclosure
threshold are drawn as 'suppressed'.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

LISA_COLOURS = {"high-high": "#d7191c", "low-low": "#2c7bb6", "low-high": "#abd9e9", "high-low": "#fdae61",
                "not significant": "#d0d0d0", "suppressed": "#ececec"}


def lisa_map(cell_xy: np.ndarray, cell_category: np.ndarray, title: str, note: str) -> Figure:
    """Cells coloured by the LISA category of their buurt (EPSG:28992 metres)."""
    fig = Figure(figsize=(7.5, 7.5))
    ax = fig.add_subplot()
    size = max(0.05, min(4.0, 4e4 / max(len(cell_xy), 1)))
    for label, colour in LISA_COLOURS.items():
        mask = cell_category == label
        if mask.any():
            ax.scatter(cell_xy[mask, 0] / 1000, cell_xy[mask, 1] / 1000, s=size, c=colour, marker="s",
                       linewidths=0, label=f"{label} ({int(mask.sum()):,} cells)", rasterized=True)
    ax.set_aspect("equal")
    ax.set_xlabel("x (km, EPSG:28992)")
    ax.set_ylabel("y (km)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=7, markerscale=max(1.0, 6 / np.sqrt(size)), frameon=True)
    fig.text(0.01, 0.01, note, fontsize=7, color="#555555")
    return fig


def moran_scatter(z: np.ndarray, lag: np.ndarray, moran_i: float, title: str, note: str,
                  hexbin_above: int = 5000) -> Figure:
    """Standardised value against its spatial lag, with the Moran's I slope.

    Above ``hexbin_above`` points the plot shows hexagon densities instead of points.
    """
    fig = Figure(figsize=(6, 6))
    ax = fig.add_subplot()
    if len(z) > hexbin_above:
        hb = ax.hexbin(z, lag, gridsize=60, bins="log", mincnt=1, cmap="Greys")
        fig.colorbar(hb, ax=ax, label="points per hexagon (log)")
    else:
        ax.scatter(z, lag, s=6, c="#4d4d4d", alpha=0.6, linewidths=0)
    grid = np.linspace(np.nanmin(z), np.nanmax(z), 50)
    ax.plot(grid, moran_i * grid, color="#d7191c", lw=1.5, label=f"slope = Moran's I = {moran_i:.3f}")
    ax.axhline(0, color="#888888", lw=0.8)
    ax.axvline(0, color="#888888", lw=0.8)
    ax.set_xlabel("standardised value")
    ax.set_ylabel("spatial lag of the standardised value")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    fig.text(0.01, 0.01, note, fontsize=7, color="#555555")
    return fig


def bar_chart(labels: list[str], values: np.ndarray, threshold: float | None, title: str, xlabel: str) -> Figure:
    """Horizontal bars (e.g. R-squared per indicator) with an optional threshold line."""
    fig = Figure(figsize=(7, max(3.0, 0.16 * len(labels) + 1)))
    ax = fig.add_subplot()
    order = np.argsort(values)
    colours = ["#d7191c" if threshold is not None and values[i] > threshold else "#4d4d4d" for i in order]
    ax.barh(np.arange(len(order)), values[order], color=colours)
    ax.set_yticks(np.arange(len(order)), [labels[i] for i in order], fontsize=6)
    if threshold is not None:
        ax.axvline(threshold, color="#d7191c", lw=1, ls="--", label=f"threshold {threshold:g}")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
