"""Resilience (veerkracht) combinations of published buurten (primer, section 3).

The published maps (Aedes' veerkrachtkaarten; In.Fact.Research, *Veerkracht in het corporatiebezit*, third
update, section 3.4 and annex A, in ../shared/seeds) cross three three-level factors per area:

- the development of the share of vulnerable residents between two years: afname, gelijk, toename
  (the index is the sum of the vulnerable groups' shares, not corrected for overlap);
- the level of nuisance and insecurity (the LBM dimension ``onv``) in the later year against the national
  mean (of the published buurten): veel problemen, problemen, weinig problemen;
- its development between the two years: verbetering, gelijk, verslechtering;

27 combinations, grouped for the maps into: a decrease of vulnerable residents, no change in them, an increase
with nuisance about equal, an increase with nuisance improving (*veerkracht*), and an increase with nuisance
worsening (*weinig veerkracht*). The cut-offs for "about equal" and the three levels are not published; they
are settings in conf/published_outputs.yaml.

The vulnerable index comes from composition columns of the cells (register data; present for audits only),
never from the model. Without them nothing is computed and the output says why. Only buurten that ``lbm score``
publishes in both years appear, and only their categories (not the composition shares themselves).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lbm_model.errors import ConfigError, rows_error

VULNERABLE = ("afname", "gelijk", "toename")
NUISANCE_LEVEL = ("veel problemen", "problemen", "weinig problemen")
NUISANCE_TREND = ("verbetering", "gelijk", "verslechtering")
MAP_GROUPS = ("afname kwetsbare bewoners", "kwetsbare bewoners gelijk", "toename, overlast en onveiligheid gelijk",
              "veerkracht", "weinig veerkracht")


@dataclass(frozen=True)
class VeerkrachtSettings:
    """conf/published_outputs.yaml, section veerkracht."""

    vulnerable_columns: tuple[str, ...] = ("benefit_dependence_share", "migration_background_share")
    years_back: int = 6
    vulnerable_equal_band: float = 0.01
    level_cuts_class_widths: tuple[float, float] = (-0.5, 0.0)
    trend_equal_class_widths: float = 0.25

    @classmethod
    def from_dict(cls, raw: dict, source: str) -> "VeerkrachtSettings":
        cuts = tuple(float(v) for v in raw["level_cuts_class_widths"])
        settings = cls(tuple(str(c) for c in raw["vulnerable_columns"]), int(raw["years_back"]),
                       float(raw["vulnerable_equal_band"]), cuts, float(raw["trend_equal_class_widths"]))
        if not settings.vulnerable_columns or settings.years_back < 1 or len(cuts) != 2 or not cuts[0] < cuts[1] \
                or settings.vulnerable_equal_band < 0 or settings.trend_equal_class_widths < 0:
            raise ConfigError(f"{source}: veerkracht = {raw}; expected vulnerable_columns (one or more names), "
                              "years_back >= 1, vulnerable_equal_band >= 0, level_cuts_class_widths [low, high] with "
                              "low < high, trend_equal_class_widths >= 0.")
        return settings


@dataclass(frozen=True, eq=False)
class Veerkracht:
    """The combinations of published buurten between ``year_from`` and ``year_to``; ``buurten`` is None when they
    could not be computed, and ``reason`` says why."""

    year_from: int
    year_to: int
    buurten: pd.DataFrame | None
    reason: str | None = None

    def summary(self, settings: VeerkrachtSettings) -> dict:
        out = {"year_from": self.year_from, "year_to": self.year_to,
               "vulnerable_columns": list(settings.vulnerable_columns), "computed": self.buurten is not None}
        if self.buurten is None:
            return out | {"reason": self.reason}
        groups = self.buurten.groupby("map_group")["households"].agg(["size", "sum"])
        out["map_groups"] = {g: {"buurten": int(groups["size"].get(g, 0)), "households": float(groups["sum"].get(g, 0))}
                             for g in MAP_GROUPS}
        out["combinations"] = {k: int(v) for k, v in self.buurten["combination"].value_counts().sort_index().items()}
        return out


def vulnerable_index(cells: pd.DataFrame, columns: tuple[str, ...], years: list[int], file: str) -> pd.DataFrame:
    """Household-weighted buurt mean of the summed vulnerable shares, per buurt and year (``buurt_code``, ``year``,
    ``vulnerable``); refuses missing or non-finite values in the rows used."""
    rows = cells[cells["year"].isin(years)]
    for column in columns:
        values = pd.to_numeric(rows[column], errors="coerce").to_numpy(float)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise rows_error(file, column, (rows.index[bad] + 1).tolist(), "missing or non-numeric values",
                             "a share for every cell of the years the veerkracht combinations compare")
    index = rows[list(columns)].astype(float).sum(axis=1) * rows["households"]
    frame = pd.DataFrame({"buurt_code": rows["buurt_code"], "year": rows["year"], "weighted": index,
                          "households": rows["households"]})
    sums = frame.groupby(["buurt_code", "year"], sort=True)[["weighted", "households"]].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        sums["vulnerable"] = sums["weighted"] / sums["households"]
    return sums[["vulnerable"]].reset_index()


def classify(vulnerable_change: np.ndarray, onv_relative: np.ndarray, onv_change: np.ndarray,
             settings: VeerkrachtSettings, class_width: float) -> pd.DataFrame:
    """The three factors, the combination and the map group for arrays of buurten. ``onv_relative`` is the onv
    score minus the national mean, ``onv_change`` its change (both in score points)."""
    band = settings.vulnerable_equal_band
    vulnerable = np.where(vulnerable_change < -band, 0, np.where(vulnerable_change > band, 2, 1))
    low, high = (c * class_width for c in settings.level_cuts_class_widths)
    level = np.where(onv_relative < low, 0, np.where(onv_relative < high, 1, 2))
    equal = settings.trend_equal_class_widths * class_width
    trend = np.where(onv_change > equal, 0, np.where(onv_change < -equal, 2, 1))
    group = np.select([vulnerable == 0, vulnerable == 1, trend == 1, trend == 0], [0, 1, 2, 3], default=4)
    out = pd.DataFrame({"vulnerable_development": np.array(VULNERABLE)[vulnerable],
                        "nuisance_level": np.array(NUISANCE_LEVEL)[level],
                        "nuisance_development": np.array(NUISANCE_TREND)[trend]})
    out["combination"] = out["vulnerable_development"] + " / " + out["nuisance_level"] + " / " + out["nuisance_development"]
    out["map_group"] = np.array(MAP_GROUPS)[group]
    return out


def veerkracht(cells: pd.DataFrame, buurten: pd.DataFrame, year: int, class_width: float,
               settings: VeerkrachtSettings, file: str) -> Veerkracht:
    """The combinations between ``year - years_back`` and ``year``.

    ``buurten`` holds the published rows of the protected buurt tables of every year (``buurt_code``, ``year``,
    ``households``, ``onv``). The national mean the level is measured against is their household-weighted mean
    in ``year``: like every threshold here it derives from published figures only."""
    year_from = year - settings.years_back
    missing = [c for c in settings.vulnerable_columns if c not in cells.columns]
    if missing:
        return Veerkracht(year_from, year, None, f"composition column(s) {', '.join(missing)} absent from {file}: the "
                          "share of vulnerable residents cannot be measured, so no veerkracht combinations")
    if year_from not in set(cells["year"].tolist()):
        return Veerkracht(year_from, year, None, f"{file} has no year {year_from} ({settings.years_back} years before "
                          f"{year}, veerkracht.years_back): no development to measure")
    vulnerable = vulnerable_index(cells, settings.vulnerable_columns, [year_from, year], file)
    wide = vulnerable.pivot(index="buurt_code", columns="year", values="vulnerable")
    first = buurten[buurten["year"] == year_from].set_index("buurt_code")
    last = buurten[buurten["year"] == year].set_index("buurt_code")
    both = last.index.intersection(first.index)                       # published in both years
    national = float(np.average(last["onv"], weights=last["households"]))     # from published buurten only
    factors = classify((wide.loc[both, year] - wide.loc[both, year_from]).to_numpy(),
                       (last.loc[both, "onv"] - national).to_numpy(), (last.loc[both, "onv"] - first.loc[both, "onv"]).to_numpy(),
                       settings, class_width)
    table = pd.DataFrame({"buurt_code": both, "households": last.loc[both, "households"].to_numpy()})
    table = pd.concat([table, factors], axis=1)
    return Veerkracht(year_from, year, table.sort_values("buurt_code").reset_index(drop=True))
