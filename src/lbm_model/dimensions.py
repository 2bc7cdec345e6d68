"""The five LBM 3.0 dimensions and the names of the input contract's columns."""

from __future__ import annotations

DIMENSIONS: dict[str, str] = {
    "fys": "Fysieke omgeving (physical environment)",
    "won": "Woningvoorraad (housing stock)",
    "vrz": "Voorzieningen (amenities)",
    "soc": "Sociale samenhang (social cohesion)",
    "onv": "Overlast en onveiligheid (nuisance and insecurity)",
}
DIMENSION_KEYS: tuple[str, ...] = tuple(DIMENSIONS)

CELL_ID_COLUMNS: tuple[str, ...] = ("cell_id", "buurt_code", "wijk_code", "gemeente_code")
CELL_COLUMNS: tuple[str, ...] = ("cell_id", "year", "x", "y", "buurt_code", "wijk_code", "gemeente_code", "households")
SURVEY_COLUMNS: tuple[str, ...] = ("respondent_id", "year", "cell_id", "response")
SURVEY_OPTIONAL_COLUMNS: tuple[str, ...] = ("weight",)
RESPONSE_LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)
TRANSFORMS: tuple[str, ...] = ("none", "log1p", "sqrt")
AREA_LEVELS: tuple[str, ...] = ("buurt", "wijk", "gemeente")
