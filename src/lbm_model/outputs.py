"""The published outputs under any frozen model (primer, section 3): households and shares per class
nationally and per gemeente group (G4, G40, rest), the onvoldoende buurten, the risers and fallers
(stijgers en dalers) among weak or insufficient buurten with the dimension that drove them, the
buurten structurally under pressure (size, severity, duration), the aandachtsbuurten typology and the
resilience (veerkracht) combinations (veerkracht.py; only where composition columns are present).

Settings (gemeente groups by CBS code, the criteria of every selection) live in
conf/published_outputs.yaml. Every table respects disclosure control: area rows come only from areas
that ``lbm score``'s protected tables publish, and a group below the minimum gets no figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from lbm_model.classes import CLASS_LABELS, N_CLASSES, assign_classes
from lbm_model.compare import develop_model
from lbm_model.errors import ConfigError, ContractError, describe_rows
from lbm_model.scoring import DEFAULT_MIN_HOUSEHOLDS, CompiledScorer, aggregate_all, area_figures, score_cells, select_years
from lbm_model.veerkracht import Veerkracht, VeerkrachtSettings, veerkracht

GROUPS: tuple[str, ...] = ("G4", "G40", "rest")
SETTINGS_FILE = "published_outputs.yaml"


@dataclass(frozen=True)
class AandachtSettings:
    """The aandachtsbuurten typology (conf: aandachtsbuurten): at best zwak (area class <= ``max_class``) in at
    least ``min_measurements`` measurements, at least ``min_onvoldoende_households`` households in parts scoring
    onvoldoende or lower, the onv dimension in the lowest ``insecurity_quantile`` of the country's buurten, and
    at least ``min_residents`` residents."""

    max_class: int = 4
    min_measurements: int = 3
    min_onvoldoende_households: float = 1.0
    insecurity_quantile: float = 0.2
    min_residents: float = 1000.0

    @classmethod
    def from_dict(cls, raw: dict, source: str) -> "AandachtSettings":
        settings = cls(int(raw["max_class"]), int(raw["min_measurements"]), float(raw["min_onvoldoende_households"]),
                       float(raw["insecurity_quantile"]), float(raw["min_residents"]))
        if not (1 <= settings.max_class <= N_CLASSES and settings.min_measurements >= 1
                and settings.min_onvoldoende_households > 0 and 0 < settings.insecurity_quantile < 1
                and settings.min_residents > 0):
            raise ConfigError(f"{source}: aandachtsbuurten = {raw}; expected max_class 1..{N_CLASSES}, "
                              "min_measurements >= 1, min_onvoldoende_households > 0, insecurity_quantile in (0, 1) "
                              "and min_residents > 0.")
        return settings


@dataclass(frozen=True)
class OutputSettings:
    """The criteria of conf/published_outputs.yaml."""

    groups: dict[str, str]                 # gemeente_code -> G4 or G40 (others are rest)
    onvoldoende_max_class: int = 3
    min_residents: float = 100.0
    persons_per_household: float = 2.13
    weak_max_class: int = 4
    min_change_class_widths: float = 0.5
    pressure_max_class: int = 4
    pressure_min_measurements: int = 3
    pressure_min_onvoldoende_share: float = 0.2
    pressure_min_households: float = 250.0
    groups_source: str = field(default=f"conf/{SETTINGS_FILE}")
    aandacht: AandachtSettings = field(default_factory=AandachtSettings)
    veerkracht: VeerkrachtSettings = field(default_factory=VeerkrachtSettings)

    @classmethod
    def from_dict(cls, raw: dict, source: str) -> "OutputSettings":
        try:
            groups = {str(code): group for group in ("G4", "G40") for code in raw["groups"][group]}
            onv, moves, pressure = raw["onvoldoende_buurt"], raw["risers_fallers"], raw["under_pressure"]
            settings = cls(groups, int(onv["max_class"]), float(onv["min_residents"]), float(onv["persons_per_household"]),
                           int(moves["weak_max_class"]), float(moves["min_change_class_widths"]),
                           int(pressure["max_class"]), int(pressure["min_measurements"]),
                           float(pressure["min_onvoldoende_share"]), float(pressure["min_households"]), source,
                           AandachtSettings.from_dict(raw["aandachtsbuurten"], source),
                           VeerkrachtSettings.from_dict(raw["veerkracht"], source))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: missing or malformed setting ({exc}); expected groups.G4, groups.G40, "
                              "onvoldoende_buurt.{max_class, min_residents, persons_per_household}, "
                              "risers_fallers.{weak_max_class, min_change_class_widths}, under_pressure.{max_class, "
                              "min_measurements, min_onvoldoende_share, min_households}, aandachtsbuurten.{max_class, "
                              "min_measurements, min_onvoldoende_households, insecurity_quantile, min_residents} and "
                              "veerkracht.{vulnerable_columns, years_back, vulnerable_equal_band, "
                              "level_cuts_class_widths, trend_equal_class_widths}.") from None
        settings.validate(source)
        return settings

    def validate(self, source: str) -> None:
        for name, value in (("max_class", self.onvoldoende_max_class), ("weak_max_class", self.weak_max_class),
                            ("under_pressure.max_class", self.pressure_max_class)):
            if not 1 <= value <= N_CLASSES:
                raise ConfigError(f"{source}: {name} = {value}; expected a class 1..{N_CLASSES}.")
        for name, value in (("min_residents", self.min_residents), ("persons_per_household", self.persons_per_household),
                            ("min_change_class_widths", self.min_change_class_widths),
                            ("under_pressure.min_measurements", self.pressure_min_measurements),
                            ("under_pressure.min_onvoldoende_share", self.pressure_min_onvoldoende_share),
                            ("under_pressure.min_households", self.pressure_min_households)):
            if not value > 0:
                raise ConfigError(f"{source}: {name} = {value}; expected a positive number.")

    def with_groups(self, groups: dict[str, str], source: str) -> "OutputSettings":
        return replace(self, groups=groups, groups_source=source)


def default_settings() -> OutputSettings:
    """conf/published_outputs.yaml as shipped with the package."""
    text = files("lbm_model.conf").joinpath(SETTINGS_FILE).read_text(encoding="utf-8")
    return OutputSettings.from_dict(yaml.safe_load(text), f"conf/{SETTINGS_FILE}")


def settings_for(cells: Path, groups: Path | None = None) -> OutputSettings:
    """conf's settings, with the gemeente groups of ``groups`` or else of the municipality_groups.csv beside the
    cells (a synthetic world's own groups) when there is one."""
    settings = default_settings()
    beside = Path(cells).parent / "municipality_groups.csv"
    source = groups if groups is not None else (beside if beside.is_file() else None)
    return settings if source is None else settings.with_groups(read_groups(source), str(source))


def read_groups(path: str | Path) -> dict[str, str]:
    """A municipality_groups.csv (columns gemeente_code, group; group G4, G40 or rest) as code -> group."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ContractError(f"{path}: cannot read the gemeente groups ({exc}); expected a CSV with columns "
                            "gemeente_code and group.") from None
    missing = [c for c in ("gemeente_code", "group") if c not in table.columns]
    if missing:
        raise ContractError(f"{path}: missing column(s) {', '.join(missing)}; expected gemeente_code and group.")
    bad = np.flatnonzero(~table["group"].isin(GROUPS).to_numpy()) + 1
    if len(bad):
        values = ", ".join(sorted(set(table["group"].iloc[bad - 1].map(repr))))
        raise ContractError(f"{path}: column 'group': values {values} in {describe_rows(bad)}; expected one of "
                            f"{', '.join(GROUPS)}.")
    twice = np.flatnonzero(table["gemeente_code"].duplicated(keep=False).to_numpy()) + 1
    if len(twice):
        raise ContractError(f"{path}: column 'gemeente_code': duplicated codes in {describe_rows(twice)}; expected each "
                            "gemeente once.")
    return dict(zip(table["gemeente_code"], table["group"]))


def group_classes(scored: pd.DataFrame, groups: dict[str, str], min_households: int) -> pd.DataFrame:
    """Households and shares per class, nationally and per group; a group below ``min_households`` (or that
    would give such a group away as national minus the others) gets no figures."""
    group = scored["gemeente_code"].astype(str).map(groups).fillna("rest").to_numpy()
    rows, totals = [], {}
    for name, mask in [("national", np.ones(len(scored), bool)), *((g, group == g) for g in GROUPS)]:
        counts = np.bincount(scored["class"].to_numpy()[mask] - 1, weights=scored["households"].to_numpy(float)[mask],
                             minlength=N_CLASSES)
        totals[name] = counts.sum()
        for c in range(N_CLASSES):
            rows.append({"group": name, "class": c + 1, "label": CLASS_LABELS[c], "households": counts[c],
                         "share": counts[c] / counts.sum() if counts.sum() > 0 else np.nan})
    table = pd.DataFrame(rows)
    hidden = {g for g in GROUPS if 0 < totals[g] < min_households}
    if len(hidden) == 1:          # national minus the two published groups would give it away
        shown = [g for g in GROUPS if g not in hidden and totals[g] > 0]
        if shown:
            hidden.add(min(shown, key=lambda g: totals[g]))
    table["suppressed"] = table["group"].isin(hidden)
    table.loc[table["suppressed"], ["households", "share"]] = np.nan
    return table


def onvoldoende_buurten(scored: pd.DataFrame, published_buurten: pd.DataFrame, settings: OutputSettings) -> tuple[pd.DataFrame, int]:
    """Buurten where at least ``min_residents`` residents live in cells of class <= ``max_class``: the published
    ones (listed), and the count of all of them (a national count discloses no area)."""
    figures = area_figures(scored, "buurt")
    low = figures[[f"households_class_{c}" for c in range(1, settings.onvoldoende_max_class + 1)]].sum(axis=1)
    figures["households_onvoldoende"] = low
    figures["residents_onvoldoende"] = low * settings.persons_per_household
    chosen = figures[figures["residents_onvoldoende"] >= settings.min_residents]
    shown = published_buurten.loc[~published_buurten["suppressed"], ["buurt_code", "score"]]
    listed = chosen[["buurt_code", "households", "households_onvoldoende", "residents_onvoldoende"]].merge(
        shown, on="buurt_code", validate="one_to_one")
    return listed.sort_values("buurt_code").reset_index(drop=True), int(len(chosen))


def risers_and_fallers(document: dict, cells: pd.DataFrame, year_from: int, year_to: int, settings: OutputSettings, *,
                       file: str, min_households: int) -> pd.DataFrame:
    """Published buurten (in both years) scoring zwak or lower in either year whose score moved by at least
    ``min_change_class_widths`` class widths, with the driving dimension (lbm develop's split)."""
    buurten = develop_model(document, cells, year_from, year_to, file=file, min_households=min_households).areas["buurt"]
    width = float(np.diff(document["content"]["classes"]["thresholds"]).mean())
    weak = (buurten["class_from"] <= settings.weak_max_class) | (buurten["class_to"] <= settings.weak_max_class)
    moved = buurten[weak & (buurten["change"].abs() >= settings.min_change_class_widths * width)].copy()
    moved.insert(1, "direction", np.where(moved["change"] > 0, "riser", "faller"))
    return moved.sort_values(["change", "buurt_code"], kind="mergesort").reset_index(drop=True)


@dataclass(frozen=True, eq=False)
class BuurtSeries:
    """Every year up to the published one scored with one model: the scored cells and the published rows of each
    year's protected buurt tables, with their area class."""

    scored: pd.DataFrame
    buurten: pd.DataFrame
    thresholds: np.ndarray

    @property
    def class_width(self) -> float:
        return float(np.diff(self.thresholds).mean())

    def low_measurements(self, max_class: int) -> pd.Series:
        """Per buurt, in how many years it is published with an area class <= ``max_class``."""
        low = self.buurten["class"] <= max_class
        return low.groupby(self.buurten["buurt_code"]).sum().rename("measurements_low")

    def parents(self) -> pd.DataFrame:
        return self.scored[["buurt_code", "wijk_code", "gemeente_code"]].drop_duplicates("buurt_code").set_index("buurt_code")


def buurt_series(document: dict, cells: pd.DataFrame, year: int, *, file: str, min_households: int) -> BuurtSeries:
    """Score every year of ``cells`` up to ``year`` with the frozen model and protect each year's buurt table."""
    scorer = CompiledScorer.from_document(document)
    years = sorted(y for y in cells["year"].unique().tolist() if y <= year)
    scored = score_cells(scorer, select_years(cells, years, file), file)
    tables = [aggregate_all(part, min_households=min_households)["buurt"] for _, part in scored.groupby("year")]
    buurten = pd.concat(tables, ignore_index=True).loc[lambda t: ~t["suppressed"]].copy()
    buurten["class"] = assign_classes(buurten["score"].to_numpy(), scorer.thresholds)
    return BuurtSeries(scored, buurten, np.asarray(scorer.thresholds))


def under_pressure(series: BuurtSeries, year: int, settings: OutputSettings) -> pd.DataFrame:
    """Published buurten structurally under pressure in ``year``: zwak or lower (area class) in at least
    ``min_measurements`` of the years up to ``year`` in which they are published (duration), at least
    ``min_onvoldoende_share`` of households in parts scoring onvoldoende or lower in ``year`` (severity), and
    at least ``min_households`` households in ``year`` (size). Every year is scored with the same model."""
    buurten = series.buurten
    latest = buurten[buurten["year"] == year].set_index("buurt_code")
    onv = latest[[f"households_class_{c}" for c in range(1, settings.onvoldoende_max_class + 1)]].sum(axis=1)
    out = pd.DataFrame({"households": latest["households"], "score": latest["score"], "class": latest["class"],
                        "share_onvoldoende": onv / latest["households"]}).join(series.low_measurements(settings.pressure_max_class))
    out = out.join(series.parents()).rename_axis("buurt_code").reset_index()
    chosen = ((out["measurements_low"] >= settings.pressure_min_measurements)
              & (out["share_onvoldoende"] >= settings.pressure_min_onvoldoende_share)
              & (out["households"] >= settings.pressure_min_households))
    return out[chosen].sort_values("buurt_code").reset_index(drop=True)


def aandachtsbuurten(series: BuurtSeries, year: int, settings: OutputSettings) -> pd.DataFrame:
    """Published buurten of the aandachtsbuurten typology in ``year`` (primer, section 3; seeds: Kamerbrief
    annex on Leefbaarheid in Nederland 2018, type 2): at best zwak in at least ``min_measurements`` measurements,
    onvoldoende parts, insecurity (the onv dimension) among the lowest ``insecurity_quantile`` of the country's
    published buurten in ``year``, at least ``min_residents``
    residents (households x persons_per_household).

    The national cut-off is a quantile of the *published* buurten's onv scores: a quantile over all buurten would
    be a figure derived from suppressed ones (it interpolates between two buurten's values), so it could give a
    hidden buurt's score away."""
    a = settings.aandacht
    latest = series.buurten[series.buurten["year"] == year].set_index("buurt_code")
    cutoff = float(np.quantile(latest["onv"], a.insecurity_quantile))
    onvoldoende = latest[[f"households_class_{c}" for c in range(1, settings.onvoldoende_max_class + 1)]].sum(axis=1)
    out = pd.DataFrame({"households": latest["households"], "residents": latest["households"] * settings.persons_per_household,
                        "score": latest["score"], "class": latest["class"], "onv": latest["onv"],
                        "households_onvoldoende": onvoldoende}).join(series.low_measurements(a.max_class))
    out = out.join(series.parents()).rename_axis("buurt_code").reset_index()
    chosen = ((out["measurements_low"] >= a.min_measurements) & (out["households_onvoldoende"] >= a.min_onvoldoende_households)
              & (out["onv"] <= cutoff) & (out["residents"] >= a.min_residents))
    return out[chosen].assign(onv_cutoff=cutoff).sort_values("buurt_code").reset_index(drop=True)


@dataclass(frozen=True, eq=False)
class PublishedOutputs:
    """What ``lbm outputs`` publishes for one model and year."""

    model_version: str
    year: int
    year_from: int | None
    settings: OutputSettings
    groups: pd.DataFrame
    onvoldoende: pd.DataFrame
    n_onvoldoende: int
    movers: pd.DataFrame | None
    pressure: pd.DataFrame
    aandacht: pd.DataFrame
    veerkracht: Veerkracht
    positions: pd.DataFrame | None = None      # cells of the year: x, y, buurt_code, households (for maps only)
    published_buurten: frozenset[str] = frozenset()
    min_households: int = DEFAULT_MIN_HOUSEHOLDS

    def summary(self) -> dict:
        shares = {}
        for name, part in self.groups.groupby("group", sort=False):
            shares[name] = None if part["suppressed"].any() else {
                "households": float(part["households"].sum()),
                "onvoldoende_or_lower": float(part["share"].iloc[:3].sum()),
                "zwak_or_lower": float(part["share"].iloc[:4].sum()),
                "goed_or_better": float(part["share"].iloc[6:].sum()),
                "zeer_goed_or_better": float(part["share"].iloc[7:].sum())}
        s = self.settings
        out = {"model": self.model_version, "year": self.year, "groups_source": s.groups_source, "groups": shares,
               "onvoldoende_buurten": {"count": self.n_onvoldoende, "listed": int(len(self.onvoldoende)),
                                       "withheld_by_suppression": self.n_onvoldoende - int(len(self.onvoldoende)),
                                       "max_class": s.onvoldoende_max_class, "min_residents": s.min_residents,
                                       "persons_per_household": s.persons_per_household}}
        p = self.pressure
        out["under_pressure"] = {"buurten": int(len(p)), "wijken": int(p["wijk_code"].nunique()),
                                 "gemeenten": int(p["gemeente_code"].nunique()), "households": float(p["households"].sum()),
                                 "max_class": s.pressure_max_class, "min_measurements": s.pressure_min_measurements,
                                 "min_onvoldoende_share": s.pressure_min_onvoldoende_share,
                                 "min_households": s.pressure_min_households}
        a = s.aandacht
        out["aandachtsbuurten"] = {"buurten": int(len(self.aandacht)), "gemeenten": int(self.aandacht["gemeente_code"].nunique()),
                                   "households": float(self.aandacht["households"].sum()), "max_class": a.max_class,
                                   "min_measurements": a.min_measurements,
                                   "min_onvoldoende_households": a.min_onvoldoende_households,
                                   "insecurity_quantile": a.insecurity_quantile, "min_residents": a.min_residents}
        out["veerkracht"] = self.veerkracht.summary(s.veerkracht)
        if self.movers is not None:
            counts = self.movers["direction"].value_counts()
            out["risers_fallers"] = {"year_from": self.year_from, "year_to": self.year,
                                     "weak_max_class": s.weak_max_class,
                                     "min_change_class_widths": s.min_change_class_widths,
                                     "risers": int(counts.get("riser", 0)), "fallers": int(counts.get("faller", 0)),
                                     "driving_dimension_counts": {k: int(v) for k, v in
                                                                  self.movers["driving_dimension"].value_counts().items()}}
        return out


def published_outputs(document: dict, cells: pd.DataFrame, year: int, settings: OutputSettings, *,
                      year_from: int | None = None, file: str = "cells",
                      min_households: int = DEFAULT_MIN_HOUSEHOLDS) -> PublishedOutputs:
    """Score ``year`` with the frozen model and derive the published outputs; with ``year_from`` also the
    risers and fallers between ``year_from`` and ``year``."""
    if year_from is not None and year_from >= year:
        raise ConfigError(f"--from {year_from} --year {year}: expected an earlier year for the risers and fallers.")
    series = buurt_series(document, cells, year, file=file, min_households=min_households)
    scored = series.scored[series.scored["year"] == year]
    buurt_table = aggregate_all(scored, min_households=min_households)["buurt"]
    listed, count = onvoldoende_buurten(scored, buurt_table, settings)
    movers = None if year_from is None else risers_and_fallers(document, cells, year_from, year, settings, file=file,
                                                               min_households=min_households)
    resilience = veerkracht(cells, series.buurten, year, series.class_width, settings.veerkracht, file)
    return PublishedOutputs(document["content"]["model_version"], int(year), year_from, settings,
                            group_classes(scored, settings.groups, min_households), listed, count, movers,
                            under_pressure(series, year, settings), aandachtsbuurten(series, year, settings), resilience,
                            _positions(cells, year), frozenset(buurt_table.loc[~buurt_table["suppressed"], "buurt_code"].astype(str)),
                            min_households)


def _positions(cells: pd.DataFrame, year: int) -> pd.DataFrame:
    """Where the cells of ``year`` lie, for the maps (no figure of a cell is kept)."""
    rows = cells[cells["year"] == year]
    return pd.DataFrame({"x": rows["x"].to_numpy(float), "y": rows["y"].to_numpy(float),
                         "buurt_code": rows["buurt_code"].astype(str).to_numpy(), "households": rows["households"].to_numpy()})


SELECTIONS: tuple[str, ...] = ("onvoldoende_buurt", "under_pressure", "aandachtsbuurt", "weinig_veerkracht")


def _selection(outputs: PublishedOutputs, name: str) -> set[str]:
    if name == "weinig_veerkracht":
        table = outputs.veerkracht.buurten
        frame = table[table["map_group"] == "weinig veerkracht"] if table is not None else pd.DataFrame(columns=["buurt_code"])
    else:
        frame = {"onvoldoende_buurt": outputs.onvoldoende, "under_pressure": outputs.pressure,
                 "aandachtsbuurt": outputs.aandacht}[name]
    return set(frame["buurt_code"].astype(str))


def selection_changes(old: PublishedOutputs, new: PublishedOutputs) -> pd.DataFrame:
    """Per selection, every published buurt selected under either model: whether it stays, enters or leaves."""
    rows = []
    for name in SELECTIONS:
        before, after = _selection(old, name), _selection(new, name)
        for code in sorted(before | after):
            status = "stays" if code in before and code in after else ("enters" if code in after else "leaves")
            rows.append({"selection": name, "buurt_code": code, "status": status})
    return pd.DataFrame(rows, columns=["selection", "buurt_code", "status"])


def group_changes(old: PublishedOutputs, new: PublishedOutputs) -> pd.DataFrame:
    """Households and shares per class and group under both models (suppressed groups stay empty)."""
    keys = ["group", "class", "label"]
    return old.groups[[*keys, "households", "share"]].merge(new.groups[[*keys, "households", "share"]], on=keys,
                                                            suffixes=("_old", "_new"), validate="one_to_one")


def stability(old: PublishedOutputs, new: PublishedOutputs) -> dict:
    """Per selection: how many buurten under each model, and how many enter, leave and stay."""
    out = {}
    for name in SELECTIONS:
        before, after = _selection(old, name), _selection(new, name)
        out[name] = {"old": len(before), "new": len(after), "enters": len(after - before),
                     "leaves": len(before - after), "stays": len(before & after)}
    return out
