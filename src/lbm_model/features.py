"""From validated tables to the estimation design: transforms, standardisation, joins, controls."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lbm_model.catalog import Indicator
from lbm_model.dimensions import AREA_LEVELS
from lbm_model.transforms import Standardisation, fit_standardisation, transform_values


def fit_standardisations(cells: pd.DataFrame, indicators: tuple[Indicator, ...] | list[Indicator]) -> dict[str, Standardisation]:
    """Standardisation constants of each transformed indicator over all cell-year rows."""
    return {ind.name: _fitted_constants(ind, transform_values(cells[ind.name].to_numpy(), ind.transform))
            for ind in indicators}


def _fitted_constants(ind: Indicator, transformed: np.ndarray) -> Standardisation:
    try:
        return fit_standardisation(transformed)
    except ValueError as exc:
        from lbm_model.errors import ContractError

        raise ContractError(f"cells: column '{ind.name}': {exc}; expected an indicator that varies across cells.") from None


def standardised_indicators(cells: pd.DataFrame, indicators: tuple[Indicator, ...] | list[Indicator],
                            constants: dict[str, Standardisation]) -> pd.DataFrame:
    """Transformed and standardised indicator values, one column per indicator, cells' index.

    The frame holds one column-major float64 block, so ``.to_numpy()`` is a view (no copy of the
    cells x indicators matrix) and each column is contiguous."""
    return standardise(cells, indicators, constants)[1]


def standardise(cells: pd.DataFrame, indicators: tuple[Indicator, ...] | list[Indicator],
                constants: dict[str, Standardisation] | None = None) -> tuple[dict[str, Standardisation], pd.DataFrame]:
    """(constants, standardised values) in one pass over the columns, each transformed once; the constants
    are fitted over all cell-year rows unless given. The values as in :func:`standardised_indicators`."""
    values = np.empty((len(cells), len(indicators)), order="F")
    fitted = {}
    for j, ind in enumerate(indicators):
        transformed = transform_values(cells[ind.name].to_numpy(), ind.transform)
        fitted[ind.name] = constants[ind.name] if constants is not None else _fitted_constants(ind, transformed)
        values[:, j] = fitted[ind.name].apply(transformed)
    return fitted, pd.DataFrame(values, index=cells.index, columns=[ind.name for ind in indicators], copy=False)


def training_ranges(cells: pd.DataFrame, indicators: tuple[Indicator, ...] | list[Indicator]) -> dict[str, tuple[float, float]]:
    """Raw minimum and maximum of each indicator in the training cells."""
    return {ind.name: (float(cells[ind.name].min()), float(cells[ind.name].max())) for ind in indicators}


def locate_respondents(survey: pd.DataFrame, cells: pd.DataFrame) -> np.ndarray:
    """Row position in ``cells`` of each respondent's (cell_id, year)."""
    position = pd.Series(np.arange(len(cells)), index=pd.MultiIndex.from_frame(cells[["cell_id", "year"]]))
    return position.loc[pd.MultiIndex.from_frame(survey[["cell_id", "year"]])].to_numpy()


