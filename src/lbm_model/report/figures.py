"""Static figures for the reports (matplotlib, Agg), returned as PNG data URIs so a page needs no other file."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np

# Published national household shares (Leefbaarometer 3.0, 2020; ../shared/LBM_PRIMER.md section 3)
PUBLISHED_2020 = {"onvoldoende or lower (classes 1-3)": 0.04, "goed or better (classes 7-9)": 0.30}


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def file_data_uri(path: Path) -> str:
    return data_uri(Path(path).read_bytes())


def _png(figure) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def weights_forest(indicators: list[dict], dimensions: dict[str, str]) -> bytes:
    """Weights by dimension with 95% intervals (weight +- 1.96 standard errors; points only without them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = [e for key in dimensions for e in sorted((e for e in indicators if e["dimension"] == key),
                                                       key=lambda e: e["weight"])]
    y = np.arange(len(ordered))
    weights = np.array([e["weight"] for e in ordered])
    errors = np.array([1.96 * e["standard_error"] if e.get("standard_error") is not None else 0.0 for e in ordered])
    colours = {key: plt.cm.tab10(i) for i, key in enumerate(dimensions)}
    figure, axis = plt.subplots(figsize=(7.5, max(3.0, 0.16 * len(ordered) + 1)))
    for key in dimensions:
        rows = np.array([e["dimension"] == key for e in ordered])
        if rows.any():
            axis.errorbar(weights[rows], y[rows], xerr=errors[rows], fmt="o", ms=3, lw=1, color=colours[key],
                          label=f"{key}: {dimensions[key]}")
    axis.axvline(0, color="grey", lw=0.8)
    axis.set_yticks(y, [e["name"] for e in ordered], fontsize=6)
    axis.set_title("weight (judgement points per sd of the transformed indicator), 95% interval", fontsize=8)
    axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2, frameon=False)
    axis.invert_yaxis()
    return _png(figure)


def class_shares_bars(labels: list[str], shares: list[float], base_year: int) -> bytes:
    """Households per class in the base year, with the published national 2020 aggregates as reference lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7.5, 3.2))
    axis.bar(range(1, len(labels) + 1), shares, color=plt.cm.RdYlGn(np.linspace(0.05, 0.95, len(labels))))
    axis.set_xticks(range(1, len(labels) + 1), labels, rotation=30, ha="right", fontsize=7)
    axis.set_ylabel(f"share of households, {base_year}")
    low, high = sum(shares[:3]), sum(shares[6:])
    axis.set_title(f"classes 1-3: {100 * low:.1f}% (published 2020: {100 * PUBLISHED_2020['onvoldoende or lower (classes 1-3)']:.0f}%); "
                   f"classes 7-9: {100 * high:.1f}% (published 2020: {100 * PUBLISHED_2020['goed or better (classes 7-9)']:.0f}%)",
                   fontsize=8)
    return _png(figure)