def control_design(survey: pd.DataFrame, controls: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """Respondent controls for estimation: numeric as they are, categorical dummy-coded.

    The reference level of a categorical control is its alphabetically first level, so the
    coding does not depend on row order.
    """
    parts = []
    for control in controls:
        column = survey[control]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            parts.append(column.astype(float).rename(control).reset_index(drop=True))
            continue
        levels = sorted(column.astype(str).unique())
        codes = column.astype(str).to_numpy()
        for level in levels[1:]:
            parts.append(pd.Series((codes == level).astype(float), name=f"{control}[{level}]"))
    if not parts:
        return pd.DataFrame(index=range(len(survey)))
    return pd.concat(parts, axis=1)


@dataclass(frozen=True)
class EstimationData:
    """Everything an estimator needs, one row per respondent (per sold dwelling for the behaviour model,
    whose response is log price: :func:`transaction_data`).

    ``areas`` (buurt, wijk and gemeente code per respondent) and ``spatial_weights`` are
    optional slots for families that model the area hierarchy or space (multilevel,
    spatial econometric); the least-squares and ordinal families use ``cluster`` only.
    """

    indicators: pd.DataFrame       # standardised indicators at the respondent's cell
    controls: pd.DataFrame         # respondent controls (and optional adjustment columns)
    response: np.ndarray           # 1..5
    weight: np.ndarray             # survey weights
    cluster: np.ndarray            # buurt code per respondent, for clustered standard errors
    cell_position: np.ndarray      # row in the cells table
    areas: pd.DataFrame | None = None      # buurt_code, wijk_code, gemeente_code and the cell's x, y per respondent
    spatial_weights: object | None = None  # e.g. a libpysal Graph between respondents' areas

    def subset(self, rows: np.ndarray, cluster: np.ndarray | None = None) -> "EstimationData":
        """The respondents at positions ``rows`` (repeats allowed, as in a bootstrap draw).

        Controls that are constant in the subset are dropped (they are not identified
        there); ``cluster`` replaces the cluster ids (a bootstrap's draw positions).
        """
        controls = self.controls.iloc[rows].reset_index(drop=True)
        controls = controls.loc[:, controls.std(ddof=0) > 0]
        return EstimationData(
            indicators=self.indicators.iloc[rows].reset_index(drop=True), controls=controls,
            response=self.response[rows], weight=self.weight[rows],
            cluster=self.cluster[rows] if cluster is None else cluster, cell_position=self.cell_position[rows],
            areas=None if self.areas is None else self.areas.iloc[rows].reset_index(drop=True), spatial_weights=None)


def estimation_data(survey: pd.DataFrame, cells: pd.DataFrame, standardised: pd.DataFrame,
                    controls: tuple[str, ...] | list[str], adjust: pd.DataFrame | None = None) -> EstimationData:
    """Join respondents to their cells' standardised indicators and build the controls.

    ``adjust`` holds extra cell-level columns (for example composition columns in a proxy
    audit) that enter the estimation as controls but never the score.
    """
    position = locate_respondents(survey, cells)
    control_frame = control_design(survey, controls)
    if adjust is not None:
        control_frame = pd.concat([control_frame, adjust.iloc[position].reset_index(drop=True)], axis=1)
    weight = survey["weight"].to_numpy(float) if "weight" in survey.columns else np.ones(len(survey))
    areas = cells[[f"{level}_code" for level in AREA_LEVELS] + ["x", "y"]].iloc[position].reset_index(drop=True)
    return EstimationData(
        indicators=standardised.iloc[position].reset_index(drop=True),
        controls=control_frame,
        response=survey["response"].to_numpy(np.int64),
        weight=weight,
        cluster=areas["buurt_code"].to_numpy(),
        cell_position=position,
        areas=areas,
    )


def transaction_data(transactions: pd.DataFrame, cells: pd.DataFrame, standardised: pd.DataFrame,
                     price_controls: tuple[str, ...] | list[str]) -> EstimationData:
    """The behaviour model's design, one row per sold dwelling: standardised indicators at its cell,
    dwelling controls and year dummies (year fixed effects, first year the reference) as controls,
    log price as the response, equal weights, buurt clusters. Transaction ids are not carried."""
    position = locate_respondents(transactions, cells)
    with_year = transactions.assign(year=transactions["year"].astype(str))
    areas = cells[[f"{level}_code" for level in AREA_LEVELS] + ["x", "y"]].iloc[position].reset_index(drop=True)
    return EstimationData(
        indicators=standardised.iloc[position].reset_index(drop=True),
        controls=control_design(with_year, [*price_controls, "year"]),
        response=np.log(transactions["price"].to_numpy(float)),
        weight=np.ones(len(transactions)),
        cluster=areas["buurt_code"].to_numpy(),
        cell_position=position,
        areas=areas,
    )
